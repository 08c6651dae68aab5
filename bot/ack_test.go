package bot

import (
	"context"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/slack-go/slack"
	"github.com/stretchr/testify/require"

	"github.com/waleave/waleave/leave"
	"github.com/waleave/waleave/store"
	"github.com/waleave/waleave/templates"
)

// holdWrites keeps SQLite's write lock, as a long write by another
// process would, until the returned function is called.
func holdWrites(t *testing.T, tb *testBot) (release func()) {
	t.Helper()
	ctx := context.Background()
	conn, err := tb.db.Jobs().JobPool().Conn(ctx)
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
	msg := tb.Command(ctx, slack.SlashCommand{TeamID: "T1", Text: "120363406289005073@g.us --no-goodbye", UserID: "U0REQ1", ChannelID: "C1"})
	cancel()
	release()
	require.Contains(t, msg.Text, "may still be recorded")
	require.NotContains(t, msg.Text, "try again")
	require.Eventually(t, func() bool {
		reqs, err := tb.db.Requests().ListRequests(context.Background(), store.Filter{})
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
	tb.background.Wait()
	eph := tb.slack.Answered("chat.postEphemeral")
	require.Len(t, eph, 1)
	require.Contains(t, eph[0].Form.Get("text"), "may still go through")
	require.Eventually(t, func() bool {
		got, err := tb.db.Requests().Request(context.Background(), r.ID)
		return err == nil && got.State == leave.Confirmed
	}, 5*time.Second, 20*time.Millisecond, "the confirmation commits after all")
}

// A click acknowledges within Slack's time whatever its caller's context
// allows: here the caller (the HTTP handler) sets no deadline, and the
// database stays locked until the click has returned.
func TestConfirm_WaitsNoLongerThanTheAckBudget(t *testing.T) {
	tb := newTestBot(t, Options{})
	r := tb.pending(t, nil)
	release := holdWrites(t, tb)
	done := make(chan struct{})
	go func() {
		tb.Interaction(context.Background(), click("U0CNF2", "C1", "leave_confirm", r.ID))
		close(done)
	}()
	select {
	case <-done:
	case <-time.After(8 * time.Second): // the store's own batch timeout is 10 s
		release()
		t.Fatal("the click waited for the database without a deadline")
	}
	release()
	tb.background.Wait()
	eph := tb.slack.Answered("chat.postEphemeral")
	require.Len(t, eph, 1)
	require.Contains(t, eph[0].Form.Get("text"), "may still go through")
}

// When Slack cannot say the requester's time zone in time, an --at time
// without a zone is read as UTC, and the acknowledgement says so.
func TestCommand_ScheduledTimeReadAsUTCIsSaid(t *testing.T) {
	for _, c := range []struct {
		name, at  string
		lookupErr string
		want      time.Time
		warned    bool
	}{
		{"zone known", "2026-12-01T09:00", "", time.Date(2026, 12, 1, 8, 0, 0, 0, time.UTC), false},
		{"zone unknown", "2026-12-01T09:00", "ratelimited", time.Date(2026, 12, 1, 9, 0, 0, 0, time.UTC), true},
		{"zone unknown, offset given", "2026-12-01T09:00+01:00", "ratelimited", time.Date(2026, 12, 1, 8, 0, 0, 0, time.UTC), false},
	} {
		t.Run(c.name, func(t *testing.T) {
			tb := newTestBot(t, Options{})
			if c.lookupErr != "" {
				tb.slack.FailWith(refuse("users.info", c.lookupErr))
			}
			msg := tb.command("120363406289005073@g.us --no-goodbye --at " + c.at)
			require.Contains(t, msg.Text, "recorded")
			require.Equal(t, c.warned, strings.Contains(msg.Text, "read as UTC"), msg.Text)
			r := tb.requests(t)[0]
			require.True(t, c.want.Equal(r.RunAt), "runs at %s, want %s", r.RunAt, c.want)
		})
	}
}

// A refusal reaches the clicker even where chat.postEphemeral is refused
// (a public channel the bot has not joined): through the click's
// response_url, as a new ephemeral message.
func TestRefusal_FallsBackToTheResponseURL(t *testing.T) {
	tb := newTestBot(t, Options{})
	r := tb.pending(t, nil)
	got := make(chan map[string]any, 1)
	hook := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, req *http.Request) {
		var m map[string]any
		_ = json.NewDecoder(req.Body).Decode(&m)
		got <- m
	}))
	defer hook.Close()
	tb.slack.FailWith(refuse("chat.postEphemeral", "channel_not_found"))

	ic := click("U0OTHER9", "C1", "leave_confirm", r.ID) // not allowed to confirm
	ic.ResponseURL = hook.URL + "/actions/T1/1/x"
	tb.Interaction(context.Background(), ic)
	tb.background.Wait()
	require.Equal(t, 1, tb.slack.Refusals("chat.postEphemeral"))
	select {
	case m := <-got:
		require.Equal(t, "ephemeral", m["response_type"])
		require.Equal(t, false, m["replace_original"], "the card stays")
		require.Equal(t, templates.NotAllowed(), m["text"])
	default:
		t.Fatal("nothing posted to the response_url")
	}
}
