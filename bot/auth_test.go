package bot

import (
	"context"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/waleave/waleave/leave"
)

func TestAuthorization(t *testing.T) {
	type check struct {
		user, channel string
		want          decision
	}
	for _, tc := range []struct {
		name    string
		opts    Options
		request []check // mayRequest(user, channel)
		confirm []check // mayConfirm(user, channel, "U0REQ1")
		cancel  []check // mayCancel(user, channel, "U0REQ1")
	}{{
		name:    "nothing configured denies everyone",
		opts:    Options{Approvers: []string{"U0BOSS"}},
		request: []check{{"U0REQ1", "C1", notConfigured}, {"U0BOSS", "C1", notConfigured}},
		confirm: []check{{"U0BOSS", "C1", notConfigured}, {"U0ANY", "C1", notConfigured}},
		cancel:  []check{{"U0REQ1", "C1", allowed}, {"U0BOSS", "C1", notConfigured}},
	}, {
		name:    "allowed users, anywhere",
		opts:    Options{AllowedUsers: []string{"U0REQ1", "U0CNF2"}},
		request: []check{{"U0REQ1", "C9", allowed}, {"U0OTHER", "C1", notAllowed}},
		confirm: []check{{"U0CNF2", "C9", allowed}, {"U0REQ1", "C9", allowed}, {"U0OTHER", "C1", notAllowed}},
		cancel:  []check{{"U0CNF2", "C1", allowed}, {"U0OTHER", "C1", notAllowed}},
	}, {
		name:    "allowed channel, anyone in it",
		opts:    Options{AllowedChannels: []string{"C1"}},
		request: []check{{"U0OTHER", "C1", allowed}, {"U0OTHER", "C2", notAllowed}},
		confirm: []check{{"U0OTHER", "C1", allowed}, {"U0OTHER", "C2", notAllowed}},
		cancel:  []check{{"U0OTHER", "C1", allowed}, {"U0OTHER", "C2", notAllowed}},
	}, {
		name:    "approvers alone confirm, in any channel",
		opts:    Options{AllowedChannels: []string{"C1"}, Approvers: []string{"U0BOSS"}},
		request: []check{{"U0OTHER", "C1", allowed}, {"U0BOSS", "C2", notAllowed}},
		confirm: []check{{"U0OTHER", "C1", notApprover}, {"U0BOSS", "C1", allowed}, {"U0BOSS", "COPS", allowed}},
		cancel:  []check{{"U0OTHER", "C1", allowed}, {"U0BOSS", "COPS", allowed}, {"U0OTHER", "C2", notAllowed}},
	}, {
		name:    "two-person rule",
		opts:    Options{AllowedUsers: []string{"U0REQ1", "U0CNF2"}, Approvers: []string{"U0REQ1", "U0CNF2"}, TwoPerson: true},
		confirm: []check{{"U0REQ1", "C1", samePerson}, {"U0CNF2", "C1", allowed}},
		cancel:  []check{{"U0REQ1", "C1", allowed}},
	}} {
		t.Run(tc.name, func(t *testing.T) {
			b := &Bot{opts: tc.opts}
			for _, c := range tc.request {
				require.Equal(t, c.want, b.mayRequest(c.user, c.channel), "mayRequest(%s, %s)", c.user, c.channel)
			}
			for _, c := range tc.confirm {
				require.Equal(t, c.want, b.mayConfirm(c.user, c.channel, "U0REQ1"), "mayConfirm(%s, %s)", c.user, c.channel)
			}
			for _, c := range tc.cancel {
				require.Equal(t, c.want, b.mayCancel(c.user, c.channel, "U0REQ1"), "mayCancel(%s, %s)", c.user, c.channel)
			}
		})
	}
}

// Through the click handler: a refused confirmer changes nothing and is
// told why; the approver's click confirms and makes the one job.
func TestConfirm_ApproversAndTwoPerson(t *testing.T) {
	ctx := context.Background()
	tb := newTestBot(t, Options{AllowedUsers: []string{"U0REQ1", "U0CNF2"}, Approvers: []string{"U0REQ1", "U0BOSS"}, TwoPerson: true})
	r := tb.pending(t, nil)

	for _, user := range []string{"U0CNF2", "U0REQ1"} { // not an approver; the requester
		tb.Interaction(ctx, click(user, "C1", "leave_confirm", r.ID))
		tb.background.Wait()
		got, err := tb.db.Requests().Request(ctx, r.ID)
		require.NoError(t, err)
		require.Equal(t, leave.Pending, got.State, "%s must not confirm", user)
	}
	refusals := tb.slack.Answered("chat.postEphemeral")
	require.Len(t, refusals, 2)
	require.Contains(t, refusals[0].Form.Get("text"), "WALEAVE_APPROVERS")
	require.Contains(t, refusals[1].Form.Get("text"), "WALEAVE_TWO_PERSON")

	tb.Interaction(ctx, click("U0BOSS", "C1", "leave_confirm", r.ID))
	got, err := tb.db.Requests().Request(ctx, r.ID)
	require.NoError(t, err)
	require.Equal(t, leave.Confirmed, got.State)
	require.Equal(t, "U0BOSS", got.ConfirmedBy)
}
