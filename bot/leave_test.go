package bot

import (
	"context"
	"errors"
	"fmt"
	"testing"
	"time"

	"github.com/riverqueue/river"
	"github.com/stretchr/testify/require"

	"github.com/waleave/waleave/leave"
	"github.com/waleave/waleave/store"
	"github.com/waleave/waleave/whatsapp"
)

func gwErr(kind error, status int) error {
	return &whatsapp.Error{Provider: "greenapi", Op: "leaveGroup", Kind: kind, Status: status}
}

func TestOutcomeUnknown(t *testing.T) {
	cases := []struct {
		err  error
		want bool
	}{
		{gwErr(whatsapp.ErrUnavailable, 0), true},    // timeout, reset
		{gwErr(whatsapp.ErrUnavailable, 502), true},  // a proxy gave up
		{gwErr(whatsapp.ErrUnavailable, 504), true},  // a proxy timed out
		{gwErr(whatsapp.ErrUnavailable, 200), true},  // truncated success
		{gwErr(whatsapp.ErrUnavailable, 500), false}, // the gateway answered: failed
		{gwErr(whatsapp.ErrUnavailable, 503), false},
		{gwErr(whatsapp.ErrRateLimited, 429), false},
		{gwErr(whatsapp.ErrRateLimited, 0), false}, // our own limiter: nothing sent
		{errors.New("plain"), false},
	}
	for _, c := range cases {
		require.Equal(t, c.want, outcomeUnknown(c.err), "%v", c.err)
	}
}

// The rule itself is leave.OutcomeOf's (tested there); failure adds what
// the audit keeps: the gateway's status and words.
func TestFailureKeepsStatusAndWords(t *testing.T) {
	err := &whatsapp.Error{Provider: "greenapi", Op: "leaveGroup", Kind: whatsapp.ErrQuota, Status: 466, Message: "quota used up"}
	o := stepOutcome(err, leave.StepLeave)
	require.Equal(t, leave.OutcomeQuota, o.Code)
	require.Equal(t, 466, o.Status)
	require.Contains(t, o.Detail, "quota used up")

	o = promoteFailure("79000000002@c.us", &whatsapp.Error{Provider: "wawp", Op: "promote", Kind: whatsapp.ErrForbidden, Status: 403, Message: "not an admin"})
	require.Equal(t, leave.OutcomePromoteFailed, o.Code)
	require.Equal(t, 403, o.Status)
	require.Equal(t, "+79000000002 could not be made an admin: not an admin", o.Detail)
}

func TestBackoffGrowsAndIsBounded(t *testing.T) {
	prev := time.Duration(0)
	for attempt := 1; attempt <= 4; attempt++ {
		d := backoff(time.Second, attempt)
		base := time.Second << (attempt - 1)
		require.GreaterOrEqual(t, d, base)
		require.LessOrEqual(t, d, base+base/2)
		require.Greater(t, d, prev/2)
		prev = d
	}
	// Capped at a minute before its jitter (up to half again): a base of
	// 10 s would otherwise wait 10 s·2⁶ = 640 s from the seventh try on,
	// and a cap after the jitter would never exceed the minute.
	longest := time.Duration(0)
	for i := range 200 {
		d := backoff(10*time.Second, 7+i%50)
		require.GreaterOrEqual(t, d, time.Minute)
		require.LessOrEqual(t, d, 90*time.Second)
		longest = max(longest, d)
	}
	require.Greater(t, longest, time.Minute, "the jitter comes on top of the cap")
	// With the defaults, five attempts wait at most 1.5·(1+2+4+8)s = 22.5s.
	var total time.Duration
	for a := 1; a < 5; a++ {
		total += backoff(time.Second, a)
	}
	require.LessOrEqual(t, total, 23*time.Second)
}

// WALEAVE_MAX_ATTEMPTS counts the tries of one step (SPEC §2): a goodbye
// that needed every try but the last leaves the leave its own tries.
func TestLeave_MaxAttemptsIsPerStep(t *testing.T) {
	ctx := context.Background()
	limited := &whatsapp.Error{Provider: "greenapi", Status: 429, Kind: whatsapp.ErrRateLimited, Message: "Too Many Requests"}
	run := func(t *testing.T, sendFails, leaveFails int) (*store.Request, *testBot) {
		tb := newTestBot(t, Options{MaxAttempts: 3})
		for range sendFails {
			tb.gw.SendErrs = append(tb.gw.SendErrs, limited)
		}
		for range leaveFails {
			tb.gw.LeaveErrs = append(tb.gw.LeaveErrs, limited)
		}
		r := tb.pending(t, func(r *store.Request) { r.Goodbye = "bye" })
		err := tb.confirm(ctx, r.ID, "U0CNF2", tb.clock.Now())
		require.NoError(t, err)
		w := &leaveWorker{b: tb.Bot}
		for range 10 {
			_ = w.Work(ctx, leaveJob(r.ID)) // a snooze or nil
			got, err := tb.db.Requests().Request(ctx, r.ID)
			require.NoError(t, err)
			if got.State == leave.Done || got.State == leave.Failed {
				return got, tb
			}
		}
		t.Fatal("the leave never finished")
		return nil, nil
	}

	got, tb := run(t, 2, 2)
	require.Equal(t, leave.Done, got.State, "outcome %s", got.Outcome)
	require.Len(t, tb.gw.CallsOf("send"), 3)
	require.Len(t, tb.gw.CallsOf("leave"), 3)

	got, tb = run(t, 0, 3)
	require.Equal(t, leave.Failed, got.State)
	require.Equal(t, leave.OutcomeRateLimit, got.Outcome)
	require.Len(t, tb.gw.CallsOf("leave"), 3, "no more than WALEAVE_MAX_ATTEMPTS leave calls")
}

