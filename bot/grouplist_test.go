package bot

import (
	"context"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/waleave/waleave/fake"
	"github.com/waleave/waleave/leave"
	"github.com/waleave/waleave/store"
	"github.com/waleave/waleave/whatsapp"
)

// confirmedBulk records a bulk request over jids with a goodbye, its card
// in Slack, and confirms it; it returns its groups' requests.
func confirmedBulk(t *testing.T, tb *testBot, jids ...string) []*store.Request {
	t.Helper()
	ctx := context.Background()
	tb.gw.Self = "79000000001@s.whatsapp.net"
	tb.gw.GroupFunc = func(_ context.Context, ref string) (whatsapp.Group, error) { return memberGroup(ref), nil }
	now := tb.clock.Now()
	parent := &store.Request{ChannelID: "C1", RequesterID: "U0REQ1", Goodbye: "bye", GroupSubject: "groups matching “ops”", CreatedAt: now, ExpiresAt: now.Add(24 * time.Hour)}
	var children []*store.Request
	for _, jid := range jids {
		children = append(children, &store.Request{GroupJID: jid})
		tb.gw.GroupList = append(tb.gw.GroupList, whatsapp.GroupSummary{JID: jid, Subject: "ops " + jid[:4]})
	}
	tb.gw.GroupList = append(tb.gw.GroupList, whatsapp.GroupSummary{JID: "120363400000000009@g.us", Subject: "kept"})
	require.NoError(t, tb.db.Requests().CreateBulk(ctx, parent, children))
	require.NoError(t, tb.db.Outbox().CardPosted(ctx, parent.ID, testCardTS, parent.CardVersion))
	require.NoError(t, tb.confirm(ctx, parent.ID, "U0CNF2", now))
	return children
}

// A group of a bulk request costs the gateway its only-admin check, its
// goodbye, its leave and a share of a group list: no invite link before
// it and no lookup of its own after it (Green API's getGroupData is one
// a second, ten times slower than leaveGroup), where the list no longer
// names it.
func TestBulkGroup_LeavesWithoutDetailsAndVerifiesByTheList(t *testing.T) {
	tb := newTestBot(t, Options{})
	children := confirmedBulk(t, tb, "120363400000000001@g.us", "120363400000000002@g.us", "120363400000000003@g.us")
	for _, c := range children {
		got, _ := runUntilOver(t, tb, c.ID)
		require.Equal(t, leave.Done, got.State)
		require.Equal(t, leave.OutcomeLeft, got.Outcome)
		require.Equal(t, store.Verified, got.Verification, "verified by the list")
		require.Empty(t, got.InviteLink)
	}
	// One lookup each, before anything is sent (is the number the
	// group's only admin?), and none after the leave.
	require.Len(t, tb.gw.CallsOf("group"), len(children), "one lookup each")
	require.Len(t, tb.gw.CallsOf("groups"), len(children), "one list each, run one after the other")
	require.Len(t, tb.gw.CallsOf("send"), len(children))
	require.Equal(t, len(children), tb.gw.LeaveCount())

	// One group alone keeps its details and its own lookup.
	r := confirmedRequest(t, tb, func(r *store.Request) { r.GroupJID = "120363400000000004@g.us" })
	got, _ := runUntilOver(t, tb, r.ID)
	require.Equal(t, store.Verified, got.Verification)
	require.Len(t, tb.gw.CallsOf("group"), len(children)+2, "details before, lookup after")
	require.Len(t, tb.gw.CallsOf("groups"), len(children))
}

// A list that still names the group is no proof that the instance is in
// it (Green API refreshes getChats at most once a minute): the group is
// looked up on its own, which tells.
func TestBulkGroup_ListStillNamingTheGroupIsLookedUp(t *testing.T) {
	tb := newTestBot(t, Options{})
	children := confirmedBulk(t, tb, "120363400000000001@g.us")
	tb.gw.Stay = true // WhatsApp kept the instance in the group
	got, _ := runUntilOver(t, tb, children[0].ID)
	require.Equal(t, leave.OutcomeStillMember, got.Outcome)
	require.Equal(t, []string{"group", "groups", "group"}, filterCalls(tb.gw.CallsOf(""), "groups", "group"), "the admin check, the list, then the group's own lookup")
}

func filterCalls(calls []string, keep ...string) []string {
	var out []string
	for _, c := range calls {
		for _, k := range keep {
			if c == k {
				out = append(out, c)
			}
		}
	}
	return out
}

// heldLists is a gateway client whose group lists go out (and say so,
// as the HTTP clients do) when send lets them, and answer when answer
// does.
type heldLists struct {
	*fake.Gateway
	send, sent, answer chan struct{}
}

func (h *heldLists) Pace(string) float64 { return 10 }

