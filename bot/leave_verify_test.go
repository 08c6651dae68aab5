package bot

import (
	"context"
	"fmt"
	"runtime"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/waleave/waleave/leave"
	"github.com/waleave/waleave/store"
	"github.com/waleave/waleave/templates"
	"github.com/waleave/waleave/whatsapp"
)

// memberGroup is a group that lists the instance (79000000001) among its
// members.
func memberGroup(jid string) whatsapp.Group {
	g := onlyAdminGroup(jid)
	g.Participants[1].IsAdmin = true // not the only admin: no successor step
	return g
}

// confirmedRequest is a confirmed request, its card in Slack, for a
// group that lists the instance until it leaves.
func confirmedRequest(t *testing.T, tb *testBot, mutate func(*store.Request)) *store.Request {
	t.Helper()
	tb.gw.Self = "79000000001@s.whatsapp.net"
	tb.gw.GroupFunc = func(_ context.Context, ref string) (whatsapp.Group, error) { return memberGroup(ref), nil }
	r := tb.pending(t, mutate)
	err := tb.confirm(context.Background(), r.ID, "U0CNF2", tb.clock.Now())
	require.NoError(t, err)
	return r
}

// outcomeOf runs the leave job to its end and delivers its Slack
// messages; it returns the request, its thread reply and its last card.
func outcomeOf(t *testing.T, tb *testBot, id string) (*store.Request, string, string) {
	t.Helper()
	got, _ := runUntilOver(t, tb, id)
	tb.deliver(id)
	var replies []string
	for _, c := range tb.slack.Answered("chat.postMessage") {
		if c.Form.Get("thread_ts") != "" {
			replies = append(replies, c.Form.Get("text"))
		}
	}
	require.Len(t, replies, 1, "one outcome reply")
	return got, replies[0], cardText(t, got)
}

// auditActions lists a request's audit actions, in order.
func auditActions(t *testing.T, tb *testBot, id string) []string {
	t.Helper()
	audit, err := tb.db.Requests().Audit(context.Background(), id)
	require.NoError(t, err)
	var out []string
	for _, e := range audit {
		out = append(out, e.Action)
	}
	return out
}

// A leave the gateway called a success is checked by looking the group
// up once more (SPEC §5): gone is verified, and the card says so.
func TestLeave_VerifiedWhenTheGroupNoLongerListsTheInstance(t *testing.T) {
	tb := newTestBot(t, Options{})
	r := confirmedRequest(t, tb, nil)
	got, reply, card := outcomeOf(t, tb, r.ID)
	require.Equal(t, leave.OutcomeLeft, got.Outcome)
	require.Equal(t, store.Verified, got.Verification)
	require.Contains(t, card, "Verified: the group no longer lists the instance")
	require.Contains(t, strings.ToLower(reply), "left")
	require.Contains(t, auditActions(t, tb, r.ID), "verified")
	calls := tb.gw.CallsOf("")
	require.Equal(t, "group", calls[len(calls)-1], "looked up after the leave")
}

// The gateway said left, but the group still lists the instance: the
// outcome is still_member, a failure, and the group stays in the
// directory.
func TestLeave_StillAMemberWhenTheGroupStillListsTheInstance(t *testing.T) {
	tb := newTestBot(t, Options{})
	tb.gw.Stay = true
	r := confirmedRequest(t, tb, nil)
	got, reply, card := outcomeOf(t, tb, r.ID)
	require.Equal(t, leave.Failed, got.State)
	require.Equal(t, leave.OutcomeStillMember, got.Outcome)
	require.Contains(t, strings.ToLower(reply), "still a member")
	require.Contains(t, strings.ToLower(reply), "not left")
	require.Contains(t, card, "still a member")
	require.Contains(t, auditActions(t, tb, r.ID), "still a member")
	require.Len(t, tb.gw.CallsOf("leave"), 1, "not called again")
}

