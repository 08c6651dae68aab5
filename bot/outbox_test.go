package bot

import (
	"bytes"
	"context"
	"fmt"
	"log/slog"
	"net/url"
	"testing"
	"time"

	"github.com/slack-go/slack"
	"github.com/stretchr/testify/require"

	"github.com/waleave/waleave/leave"
	"github.com/waleave/waleave/store"
	"github.com/waleave/waleave/templates"
)

// refuse answers every call of method with code.
func refuse(method, code string) func(string, url.Values) string {
	return func(m string, _ url.Values) string {
		if m == method {
			return code
		}
		return ""
	}
}

// owedAt reports whether the outbox would pick request id up at t.
func (tb *testBot) owedAt(t *testing.T, id string, at time.Time) bool {
	t.Helper()
	rows, err := tb.db.Outbox().Owed(context.Background(), at, 500)
	require.NoError(t, err)
	for _, r := range rows {
		if r.ID == id {
			return true
		}
	}
	return false
}

func TestSlackTroubleOf(t *testing.T) {
	for code, want := range map[string]slackTrouble{
		"fatal_error": slackDown, "internal_error": slackDown, "service_unavailable": slackDown, "request_timeout": slackDown,
		"invalid_auth": slackAppBroken, "token_revoked": slackAppBroken, "account_inactive": slackAppBroken, "missing_scope": slackAppBroken,
		"not_in_channel": slackRefused, "is_archived": slackRefused, "message_not_found": slackRefused,
		"msg_blocks_too_long": slackRefused, "invalid_blocks_format": slackRefused, "edit_window_closed": slackRefused,
	} {
		require.Equal(t, want, slackTroubleOf(slackErr(code)), code)
	}
	require.Equal(t, slackDown, slackTroubleOf(context.DeadlineExceeded), "a timeout")
}

// While Slack refuses the app's token, no message is given up: the card
// stays owed, retried less and less often, and goes out once the token
// works again.
func TestOutbox_RefusedTokenKeepsMessagesOwed(t *testing.T) {
	ctx := context.Background()
	tb := newTestBot(t, Options{})
	var logs bytes.Buffer
	tb.log = slog.New(slog.NewTextHandler(&logs, nil))
	tb.command("120363406289005073@g.us --no-goodbye")
	r := tb.requests(t)[0]

	tb.slack.FailWith(refuse("chat.postMessage", "token_revoked"))
	var waits []time.Duration
	for range 4 {
		now := tb.clock.Now()
		tb.deliver(r.ID)
		wait := time.Duration(0)
		for !tb.owedAt(t, r.ID, now.Add(wait)) {
			wait += 500 * time.Millisecond
			require.Less(t, wait, 2*time.Minute, "the card is no longer owed")
		}
		waits = append(waits, wait)
		tb.clock.Add(wait)
	}
	require.Equal(t, 4, tb.slack.Refusals("chat.postMessage"))
	require.LessOrEqual(t, waits[0], 3*time.Second)
	require.GreaterOrEqual(t, waits[3], 16*time.Second, "retries back off: %v", waits)
	require.Contains(t, logs.String(), "messages stay owed until the app is fixed")
	got, err := tb.db.Requests().Request(ctx, r.ID)
	require.NoError(t, err)
	require.Equal(t, leave.Pending, got.State)

	tb.slack.FailWith(nil)
	tb.deliver(r.ID)
	require.Equal(t, 1, tb.slack.Count("chat.postMessage"), "the card goes out once the token works")
}

// A new card Slack refuses for good (here: too big) is not retried: the
// request is cancelled, and nothing else is held up behind it.
func TestOutbox_RefusedCardCancelsTheRequest(t *testing.T) {
	ctx := context.Background()
	tb := newTestBot(t, Options{})
	tb.command("120363406289005073@g.us --no-goodbye")
	r := tb.requests(t)[0]
	tb.slack.FailWith(refuse("chat.postMessage", "msg_blocks_too_long"))
	tb.deliver(r.ID)

	got, err := tb.db.Requests().Request(ctx, r.ID)
	require.NoError(t, err)
	require.Equal(t, leave.Cancelled, got.State)
	require.False(t, tb.owedAt(t, r.ID, tb.clock.Now().Add(time.Hour)), "not retried")
	require.Equal(t, 1, tb.slack.Refusals("chat.postMessage"))
	audit, err := tb.db.Requests().Audit(ctx, r.ID)
	require.NoError(t, err)
	require.Contains(t, audit[len(audit)-1].Detail, "slack refused the card: msg_blocks_too_long")
}

