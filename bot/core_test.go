package bot

import (
	"context"
	"testing"
	"time"

	"github.com/slack-go/slack"
	"github.com/stretchr/testify/require"

	"github.com/waleave/waleave/store"
)

// holdWrites keeps SQLite's write lock, as a long write by another
// process would, until the returned function is called.
func holdWrites(t *testing.T, tb *testBot) (release func()) {
	t.Helper()
	ctx := context.Background()
	conn, err := tb.db.JobPool().Conn(ctx)
	require.NoError(t, err)
	_, err = conn.ExecContext(ctx, "BEGIN IMMEDIATE")
	require.NoError(t, err)
	return func() {
		_, err := conn.ExecContext(ctx, "COMMIT")
		require.NoError(t, err)
		require.NoError(t, conn.Close())
	}
}

// A command whose write is still queued when Slack's time runs out is
// not told to try again: the request may be (and here is) recorded.
func TestCommand_SlowWriteIsNotReportedAsFailed(t *testing.T) {
	tb := newTestBot(t, Options{})
	release := holdWrites(t, tb)
	ctx, cancel := context.WithTimeout(context.Background(), 300*time.Millisecond)
	msg := tb.Command(ctx, slack.SlashCommand{Text: "120363406289005073@g.us --no-goodbye", UserID: "U0REQ1", ChannelID: "C1"})
	cancel()
	release()
	require.Contains(t, msg.Text, "may still be recorded")
	require.NotContains(t, msg.Text, "try again")
	require.Eventually(t, func() bool {
		reqs, err := tb.db.ListRequests(context.Background(), store.Filter{})
		return err == nil && len(reqs) == 1
	}, 5*time.Second, 20*time.Millisecond, "the request is recorded after all")
}

// Likewise a click: the confirmation may still go through, and does.
func TestConfirm_SlowWriteIsNotReportedAsFailed(t *testing.T) {
	tb := newTestBot(t, Options{})
	r := tb.pending(t, nil)
	release := holdWrites(t, tb)
	ctx, cancel := context.WithTimeout(context.Background(), 300*time.Millisecond)
	tb.Interaction(ctx, click("U0CNF2", "C1", "leave_confirm", r.ID))
	cancel()
	release()
	tb.side.Wait()
	eph := tb.slack.of("chat.postEphemeral")
	require.Len(t, eph, 1)
	require.Contains(t, eph[0].form.Get("text"), "may still go through")
	require.Eventually(t, func() bool {
		got, err := tb.db.Request(context.Background(), r.ID)
		return err == nil && got.State == store.Confirmed
	}, 5*time.Second, 20*time.Millisecond, "the confirmation commits after all")
}