// A lookup that cannot answer leaves the outcome as the gateway gave it,
// marked not verified, and waits no longer than VerifyTimeout.
func TestLeave_NotVerifiedWhenTheLookupCannotTell(t *testing.T) {
	cases := map[string]func(tb *testBot){
		"hangs": func(tb *testBot) {
			tb.gw.GroupFunc = func(ctx context.Context, _ string) (whatsapp.Group, error) {
				<-ctx.Done()
				return whatsapp.Group{}, &whatsapp.Error{Kind: whatsapp.ErrUnavailable, Err: ctx.Err()}
			}
		},
		"fails": func(tb *testBot) {
			tb.gw.GroupFunc = func(context.Context, string) (whatsapp.Group, error) {
				return whatsapp.Group{}, &whatsapp.Error{Kind: whatsapp.ErrUnavailable, Status: 500}
			}
		},
		"own number unknown": func(tb *testBot) { tb.gw.Self = "" },
		"hidden numbers": func(tb *testBot) {
			tb.gw.GroupFunc = func(_ context.Context, ref string) (whatsapp.Group, error) {
				g := memberGroup(ref)
				for i := range g.Participants {
					g.Participants[i].JID = fmt.Sprintf("2345678901234%d@lid", i)
				}
				return g, nil
			}
		},
		"partial list": func(tb *testBot) {
			tb.gw.GroupFunc = func(_ context.Context, ref string) (whatsapp.Group, error) {
				g := memberGroup(ref)
				g.Participants, g.Size = g.Participants[1:], 300
				return g, nil
			}
		},
	}
	for name, setup := range cases {
		t.Run(name, func(t *testing.T) {
			tb := newTestBot(t, Options{VerifyTimeout: 200 * time.Millisecond, DetailsTimeout: 100 * time.Millisecond})
			r := confirmedRequest(t, tb, nil)
			tb.gw.Stay = true // the lookup reaches the functions above
			setup(tb)
			got, reply, card := outcomeOf(t, tb, r.ID)
			require.Equal(t, leave.Done, got.State)
			require.Equal(t, leave.OutcomeLeft, got.Outcome)
			require.Equal(t, store.Unverified, got.Verification)
			require.Contains(t, card, "Not verified")
			require.NotContains(t, strings.ToLower(reply), "not left")
			require.Contains(t, auditActions(t, tb, r.ID), "not verified")
		})
	}
}

// A success status without the documented body (Wawp's bare 201) is
// checked by looking the group up, never retried.
func TestLeave_UnconfirmedIsLookedUpNotRetried(t *testing.T) {
	unconfirmed := &whatsapp.Error{Provider: "wawp", Op: "leave", Status: 201, Kind: whatsapp.ErrUnconfirmed}
	cases := []struct {
		name    string
		stay    bool
		lookup  func(context.Context, string) (whatsapp.Group, error)
		outcome leave.Outcome
		verify  string
	}{
		{"gone", false, nil, leave.OutcomeLeft, store.Verified},
		{"still there", true, nil, leave.OutcomeStillMember, ""},
		{"lookup fails", true, func(context.Context, string) (whatsapp.Group, error) {
			return whatsapp.Group{}, &whatsapp.Error{Kind: whatsapp.ErrUnavailable, Status: 502}
		}, leave.OutcomeLeft, store.Unverified},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			tb := newTestBot(t, Options{MaxAttempts: 5})
			r := confirmedRequest(t, tb, nil)
			tb.gw.Stay = c.stay
			if c.lookup != nil {
				tb.gw.GroupFunc = c.lookup
			}
			tb.gw.LeaveErrs = []error{unconfirmed, unconfirmed}
			got, _, _ := outcomeOf(t, tb, r.ID)
			require.Equal(t, c.outcome, got.Outcome)
			require.Equal(t, c.verify, got.Verification)
			require.Len(t, tb.gw.CallsOf("leave"), 1, "not retried")
		})
	}
}

