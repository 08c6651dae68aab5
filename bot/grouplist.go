package bot

import (
	"context"
	"math"
	"sync"
	"time"

	"github.com/waleave/waleave/store"
	"github.com/waleave/waleave/whatsapp"
)

// groupLists shares one number's group-list calls among the groups of bulk
// requests that verify their leave (SPEC §5, §9). A leave is checked
// against a list whose call goes out after the leave was answered, so one
// list serves every group whose leave ended before it went out: one list
// call, at the gateway's list rate, checks as many leaves as ended while
// it waited for its turn, where a lookup of each group would bound the
// whole run at the lookup's rate (Green API's getGroupData: one a
// second). The gateway clients say when a call is about to go out
// (whatsapp.WithSending); until then the newest list takes more askers.
type groupLists struct {
	mu sync.Mutex
	// open is the newest call, joinable while it has not gone out.
	open *groupList
}

// groupList is one group-list call; done is closed when it ends.
type groupList struct {
	done chan struct{}
	// sent is set (under groupLists.mu) once the call is going out, or
	// may be: from its start for a gateway that does not say.
	sent   bool
	groups map[string]bool
	err    error
}

// listAfterNow returns a list call that goes out after this call to it:
// the newest one while it has not gone out, or a new one.
func (b *Bot) listAfterNow(n *number) *groupList {
	c := n.lists
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.open != nil && !c.open.sent {
		return c.open
	}
	_, says := n.Gateway.(whatsapp.Pacer)
	l := &groupList{done: make(chan struct{}), sent: !says}
	c.open = l
	sent := func() {
		c.mu.Lock()
		l.sent = true
		c.mu.Unlock()
	}
	b.background.Add(1)
	go func() {
		defer b.background.Done()
		ctx, cancel := context.WithTimeout(b.ctx, b.opts.GatewayTimeout)
		defer cancel()
		groups, err := n.Gateway.Groups(whatsapp.WithSending(ctx, sent))
		sent() // an answer, or a failure: nobody joins it now
		b.countGateway(n, "groups", err)
		l.err = err
		if err == nil {
			l.groups = make(map[string]bool, len(groups))
			for _, g := range groups {
				l.groups[g.JID] = true
			}
		}
		close(l.done)
	}()
	return l
}

// lookUpInList checks a bulk request's group against a group list taken
// after its leave, within verifyTimeout. Only absence is evidence: a list
// that still names the group may be one the gateway refreshes slowly
// (Green API's getChats, at most once a minute) or may keep the chats of
// groups left, and so may an empty list, which a gateway in trouble can
// give; those are looked up as for one group (lookUpMembership), which
// tells a group still holding the instance, within what is left of the
// time. A list that does not come in time leaves the leave not
// verified: the lookup would queue behind the same rate.
func (b *Bot) lookUpInList(ctx context.Context, n *number, groupJID string, d time.Duration) lookup {
	ctx, cancel := context.WithTimeout(ctx, d)
	defer cancel()
	l := b.listAfterNow(n)
	select {
	case <-l.done:
	case <-ctx.Done():
		return lookup{membershipUnknown, "group list: none came in time", 0}
	}
	switch {
	case l.err != nil:
		return lookup{membershipUnknown, "group list failed: " + errText(l.err), statusOf(l.err)}
	case len(l.groups) > 0 && !l.groups[groupJID]:
		return lookup{membershipGone, "group list: the instance's groups, listed after the leave, do not include it", 200}
	}
	return b.lookUpMembership(ctx, n, groupJID)
}

// verifyTimeout bounds the check after a leave: VerifyTimeout for one
// group; for a group of a bulk request, also the time its run did not
// spend on the details (2·DetailsTimeout, see prepareLeave), since its
// list is shared and comes at the list's rate.
func (b *Bot) verifyTimeout(r *store.Request) time.Duration {
	if r.ParentID != "" {
		return 2*b.opts.DetailsTimeout + b.opts.VerifyTimeout
	}
	return b.opts.VerifyTimeout
}

// verifyLeave is the lookup after a leave: the group's own, or, for a
// group of a bulk request, a shared group list first (lookUpInList).
func (b *Bot) verifyLeave(ctx context.Context, n *number, r *store.Request) lookup {
	if r.ParentID != "" {
		return b.lookUpInList(ctx, n, r.GroupJID, b.verifyTimeout(r))
	}
	return b.lookUpMembership(ctx, n, r.GroupJID)
}

// bulkTurns bounds how many groups of bulk requests one number works on at
// once in this process, from a group's first run to its end. Every call
// of a group waits its turn at the gateway's rate, in one queue per rate
// (RyzeAPI's and Wawp's are one per instance): a thousand groups started
// at once would queue their calls, and the group list that verifies
// their leaves, far longer than a call may wait. A few seconds' worth of
// the slowest call each group makes, and a couple more for the groups
// between calls, keep the queue full and short.
type bulkTurns struct {
	mu sync.Mutex
	k  int
	// held are the groups (request IDs) holding a turn, with when each
	// last ran.
	held map[string]time.Time
}

const (
	// bulkTurnsBack is the shortest time a group that got no turn is put
	// back for (up to twice that): long enough that River, which runs
	// the jobs due longest first, takes the groups under way first,
	// short enough that a freed turn soon finds a group.
	bulkTurnsBack = 10 * time.Second
	// bulkTurnsHold is how long a turn is kept for a group that has not
	// run since: one that went to another replica, or was stopped, does
	// not keep it for ever.
	bulkTurnsHold = 2 * time.Minute
	// bulkTurnsSpan is how many seconds of the slowest call run at once.
	bulkTurnsSpan = 3
	// bulkTurnsMax is the bound for gateways that do not tell their pace
	// (and the most River runs at once anyway).
	bulkTurnsMax = 20
)

// bulkTurnsFor is how many groups of bulk requests run at once on gw.
func bulkTurnsFor(gw whatsapp.Gateway) int {
	p, ok := gw.(whatsapp.Pacer)
	if !ok {
		return bulkTurnsMax
	}
	slowest := math.Inf(1)
	for _, m := range []string{"Group", "SendText", "Leave"} {
		if r := p.Pace(m); r > 0 {
			slowest = min(slowest, r)
		}
	}
	if math.IsInf(slowest, 1) {
		return bulkTurnsMax
	}
	return min(int(math.Ceil(bulkTurnsSpan*slowest))+2, bulkTurnsMax)
}

// bulkTurn reports whether the group id of a bulk request may run on n:
// it holds a turn, or takes a free one, which it keeps until bulkDone.
func (b *Bot) bulkTurn(n *number, id string) bool {
	t := n.bulk
	t.mu.Lock()
	defer t.mu.Unlock()
	if t.held == nil {
		t.k, t.held = bulkTurnsFor(n.Gateway), map[string]time.Time{}
	}
	now := time.Now()
	if _, ok := t.held[id]; ok {
		t.held[id] = now
		return true
	}
	for other, at := range t.held {
		if now.Sub(at) > bulkTurnsHold {
			delete(t.held, other)
		}
	}
	if len(t.held) >= t.k {
		return false
	}
	t.held[id] = now
	return true
}

// bulkDone gives back the turn of the group id, which has ended.
func (b *Bot) bulkDone(n *number, id string) {
	t := n.bulk
	t.mu.Lock()
	defer t.mu.Unlock()
	delete(t.held, id)
}