func (h *heldLists) Groups(ctx context.Context) ([]whatsapp.GroupSummary, error) {
	<-h.send
	whatsapp.Sending(ctx)()
	h.sent <- struct{}{}
	<-h.answer
	return h.Gateway.Groups(ctx)
}

// Every verification gets a list whose call goes out after it asked (a
// list from before its leave would still name the group): those who ask
// before the newest list has gone out share it, and one who asks after
// gets a new one.
func TestGroupLists_ShareTheCallNotYetSent(t *testing.T) {
	tb := newTestBot(t, Options{})
	gw := &heldLists{Gateway: tb.gw, send: make(chan struct{}), sent: make(chan struct{}), answer: make(chan struct{})}
	n := tb.numbers[0]
	n.Gateway = gw
	first := tb.listAfterNow(n)
	var wg sync.WaitGroup
	for range 5 {
		wg.Go(func() { require.Same(t, first, tb.listAfterNow(n), "not sent yet: shared") })
	}
	wg.Wait()
	gw.send <- struct{}{}
	<-gw.sent
	second := tb.listAfterNow(n)
	require.NotSame(t, first, second, "asked after the first went out")
	require.Same(t, second, tb.listAfterNow(n))
	close(gw.answer)
	<-first.done
	gw.send <- struct{}{}
	<-gw.sent
	<-second.done
	require.Len(t, tb.gw.CallsOf("groups"), 2)
	close(gw.send)
	go func() {
		for range gw.sent {
		}
	}()
	third := tb.listAfterNow(n)
	<-third.done
	require.NotSame(t, second, third, "a list that ended before the ask is not reused")
	require.NoError(t, third.err)
	require.Len(t, third.groups, len(tb.gw.GroupList))

	// A gateway that does not say when it sends: each asks its own.
	n.Gateway = tb.gw
	a, b := tb.listAfterNow(n), tb.listAfterNow(n)
	require.NotSame(t, a, b)
}

// pacedGateway is a gateway client that tells its pace.
type pacedGateway struct {
	*fake.Gateway
	pace map[string]float64
}

func (p pacedGateway) Pace(method string) float64 { return p.pace[method] }

// A number runs about three seconds of the slowest call each bulk group
// makes, plus two, at once: seven on RyzeAPI's 100 calls a minute (at
// the client's margin), five on Green API, whose getGroupData is one a
// second, twenty (the most River runs) for a gateway that does not say.
func TestBulkTurns_AFewSecondsOfTheGatewaysPace(t *testing.T) {
	ryze := 100.0 / 60 * 0.965
	for _, tc := range []struct {
		name  string
		pace  map[string]float64
		turns int
	}{
		{"ryzeapi", map[string]float64{"Group": ryze, "SendText": ryze, "Leave": ryze, "Groups": ryze}, 7},
		{"greenapi", map[string]float64{"Group": 0.965, "SendText": 48.25, "Leave": 9.65, "Groups": 0.965}, 5},
		{"unknown", nil, 20},
	} {
		t.Run(tc.name, func(t *testing.T) {
			tb := newTestBot(t, Options{})
			n := tb.numbers[0]
			n.Gateway = pacedGateway{Gateway: tb.gw, pace: tc.pace}
			for i := range tc.turns {
				require.True(t, tb.bulkTurn(n, fmt.Sprint("g", i)), "turn %d", i+1)
			}
			require.False(t, tb.bulkTurn(n, "late"), "one more waits")
			require.True(t, tb.bulkTurn(n, "g0"), "a group keeps its turn from run to run")
			tb.bulkDone(n, "g0")
			ok := tb.bulkTurn(n, "late")
			require.True(t, ok, "a turn given back is taken")
		})
	}
}

// A bulk group whose only-admin lookup was never sent (its turn under the
// gateway's rate did not come before the lookup's deadline, behind the
// other groups' calls) does not go ahead unchecked: it asks again, and is
// not left when the number is the group's only admin.
func TestBulkGroup_AdminCheckNotSentIsAskedAgain(t *testing.T) {
	tb := newTestBot(t, Options{})
	children := confirmedBulk(t, tb, "120363400000000001@g.us")
	asked := 0
	tb.gw.GroupFunc = func(_ context.Context, ref string) (whatsapp.Group, error) {
		asked++
		if asked == 1 {
			return whatsapp.Group{}, &whatsapp.Error{Provider: "greenapi", Op: "getGroupData", Kind: whatsapp.ErrRateLimited, Message: "not sent: no slot under the client-side rate limit before the deadline"}
		}
		return onlyAdminGroup(ref), nil
	}
	got, _ := runUntilOver(t, tb, children[0].ID)
	require.Equal(t, leave.OutcomeOnlyAdmin, got.Outcome)
	require.Zero(t, tb.gw.LeaveCount())
	require.Empty(t, tb.gw.CallsOf("send"))
	require.Equal(t, 2, asked)
}