// The card was deleted (or its channel archived) before the leave ended:
// the card update is refused, yet the outcome still reaches people — in
// the thread when Slack takes it, else in the ops channel.
func TestOutbox_OutcomeOutlivesItsCard(t *testing.T) {
	finished := func(t *testing.T, opts Options) (*testBot, *store.Request) {
		ctx := context.Background()
		tb := newTestBot(t, opts)
		r := tb.pending(t, nil)
		err := tb.confirm(ctx, r.ID, "U0CNF2", tb.clock.Now())
		require.NoError(t, err)
		require.NoError(t, (&leaveWorker{b: tb.Bot}).Work(ctx, leaveJob(r.ID)))
		return tb, r
	}

	t.Run("card deleted", func(t *testing.T) {
		tb, r := finished(t, Options{})
		tb.slack.FailWith(refuse("chat.update", "message_not_found"))
		tb.deliver(r.ID)
		require.Equal(t, 1, tb.slack.Refusals("chat.update"))
		replies := tb.slack.Answered("chat.postMessage")
		require.Len(t, replies, 1)
		require.Equal(t, r.CardTS, replies[0].Form.Get("thread_ts"))
		require.False(t, tb.owedAt(t, r.ID, tb.clock.Now().Add(time.Hour)))
	})

	t.Run("channel archived", func(t *testing.T) {
		tb, r := finished(t, Options{OpsChannel: "C0OPS"})
		tb.slack.FailWith(func(method string, form url.Values) string {
			if form.Get("channel") == "C1" {
				return "is_archived"
			}
			return ""
		})
		tb.deliver(r.ID)
		posts := tb.slack.Answered("chat.postMessage")
		require.Len(t, posts, 1)
		require.Equal(t, "C0OPS", posts[0].Form.Get("channel"))
		require.Contains(t, posts[0].Form.Get("text"), "request in C1 (Slack refused the reply")
		require.Contains(t, posts[0].Form.Get("text"), templates.OutcomeText(leave.OutcomeLeft, r.GroupJID, ""))
		got, err := tb.db.Requests().Request(context.Background(), r.ID)
		require.NoError(t, err)
		require.False(t, got.ReplyNeeded)
		require.False(t, tb.owedAt(t, r.ID, tb.clock.Now().Add(time.Hour)))
	})

	t.Run("nowhere else to post", func(t *testing.T) {
		tb, r := finished(t, Options{})
		tb.slack.FailWith(func(string, url.Values) string { return "is_archived" })
		tb.deliver(r.ID)
		require.False(t, tb.owedAt(t, r.ID, tb.clock.Now().Add(time.Hour)), "given up, not retried for ever")
		audit, err := tb.db.Requests().Audit(context.Background(), r.ID)
		require.NoError(t, err)
		require.Contains(t, audit[len(audit)-1].Detail, "outcome reply refused: is_archived")
	})
}

// A reminder Slack refuses for good is not posted again at every sweep.
func TestSweep_RefusedReminderIsNotRetried(t *testing.T) {
	tb := newTestBot(t, Options{RemindAfter: time.Hour})
	tb.pending(t, nil)
	tb.clock.Add(61 * time.Minute)
	tb.slack.FailWith(refuse("chat.postMessage", "not_in_channel"))
	for range 3 {
		require.NoError(t, tb.Sweep(context.Background()))
		tb.clock.Add(10 * time.Second)
	}
	require.Equal(t, 1, tb.slack.Refusals("chat.postMessage"))

	// A passing outage is retried.
	tb2 := newTestBot(t, Options{RemindAfter: time.Hour})
	tb2.pending(t, nil)
	tb2.clock.Add(61 * time.Minute)
	tb2.slack.FailWith(refuse("chat.postMessage", "fatal_error"))
	require.NoError(t, tb2.Sweep(context.Background()))
	tb2.slack.FailWith(nil)
	require.NoError(t, tb2.Sweep(context.Background()))
	require.Equal(t, 1, tb2.slack.Count("chat.postMessage"))
}

// slackErr is Slack's {"ok": false, "error": code} as slack-go returns it.
func slackErr(code string) error { return slack.SlackErrorResponse{Err: code} }

// Leases given back at a stop share one deadline: with the database
// stuck, six queued rows delay the stop by about 2 s, not 2 s each.
func TestOutbox_ReleasesAtStopShareOneDeadline(t *testing.T) {
	tb := newTestBot(t, Options{})
	release := holdWrites(t, tb)
	defer release()
	done := make(chan struct{})
	go func() {
		for i := range 6 {
			tb.outbox.release(leased{id: fmt.Sprintf("R%015d", i), until: tb.clock.Now()})
		}
		close(done)
	}()
	select {
	case <-done:
	case <-time.After(8 * time.Second): // one deadline each would take 12 s
		t.Fatal("each release waited for the stuck database on its own")
	}
}

// A post Slack answered with an error is certainly not in Slack: the
// retry posts without looking for it first (a look costs a call of a
// method Slack limits more tightly), while the mark of a post whose answer
// never came stays for the next attempt to look.
func TestOutbox_AnsweredFailureIsNotLookedFor(t *testing.T) {
	ctx := context.Background()
	tb := newTestBot(t, Options{})
	tb.command("120363406289005073@g.us --no-goodbye")
	r := tb.requests(t)[0]

	tb.slack.FailWith(refuse("chat.postMessage", "internal_error"))
	tb.deliver(r.ID)
	require.Equal(t, 1, tb.slack.Refusals("chat.postMessage"))
	got, err := tb.db.Requests().Request(ctx, r.ID)
	require.NoError(t, err)
	require.True(t, got.CardPostingAt.IsZero(), "no post under way after Slack's error")

	tb.slack.FailWith(nil)
	tb.clock.Add(time.Minute)
	tb.deliver(r.ID)
	require.Equal(t, 1, tb.slack.Count("chat.postMessage"), "the card goes out")
	require.Zero(t, tb.slack.Count("conversations.history"), "without a look")
	got, err = tb.db.Requests().Request(ctx, r.ID)
	require.NoError(t, err)
	require.NotEmpty(t, got.CardTS)
	require.True(t, got.CardPostingAt.IsZero(), "the post is recorded")

	// A post without an answer (here: the outbox is stopped mid-call)
	// stays under way.
	require.NoError(t, tb.db.Outbox().PostUnderWay(ctx, r.ID, store.ReplyPost, tb.clock.Now()))
	tb.outbox.notPosted(ctx, r.ID, store.ReplyPost, context.Canceled)
	got, err = tb.db.Requests().Request(ctx, r.ID)
	require.NoError(t, err)
	require.Equal(t, tb.clock.Now(), got.ReplyPostingAt)
}