// A run with too little time left for a step ends before it, and the
// next run continues with the step's tries untouched.
func TestLeave_RunEndsBeforeAStepItCannotFinish(t *testing.T) {
	tb := newTestBot(t, Options{GatewayTimeout: 2 * time.Second})
	r := tb.pending(t, func(r *store.Request) { r.Goodbye = "bye" })
	err := tb.confirm(context.Background(), r.ID, "U0CNF2", tb.clock.Now())
	require.NoError(t, err)
	w := &leaveWorker{b: tb.Bot}

	short, cancel := context.WithTimeout(context.Background(), 2*time.Second) // < GatewayTimeout + 1 s
	defer cancel()
	err = w.Work(short, leaveJob(r.ID))
	var snooze *river.JobSnoozeError
	require.ErrorAs(t, err, &snooze)
	require.Zero(t, snooze.Duration, "continue at once")
	require.Empty(t, tb.gw.CallsOf("send"))
	got, err := tb.db.Requests().Request(context.Background(), r.ID)
	require.NoError(t, err)
	require.Zero(t, got.Attempts, "no try was made")
	require.Empty(t, got.GoodbyeState, "the goodbye was not claimed")

	require.NoError(t, w.Work(context.Background(), leaveJob(r.ID)))
	require.Len(t, tb.gw.CallsOf("send"), 1)
	require.Len(t, tb.gw.CallsOf("leave"), 1)
}

// Two runs of one job at once (a paused replica's late result put the job
// back in the queue, or two processes share one SQLite file) do not work
// together: the second finds the first's claim and waits for it to end,
// and the goodbye is posted once. (Should the claims ever fail, the
// goodbye is also claimed on its own before it is sent: see the store's
// ClaimGoodbye test.)
func TestLeave_TwoRunsAtOnceSendOneGoodbye(t *testing.T) {
	ctx := context.Background()
	tb := newTestBot(t, Options{})
	r := tb.pending(t, func(r *store.Request) { r.Goodbye = "bye all" })
	err := tb.confirm(ctx, r.ID, "U0CNF2", tb.clock.Now())
	require.NoError(t, err)
	// Both runs read the request, then wait for the one group lookup
	// they share, so neither has claimed the goodbye when the other reads.
	tb.gw.GroupFunc = func(ctx context.Context, ref string) (whatsapp.Group, error) {
		time.Sleep(300 * time.Millisecond)
		return whatsapp.Group{}, whatsapp.ErrUnavailable
	}
	w := &leaveWorker{b: tb.Bot}
	errs := make(chan error, 2)
	for range 2 {
		go func() { errs <- w.Work(ctx, leaveJob(r.ID)) }()
	}
	first, second := <-errs, <-errs
	require.Len(t, tb.gw.CallsOf("send"), 1, "one goodbye")
	require.Len(t, tb.gw.CallsOf("leave"), 1, "one leave")
	var snooze *river.JobSnoozeError
	require.True(t, errors.As(first, &snooze) || errors.As(second, &snooze), "the second run waits: %v, %v", first, second)
	require.Equal(t, leaveRunTimeout(tb.opts)+time.Second, snooze.Duration, "until the first run's claim ends")
}

// A run that finds another's claim waits no longer than a run lasts, even
// if the claim says otherwise (a clock that was far ahead when it was
// taken).
func TestLeave_WaitForAnotherRunIsBounded(t *testing.T) {
	ctx := context.Background()
	tb := newTestBot(t, Options{})
	r := tb.pending(t, nil)
	err := tb.confirm(ctx, r.ID, "U0CNF2", tb.clock.Now())
	require.NoError(t, err)
	_, err = tb.db.Requests().ClaimRun(ctx, r.ID, tb.clock.Now().Add(10*time.Minute), leaveRunTimeout(tb.opts))
	require.NoError(t, err)

	err = (&leaveWorker{b: tb.Bot}).Work(ctx, leaveJob(r.ID))
	var snooze *river.JobSnoozeError
	require.ErrorAs(t, err, &snooze)
	require.Equal(t, leaveRunTimeout(tb.opts)+time.Second, snooze.Duration)
	require.Empty(t, tb.gw.CallsOf("leave"))
}

