package bot

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/slack-go/slack"
	"github.com/stretchr/testify/require"

	"github.com/waleave/waleave/store"
)

func TestStatus_OwnRecentAndEveryonesPending(t *testing.T) {
	ctx := context.Background()
	tb := newTestBot(t, Options{AllowedUsers: []string{"U0REQ1", "U0CNF2"}})
	mine := tb.pending(t, nil)
	_, err := tb.db.Requests().Cancel(ctx, mine.ID, "U0REQ1", tb.clock.Now())
	require.NoError(t, err)
	theirs := tb.pending(t, func(r *store.Request) { r.RequesterID = "U0CNF2" })
	done := tb.pending(t, func(r *store.Request) { r.RequesterID = "U0CNF2" })
	_, err = tb.db.Requests().Cancel(ctx, done.ID, "U0CNF2", tb.clock.Now())
	require.NoError(t, err)

	msg := tb.Command(ctx, slack.SlashCommand{TeamID: "T1", UserID: "U0REQ1", ChannelID: "C1", Text: "status"})
	require.Equal(t, slack.ResponseTypeEphemeral, msg.ResponseType)
	require.Contains(t, msg.Text, mine.ID, "the caller's own request")
	require.Contains(t, msg.Text, theirs.ID, "someone else's pending request")
	require.NotContains(t, msg.Text, done.ID, "someone else's finished request")
}

func TestStatus_OneRequestShowsItsHistory(t *testing.T) {
	ctx := context.Background()
	tb := newTestBot(t, Options{})
	r := tb.pending(t, nil)
	tb.clock.Add(time.Minute)
	err := tb.confirm(ctx, r.ID, "U0CNF2", tb.clock.Now())
	require.NoError(t, err)

	msg := tb.Command(ctx, slack.SlashCommand{TeamID: "T1", UserID: "U0REQ1", ChannelID: "C1", Text: "status " + r.ID})
	require.Contains(t, msg.Text, "History")
	require.Contains(t, msg.Text, "requested by <@U0REQ1>")
	require.Contains(t, msg.Text, "confirmed by <@U0CNF2>")
	require.Less(t, strings.Index(msg.Text, "requested by"), strings.Index(msg.Text, "confirmed by"), "oldest first")
}
