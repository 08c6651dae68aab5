package bot

import (
	"context"
	"sync"
)

// groupLists shares one number's group-list calls among the groups of bulk
// requests that verify their leave (SPEC §5, §9). A leave is checked
// against a list whose call started after the leave was answered, so each
// list serves every group whose leave ended before it started: one list
// call, at the gateway's list rate, checks as many leaves as ended in the
// meantime, where a lookup of each group would bound the whole run at the
// lookup's rate (Green API's getGroupData: one a second). At most one
// call runs at a time and at most one waits to start after it.
type groupLists struct {
	mu sync.Mutex
	// cur is the call running or last run; next, when set, starts when
	// cur ends and serves everyone who asked while cur was running.
	cur, next *groupList
}

// groupList is one group-list call; done is closed when it ends.
type groupList struct {
	done   chan struct{}
	groups map[string]bool
	err    error
}

// listAfterNow returns a list call that starts after this call to it:
// the one waiting to start, or a new one, started at once when no call
// is running and after the running one otherwise.
func (b *Bot) listAfterNow(n *number) *groupList {
	c := n.lists
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.next != nil {
		return c.next
	}
	l := &groupList{done: make(chan struct{})}
	running := c.cur
	if running != nil {
		select {
		case <-running.done:
			running = nil
		default:
		}
	}
	if running == nil {
		c.cur = l
	} else {
		c.next = l
	}
	b.background.Add(1)
	go func() {
		defer b.background.Done()
		if running != nil {
			<-running.done
			c.mu.Lock()
			c.cur, c.next = l, nil
			c.mu.Unlock()
		}
		ctx, cancel := context.WithTimeout(b.ctx, b.opts.GatewayTimeout)
		defer cancel()
		groups, err := n.Gateway.Groups(ctx)
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
// after its leave, within VerifyTimeout. Only absence is evidence: a list
// that still names the group may be one the gateway refreshes slowly
// (Green API's getChats, at most once a minute) or may keep the chats of
// groups left; so may an empty list, which a gateway in trouble can give.
// Whatever the list cannot settle is looked up as for one group
// (lookUpMembership), within what is left of VerifyTimeout.
func (b *Bot) lookUpInList(ctx context.Context, n *number, groupJID string) lookup {
	ctx, cancel := context.WithTimeout(ctx, b.opts.VerifyTimeout)
	defer cancel()
	l := b.listAfterNow(n)
	select {
	case <-l.done:
		if l.err == nil && len(l.groups) > 0 && !l.groups[groupJID] {
			return lookup{membershipGone, "group list: the instance's groups, listed after the leave, do not include it", 200}
		}
	case <-ctx.Done():
	}
	return b.lookUpMembership(ctx, n, groupJID)
}

// verifyLeave is the lookup after a leave: the group's own, or, for a
// group of a bulk request, a shared group list first (lookUpInList).
func (b *Bot) verifyLeave(ctx context.Context, n *number, groupJID string, bulk bool) lookup {
	if bulk {
		return b.lookUpInList(ctx, n, groupJID)
	}
	return b.lookUpMembership(ctx, n, groupJID)
}
