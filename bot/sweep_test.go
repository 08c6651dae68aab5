package bot

import (
	"context"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/robfig/cron/v3"
	"github.com/slack-go/slack"
	"github.com/stretchr/testify/require"

	"github.com/waleave/waleave/leave"
	"github.com/waleave/waleave/store"
)

func TestSweep_RemindsOnceAfterRemindAfter(t *testing.T) {
	ctx := context.Background()
	tb := newTestBot(t, Options{RemindAfter: time.Hour})
	r := tb.pending(t, nil)

	tb.clock.Add(59 * time.Minute)
	require.NoError(t, tb.Sweep(ctx))
	require.Zero(t, tb.slack.Count("chat.postMessage"), "not yet due")

	tb.clock.Add(2 * time.Minute)
	require.NoError(t, tb.Sweep(ctx))
	require.NoError(t, tb.Sweep(ctx))
	posts := tb.slack.Answered("chat.postMessage")
	require.Len(t, posts, 1, "one reminder, however many sweeps")
	require.Equal(t, r.CardTS, posts[0].Form.Get("thread_ts"))
	require.Contains(t, posts[0].Form.Get("text"), "<@U0REQ1>")
}

func TestSweep_ExpiresAndRefusesLateClick(t *testing.T) {
	ctx := context.Background()
	tb := newTestBot(t, Options{RequestTTL: 24 * time.Hour})
	r := tb.pending(t, nil)

	tb.clock.Add(24 * time.Hour)
	require.NoError(t, tb.Sweep(ctx))
	got, err := tb.db.Requests().Request(ctx, r.ID)
	require.NoError(t, err)
	require.Equal(t, leave.Expired, got.State)
	require.Greater(t, got.CardVersion, got.CardPostedVersion, "the card is owed an update")
	require.Contains(t, strings.ToLower(cardText(t, got)), "expired")

	tb.Interaction(ctx, click("U0CNF2", "C1", "leave_confirm", r.ID))
	tb.background.Wait()
	eph := tb.slack.Answered("chat.postEphemeral")
	require.Len(t, eph, 1)
	require.Contains(t, strings.ToLower(eph[0].Form.Get("text")), "expired")
	got, _ = tb.db.Requests().Request(ctx, r.ID)
	require.Equal(t, leave.Expired, got.State)
}

func TestConfirm_PastTTLBeforeSweepIsRefused(t *testing.T) {
	ctx := context.Background()
	tb := newTestBot(t, Options{RequestTTL: time.Hour})
	r := tb.pending(t, func(r *store.Request) { r.ExpiresAt = r.CreatedAt.Add(time.Hour) })
	tb.clock.Add(2 * time.Hour)
	tb.Interaction(ctx, click("U0CNF2", "C1", "leave_confirm", r.ID))
	tb.background.Wait()
	got, _ := tb.db.Requests().Request(ctx, r.ID)
	require.Equal(t, leave.Expired, got.State)
	require.Len(t, tb.slack.Answered("chat.postEphemeral"), 1)
}