// runUntilOver runs the leave job of r, as River would, until the request
// is done or failed, returning it and every run's result.
func runUntilOver(t *testing.T, tb *testBot, id string) (*store.Request, []error) {
	t.Helper()
	w := &leaveWorker{b: tb.Bot}
	var results []error
	for range 10 {
		results = append(results, w.Work(context.Background(), leaveJob(id)))
		got, err := tb.db.Requests().Request(context.Background(), id)
		require.NoError(t, err)
		if got.State == leave.Done || got.State == leave.Failed {
			return got, results
		}
	}
	t.Fatalf("the leave never finished: %v", results)
	return nil, nil
}

// A goodbye whose answer was lost (a timeout, a proxy's 502/504) may have
// been posted: it is not sent again (SPEC §5), however often the job
// runs after it, and the leave still goes ahead.
func TestLeave_GoodbyeWithUnknownOutcomeIsNotSentAgain(t *testing.T) {
	for _, status := range []int{0, 502, 504} {
		t.Run(fmt.Sprint(status), func(t *testing.T) {
			tb := newTestBot(t, Options{MaxAttempts: 5})
			tb.gw.SendErrs = []error{gwErr(whatsapp.ErrUnavailable, status)}
			// The leave needs a second run, which reads the goodbye's state.
			tb.gw.LeaveErrs = []error{&whatsapp.Error{Provider: "greenapi", Status: 429, Kind: whatsapp.ErrRateLimited}}
			r := tb.pending(t, func(r *store.Request) { r.Goodbye = "bye" })
			err := tb.confirm(context.Background(), r.ID, "U0CNF2", tb.clock.Now())
			require.NoError(t, err)

			got, _ := runUntilOver(t, tb, r.ID)
			require.Equal(t, leave.Done, got.State, "outcome %s", got.Outcome)
			require.Equal(t, store.GoodbyeUnknown, got.GoodbyeState)
			require.Len(t, tb.gw.CallsOf("send"), 1, "the goodbye is not sent twice")
			require.Len(t, tb.gw.CallsOf("leave"), 2)
		})
	}
}

// A goodbye answered with a success status but without the documented
// body (ErrUnconfirmed, e.g. an empty 201) was probably posted: it is
// not sent again, and the leave goes ahead instead of ending as a
// goodbye failure.
func TestLeave_UnconfirmedGoodbyeIsNotSentAgainAndTheLeaveGoesAhead(t *testing.T) {
	tb := newTestBot(t, Options{MaxAttempts: 5})
	tb.gw.SendErrs = []error{&whatsapp.Error{Provider: "wawp", Op: "send/text", Status: 201, Kind: whatsapp.ErrUnconfirmed}}
	r := tb.pending(t, func(r *store.Request) { r.Goodbye = "bye" })
	err := tb.confirm(context.Background(), r.ID, "U0CNF2", tb.clock.Now())
	require.NoError(t, err)

	got, _ := runUntilOver(t, tb, r.ID)
	require.Equal(t, leave.Done, got.State, "outcome %s", got.Outcome)
	require.Equal(t, leave.OutcomeLeft, got.Outcome)
	require.Equal(t, store.GoodbyeUnknown, got.GoodbyeState)
	require.Len(t, tb.gw.CallsOf("send"), 1, "the goodbye is not sent twice")
	require.Len(t, tb.gw.CallsOf("leave"), 1)
}

// A rate-limited leave waits as long as the gateway asks (SPEC: honouring
// Retry-After), but no more than two minutes: a request that keeps
// failing must reach its outcome in about a minute, not in a day because
// a gateway said so.
func TestLeave_RetryAfterIsHonouredAndCapped(t *testing.T) {
	for _, c := range []struct{ asked, want time.Duration }{
		{30 * time.Second, 30 * time.Second},
		{24 * time.Hour, 2 * time.Minute},
	} {
		tb := newTestBot(t, Options{})
		tb.gw.LeaveErrs = []error{&whatsapp.Error{Provider: "greenapi", Status: 429, Kind: whatsapp.ErrRateLimited, RetryAfter: c.asked}}
		r := tb.pending(t, nil)
		err := tb.confirm(context.Background(), r.ID, "U0CNF2", tb.clock.Now())
		require.NoError(t, err)
		err = (&leaveWorker{b: tb.Bot}).Work(context.Background(), leaveJob(r.ID))
		var snooze *river.JobSnoozeError
		require.ErrorAs(t, err, &snooze)
		require.Equal(t, c.want, snooze.Duration, "Retry-After %s", c.asked)
	}
}