// A run that dies during its leave call (here: its goroutine ends inside
// the call, after the gateway acted, with nothing after it recorded) is
// known as such to the next run, which then verifies instead of
// guessing: the repeat's "not a member" means the first call left, and
// a repeat answered with a failure is checked by looking the group up.
func TestLeave_CrashDuringTheLeaveCallEndsLeft(t *testing.T) {
	ctx := context.Background()
	cases := map[string]error{
		"repeat answers not a member": &whatsapp.Error{Provider: "ryzeapi", Status: 404, Kind: whatsapp.ErrNotMember},
		"repeat answers a failure":    &whatsapp.Error{Provider: "greenapi", Status: 403, Kind: whatsapp.ErrForbidden},
		"repeat answers garbage":      &whatsapp.Error{Provider: "greenapi", Status: 200, Kind: whatsapp.ErrUnavailable},
	}
	for name, repeat := range cases {
		t.Run(name, func(t *testing.T) {
			tb := newTestBot(t, Options{MaxAttempts: 2})
			r := confirmedRequest(t, tb, nil)
			crashed := make(chan struct{})
			tb.gw.OnLeave = func() {
				// The gateway acted; then the process died before
				// anything after the call was recorded.
				tb.gw.OnLeave = nil
				close(crashed)
				runtime.Goexit()
			}
			go func() { _ = (&leaveWorker{b: tb.Bot}).Work(ctx, leaveJob(r.ID)) }()
			<-crashed

			tb.gw.Locked(func() {
				tb.gw.LeaveErrs = []error{repeat, repeat}
			})
			got, reply, _ := outcomeOf(t, tb, r.ID)
			require.Equal(t, leave.Done, got.State, "outcome %s", got.Outcome)
			require.Equal(t, leave.OutcomeLeft, got.Outcome)
			require.Equal(t, store.Verified, got.Verification)
			require.NotContains(t, strings.ToLower(reply), "not a member")
			require.Contains(t, auditActions(t, tb, r.ID), "leave unknown")
		})
	}
}

// A goodbye whose fate is unknown is said to be so, on the card and in
// the thread; one answered with a success status but without the
// documented body is such a goodbye, not a failed one.
func TestLeave_GoodbyeOfUnknownFateIsSaidSo(t *testing.T) {
	cases := map[string]error{
		"no answer":   &whatsapp.Error{Provider: "greenapi", Status: 0, Kind: whatsapp.ErrUnavailable},
		"unconfirmed": &whatsapp.Error{Provider: "wawp", Status: 201, Kind: whatsapp.ErrUnconfirmed},
	}
	for name, sendErr := range cases {
		t.Run(name, func(t *testing.T) {
			tb := newTestBot(t, Options{})
			r := confirmedRequest(t, tb, func(r *store.Request) { r.Goodbye = "bye all" })
			tb.gw.SendErrs = []error{sendErr}
			got, reply, card := outcomeOf(t, tb, r.ID)
			require.Equal(t, leave.OutcomeLeft, got.Outcome)
			require.Equal(t, store.GoodbyeUnknown, got.GoodbyeState)
			require.Len(t, tb.gw.CallsOf("send"), 1, "not sent twice")
			require.Contains(t, reply, "may not have reached the group")
			require.Contains(t, card, "may not have reached the group")
		})
	}
}

// A promotion answered with a success status but without the documented
// body is checked by looking the group up, not sent again: the successor
// listed as an admin means it worked, and the leave goes ahead; not
// listed, the group is kept (leaving would hand it to a random member).
func TestSuccessor_UnconfirmedPromotionIsLookedUp(t *testing.T) {
	for _, worked := range []bool{true, false} {
		t.Run(map[bool]string{true: "promoted", false: "not promoted"}[worked], func(t *testing.T) {
			ctx := context.Background()
			tb := newTestBot(t, Options{MaxAttempts: 5})
			r := onlyAdminRequest(t, tb)
			tb.Interaction(ctx, tb.fromCard(t, selectSuccessor("U0REQ1", r.ID, "79000000002@c.us")))
			tb.deliver(r.ID) // the card shows the choice before anyone confirms
			promoted := false
			tb.gw.PromoteFunc = func(string, string) error {
				promoted = worked
				return &whatsapp.Error{Provider: "wawp", Op: "promote", Status: 201, Kind: whatsapp.ErrUnconfirmed}
			}
			tb.gw.GroupFunc = func(_ context.Context, ref string) (whatsapp.Group, error) {
				g := onlyAdminGroup(ref)
				g.Participants[1].IsAdmin = promoted
				return g, nil
			}
			tb.Interaction(ctx, tb.fromCard(t, click("U0CNF2", "C1", templates.ActionConfirm, r.ID)))
			got, _ := runUntilOver(t, tb, r.ID)
			require.Len(t, tb.gw.CallsOf("promote"), 1, "not sent again")
			if worked {
				require.Equal(t, leave.OutcomeLeft, got.Outcome)
				require.False(t, got.PromotedAt.IsZero())
				require.Len(t, tb.gw.CallsOf("leave"), 1)
			} else {
				require.Equal(t, leave.OutcomePromoteFailed, got.Outcome)
				require.Empty(t, tb.gw.CallsOf("leave"))
			}
		})
	}
}