func TestSweep_OpsReminderAndItsCancelButton(t *testing.T) {
	ctx := context.Background()
	newYork, err := time.LoadLocation("America/New_York")
	require.NoError(t, err)
	tb := newTestBot(t, Options{OpsChannel: "COPS", Location: newYork})
	// The requester is in Tokyo; the ops channel reads WALEAVE_TIMEZONE.
	r := tb.pending(t, func(r *store.Request) { r.RunAt = r.CreatedAt.Add(90 * time.Minute); r.TZ = "Asia/Tokyo" })
	tb.Interaction(ctx, click("U0CNF2", "C1", "leave_confirm", r.ID))
	got, _ := tb.db.Requests().Request(ctx, r.ID)
	require.Equal(t, leave.Confirmed, got.State)

	tb.clock.Add(20 * time.Minute)
	require.NoError(t, tb.Sweep(ctx))
	require.Zero(t, tb.slack.Count("chat.postMessage"), "more than an hour ahead")

	tb.clock.Add(15 * time.Minute)
	require.NoError(t, tb.Sweep(ctx))
	require.NoError(t, tb.Sweep(ctx))
	posts := tb.slack.Answered("chat.postMessage")
	require.Len(t, posts, 1)
	require.Equal(t, "COPS", posts[0].Form.Get("channel"))
	blocks := posts[0].Form.Get("blocks")
	runAt := r.RunAt.In(newYork).Format("15:04 MST")
	require.Contains(t, blocks, runAt, "the run time in WALEAVE_TIMEZONE")
	require.NotContains(t, blocks, "JST")
	require.Contains(t, blocks, `"action_id":"leave_cancel"`)
	require.Contains(t, blocks, `"value":"`+r.ID+`"`)

	// An allowed user cancels from the ops channel; the job then does nothing.
	tb.Interaction(ctx, click("U0REQ1", "COPS", "leave_cancel", r.ID))
	got, _ = tb.db.Requests().Request(ctx, r.ID)
	require.Equal(t, leave.Cancelled, got.State)
	w := &leaveWorker{b: tb.Bot}
	require.NoError(t, w.Work(ctx, leaveJob(r.ID)))
	require.Zero(t, tb.gw.LeaveCount())
}

func TestDigest_MixOfStates(t *testing.T) {
	ctx := context.Background()
	tb := newTestBot(t, Options{OpsChannel: "COPS"})
	p := tb.pending(t, func(r *store.Request) { r.GroupSubject = "Project <Phoenix>" })
	f := tb.pending(t, func(r *store.Request) { r.GroupJID = "11001234567-1587570015@g.us" })
	err := tb.confirm(ctx, f.ID, "U0CNF2", tb.clock.Now())
	require.NoError(t, err)
	_, err = tb.db.Requests().ClaimRun(ctx, f.ID, tb.clock.Now(), time.Minute)
	require.NoError(t, err)
	_, err = tb.db.Requests().Finish(ctx, f.ID, store.Outcome{Code: "quota"}, tb.clock.Now())
	require.NoError(t, err)
	s := tb.pending(t, func(r *store.Request) {
		r.GroupSubject = "Scheduled group"
		r.RunAt = r.CreatedAt.Add(48 * time.Hour)
		r.ExpiresAt = r.RunAt
	})
	err = tb.confirm(ctx, s.ID, "U0CNF2", tb.clock.Now())
	require.NoError(t, err)
	far := tb.pending(t, func(r *store.Request) { r.GroupSubject = "Far future"; r.RunAt = r.CreatedAt.Add(10 * 24 * time.Hour) })
	err = tb.confirm(ctx, far.ID, "U0CNF2", tb.clock.Now())
	require.NoError(t, err)

	tb.clock.Add(3 * time.Hour)
	require.NoError(t, tb.Digest(ctx))
	posts := tb.slack.Answered("chat.postMessage")
	require.Len(t, posts, 1)
	require.Equal(t, "COPS", posts[0].Form.Get("channel"))
	text := posts[0].Form.Get("text")
	require.Contains(t, text, "Waiting for confirmation (1)")
	require.Contains(t, text, "Project &lt;Phoenix&gt;", "escaped subject")
	require.Contains(t, text, "by <@U0REQ1>")
	require.Contains(t, text, "waiting 3 hours")
	require.Contains(t, text, "quota")
	require.Contains(t, text, "11001234567-1587570015@g.us")
	require.Contains(t, text, "Scheduled group")
	require.NotContains(t, text, "Far future", "beyond seven days")
	require.Contains(t, text, "|card>", "lines link to their cards")
	require.Contains(t, text, p.ID)
	_ = p

	// The failure was reported; the next digest lists only what is still relevant.
	tb.clock.Add(24 * time.Hour)
	require.NoError(t, tb.Digest(ctx))
	posts = tb.slack.Answered("chat.postMessage")
	require.Len(t, posts, 2)
	require.NotContains(t, posts[1].Form.Get("text"), "quota")
}

