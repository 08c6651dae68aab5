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
	require.NoError(t, tb.db.CreateBulk(ctx, parent, children))
	require.NoError(t, tb.db.CardPosted(ctx, parent.ID, testCardTS, parent.CardVersion))
	require.NoError(t, tb.confirm(ctx, parent.ID, "U0CNF2", now))
	return children
}

// A group of a bulk request costs the gateway its goodbye, its leave and
// a share of a group list: no details before it (Green API's
// getGroupData is one a second, ten times slower than leaveGroup) and no
// lookup of its own after it, where the list no longer names it.
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
	require.Empty(t, tb.gw.CallsOf("group"), "no group looked up on its own")
	require.Len(t, tb.gw.CallsOf("groups"), len(children), "one list each, run one after the other")
	require.Len(t, tb.gw.CallsOf("send"), len(children))
	require.Equal(t, len(children), tb.gw.LeaveCount())

	// One group alone keeps its details and its own lookup.
	r := confirmedRequest(t, tb, func(r *store.Request) { r.GroupJID = "120363400000000004@g.us" })
	got, _ := runUntilOver(t, tb, r.ID)
	require.Equal(t, store.Verified, got.Verification)
	require.Len(t, tb.gw.CallsOf("group"), 2, "details before, lookup after")
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
	require.Equal(t, []string{"groups", "group"}, filterCalls(tb.gw.CallsOf(""), "groups", "group"), "the list, then the group's own lookup")
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

// heldLists is a gateway whose group lists wait for a release.
type heldLists struct {
	*fake.Gateway
	release chan struct{}
}

func (h *heldLists) Groups(ctx context.Context) ([]whatsapp.GroupSummary, error) {
	select {
	case <-h.release:
	case <-ctx.Done():
	}
	return h.Gateway.Groups(ctx)
}

// Every verification gets a list whose call started after it asked (a
// list from before its leave would still name the group), and those who
// ask while one runs share the next: one call for all of them.
func TestGroupLists_ShareTheNextCall(t *testing.T) {
	tb := newTestBot(t, Options{})
	gw := &heldLists{Gateway: tb.gw, release: make(chan struct{})}
	n := tb.numbers[0]
	n.Gateway = gw
	first := tb.listAfterNow(n)
	var later []*groupList
	var mu sync.Mutex
	var wg sync.WaitGroup
	for range 5 {
		wg.Go(func() {
			l := tb.listAfterNow(n)
			mu.Lock()
			later = append(later, l)
			mu.Unlock()
		})
	}
	wg.Wait()
	for _, l := range later {
		require.NotSame(t, first, l, "the running call started before they asked")
		require.Same(t, later[0], l, "they share the next")
	}
	gw.release <- struct{}{}
	<-first.done
	gw.release <- struct{}{}
	<-later[0].done
	require.Len(t, tb.gw.CallsOf("groups"), 2)
	close(gw.release)
	again := tb.listAfterNow(n)
	<-again.done
	require.NotSame(t, later[0], again, "a list that ended before the ask is not reused")
	require.Len(t, tb.gw.CallsOf("groups"), 3)
	require.NoError(t, again.err)
	require.Equal(t, fmt.Sprint(len(tb.gw.GroupList)), fmt.Sprint(len(again.groups)))
}

// A call the client never sent, for want of a slot under the gateway's
// rate before its deadline, is a place in a queue, not a try: a bulk
// request's groups wait longer than WALEAVE_MAX_ATTEMPTS such turns
// without ending in rate_limit.
func TestLeave_CallsNotSentForTheRateDoNotUseTries(t *testing.T) {
	tb := newTestBot(t, Options{MaxAttempts: 3})
	notSent := func() error {
		return &whatsapp.Error{Provider: "greenapi", Op: "leaveGroup", Kind: whatsapp.ErrRateLimited, Message: "not sent: no slot under the client-side rate limit before the deadline"}
	}
	tb.gw.SendErrs = []error{notSent(), notSent()}
	tb.gw.LeaveErrs = []error{notSent(), notSent(), notSent(), notSent()}
	r := confirmedRequest(t, tb, func(r *store.Request) { r.Goodbye = "bye" })
	got, _ := runUntilOver(t, tb, r.ID)
	require.Equal(t, leave.OutcomeLeft, got.Outcome)
	require.Len(t, tb.gw.CallsOf("send"), 3)
	require.Equal(t, 5, tb.gw.LeaveCount())
}