// A quiet day still gets its digest, so ops can tell it from a bot that
// stopped posting.
func TestDigest_NothingToReportSaysSo(t *testing.T) {
	tb := newTestBot(t, Options{OpsChannel: "COPS"})
	require.NoError(t, tb.Digest(context.Background()))
	posts := tb.slack.Answered("chat.postMessage")
	require.Len(t, posts, 1)
	require.Equal(t, "COPS", posts[0].Form.Get("channel"))
	require.Contains(t, posts[0].Form.Get("text"), "nothing waiting for confirmation")
}

func TestZonedSchedule_DigestInTimezone(t *testing.T) {
	s, err := cron.ParseStandard("0 9 * * 1-5")
	require.NoError(t, err)
	berlin, err := time.LoadLocation("Europe/Berlin")
	require.NoError(t, err)
	z := zoned{s, berlin}
	// Friday 2026-03-27 10:00 UTC → next is Monday 2026-03-30 09:00 CEST (after the DST change) = 07:00 UTC.
	next := z.Next(time.Date(2026, 3, 27, 10, 0, 0, 0, time.UTC))
	require.Equal(t, time.Date(2026, 3, 30, 7, 0, 0, 0, time.UTC), next.UTC())
}

func TestCommand_ScheduledTimeInRequesterZone(t *testing.T) {
	ctx := context.Background()
	tb := newTestBot(t, Options{})
	msg := tb.Command(ctx, slack.SlashCommand{TeamID: "T1", UserID: "U0REQ1", ChannelID: "C1", Text: "120363406289005073@g.us --at 2026-12-01T09:00"})
	reqs, err := tb.db.Requests().ListRequests(ctx, store.Filter{RequesterID: "U0REQ1"})
	require.NoError(t, err)
	require.Len(t, reqs, 1, msg.Text)
	// Europe/Berlin is UTC+1 in December.
	require.Equal(t, time.Date(2026, 12, 1, 8, 0, 0, 0, time.UTC), reqs[0].RunAt)
	require.Equal(t, "Europe/Berlin", reqs[0].TZ)

	for _, text := range []string{"120363406289005073@g.us --at 2026-01-01T09:00", "120363406289005073@g.us --in 200d"} {
		msg = tb.Command(ctx, slack.SlashCommand{TeamID: "T1", UserID: "U0REQ1", ChannelID: "C1", Text: text})
		require.Equal(t, slack.ResponseTypeEphemeral, msg.ResponseType)
	}
	reqs, _ = tb.db.Requests().ListRequests(ctx, store.Filter{RequesterID: "U0REQ1"})
	require.Len(t, reqs, 1, "past and far-future times are refused")
}

// A reminder whose post is cut short by the sweep's context (its timeout,
// or a stop) is posted by a later sweep, not lost as "already reminded".
func TestSweep_ReminderCutShortIsPostedLater(t *testing.T) {
	tb := newTestBot(t, Options{RemindAfter: time.Hour})
	r := tb.pending(t, nil)
	tb.clock.Add(61 * time.Minute)

	hang := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, req *http.Request) {
		select { // a Slack that does not answer in time
		case <-req.Context().Done():
		case <-time.After(time.Second):
		}
	}))
	defer hang.Close()
	tb.useSlack(hang.URL)
	ctx, cancel := context.WithTimeout(context.Background(), 300*time.Millisecond)
	_ = tb.Sweep(ctx)
	cancel()

	tb.useSlack(tb.slack.URL)
	require.NoError(t, tb.Sweep(context.Background()))
	require.NoError(t, tb.Sweep(context.Background()))
	reminders := 0
	for _, p := range tb.slack.Answered("chat.postMessage") {
		if p.Form.Get("thread_ts") != "" && strings.Contains(p.Form.Get("text"), "<@U0REQ1>") {
			reminders++
		}
	}
	require.Equal(t, 1, reminders, "one reminder for %s, after Slack came back", r.ID)
}
