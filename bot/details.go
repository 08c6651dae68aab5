package bot

import (
	"context"
	"strings"
	"sync"
	"time"

	"github.com/waleave/waleave/store"
	"github.com/waleave/waleave/whatsapp"
)

// detailsStore is what fetching a group's details needs of the store.
type detailsStore interface {
	NumberDirectoryGroup(ctx context.Context, number, jid string) (e store.DirectoryEntry, ok bool, err error)
	Request(ctx context.Context, id string) (*store.Request, error)
	SetDetails(ctx context.Context, id string, d store.Details, now time.Time) (bool, error)
}

const (
	// detailsTTL is how long a group's details are reused. A burst of
	// requests for one group then costs one getGroupData (Green API allows
	// one a second per instance), and a failure is not retried for every
	// card in the burst either.
	detailsTTL = 30 * time.Second
	// selfTTL is how long the instance's own JID is trusted; it changes
	// only when the instance is linked to another phone.
	selfTTL = time.Hour
	// selfRetry spaces out attempts to learn the instance's JID while the
	// gateway cannot tell it.
	selfRetry = time.Minute
	// maxSuccessors is how many participants are kept to offer as
	// successor: a static select shows at most 100 options.
	maxSuccessors = 100
)

// groupCache shares gateway.Group calls: one call per group at a time,
// and its answer reused for detailsTTL. Calls run under the bot's
// lifetime rather than the asker's context, so an asker that stops
// waiting (a card that is posted without details after DetailsTimeout)
// does not waste the call: the answer still arrives, for a late card
// update and for the next asker.
type groupCache struct {
	mu      sync.Mutex
	fetches map[string]*groupFetch

	// selfMu serialises lookups of the instance's own JID.
	selfMu    sync.Mutex
	self      string
	selfAt    time.Time
	selfTried time.Time
}

// groupFetch is one gateway.Group call; done is closed when it ends.
type groupFetch struct {
	done  chan struct{}
	group whatsapp.Group
	self  string
	err   error
	at    time.Time
}

// fetchGroup returns the call for jid that is running, or that finished
// less than maxAge ago, or a new one.
func (b *Bot) fetchGroup(n *number, jid string, maxAge time.Duration) *groupFetch {
	c := n.groupInfo
	now := b.opts.Now()
	c.mu.Lock()
	defer c.mu.Unlock()
	if f := c.fetches[jid]; f != nil {
		select {
		case <-f.done:
			if now.Sub(f.at) < maxAge {
				return f
			}
		default:
			return f // in flight: share it
		}
	}
	// Drop finished entries that can no longer be reused, so the map
	// holds only recent groups.
	for k, f := range c.fetches {
		select {
		case <-f.done:
			if now.Sub(f.at) >= detailsTTL {
				delete(c.fetches, k)
			}
		default:
		}
	}
	f := &groupFetch{done: make(chan struct{})}
	c.fetches[jid] = f
	b.background.Add(1)
	go func() {
		defer b.background.Done()
		ctx, cancel := context.WithTimeout(b.ctx, b.opts.GatewayTimeout)
		defer cancel()
		var wg sync.WaitGroup
		var self string
		wg.Go(func() { self = b.selfJID(ctx, n) })
		g, err := n.Gateway.Group(ctx, jid)
		b.countGateway(n, "group", err)
		wg.Wait()
		c.mu.Lock()
		f.group, f.self, f.err, f.at = g, self, err, b.opts.Now()
		c.mu.Unlock()
		close(f.done)
	}()
	return f
}

// forgetFetch drops f from n's cache, if it is still there, so that the
// next asker starts a call of its own: for a call the client never sent,
// whose failure says nothing about the group.
func (b *Bot) forgetFetch(n *number, jid string, f *groupFetch) {
	c := n.groupInfo
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.fetches[jid] == f {
		delete(c.fetches, jid)
	}
}

// wait waits up to d for the call to end and reports whether it did.
func (f *groupFetch) wait(ctx context.Context, d time.Duration) bool {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-f.done:
		return true
	case <-t.C:
		return false
	case <-ctx.Done():
		return false
	}
}

// selfJID is the instance's own JID, or "" when the gateway cannot tell:
// State.Me where the state answer has it, else the gateway's own Me call.
func (b *Bot) selfJID(ctx context.Context, n *number) string {
	c := n.groupInfo
	c.selfMu.Lock()
	defer c.selfMu.Unlock()
	now := b.opts.Now()
	if c.self != "" && now.Sub(c.selfAt) < selfTTL {
		return c.self
	}
	if !c.selfTried.IsZero() && now.Sub(c.selfTried) < selfRetry {
		return c.self // possibly stale, which beats asking every card
	}
	c.selfTried = now
	me, err := n.Gateway.Me(ctx)
	b.countGateway(n, "me", err)
	if err != nil {
		b.log.Info("the instance's own JID is unknown; cards will not say whether it is an admin", "err", err)
		return c.self
	}
	if me == "" {
		b.log.Info("the instance's own JID is unknown (the gateway does not report it); cards will not say whether it is an admin")
		return c.self
	}
	c.self, c.selfAt = me, now
	return me
}

// userPart is the account a JID names, for comparing participants across
// the gateways' spellings: "79001234567@c.us", "79001234567@s.whatsapp.net"
// and "79001234567:12@s.whatsapp.net" (a device) are one person. Hidden
// numbers (@lid) are a separate space and keep their domain.
func userPart(jid string) string {
	user, domain, _ := strings.Cut(jid, "@")
	user, _, _ = strings.Cut(user, ":")
	if domain == "lid" {
		return user + "@lid"
	}
	return user
}

// detailsOf turns a gateway's group answer into what the card shows.
// Whether the instance is an admin needs its own JID among the
// participants; without it the details are partial and the card makes no
// claim about the instance's role.
func detailsOf(g whatsapp.Group, self string) store.Details {
	d := store.Details{State: store.DetailsPartial, Subject: strings.TrimSpace(g.Subject), Size: g.Size}
	if d.Size == 0 {
		d.Size = len(g.Participants)
	}
	me := userPart(self)
	var found, meAdmin bool
	admins := 0
	for _, p := range g.Participants {
		if p.IsAdmin {
			admins++
		}
		if self != "" && userPart(p.JID) == me {
			found, meAdmin = true, p.IsAdmin
		}
	}
	if !found {
		return d
	}
	d.State, d.IsAdmin = store.DetailsOK, meAdmin
	d.OnlyAdmin = meAdmin && admins == 1
	if d.OnlyAdmin {
		for _, p := range g.Participants {
			if userPart(p.JID) != me && len(d.Successors) < maxSuccessors {
				d.Successors = append(d.Successors, p.JID)
			}
		}
	}
	return d
}

// withDetails fetches a pending request's group details before its card
// is first posted, waiting at most DetailsTimeout: a slow gateway delays
// the card by that much and no more, and the card then says the details
// are unavailable. It runs in the outbox, after the command was
// acknowledged. If the answer comes later, the card is updated then.
func (b *Bot) withDetails(ctx context.Context, r *store.Request) *store.Request {
	f := b.fetchGroup(b.num(r.Number), r.GroupJID, detailsTTL)
	d := store.Details{State: store.DetailsUnavailable}
	arrived := f.wait(ctx, b.opts.DetailsTimeout)
	if arrived && f.err == nil {
		d = detailsOf(f.group, f.self)
	} else if arrived {
		b.log.Info("group details unavailable", "request", r.ID, "group", r.GroupJID, "err", f.err)
	}
	if d.Subject == "" && r.GroupSubject == "" {
		// The gateway did not name the group (Wawp never does): the
		// directory may.
		if e, ok, err := b.detailsStore.NumberDirectoryGroup(ctx, r.Number, r.GroupJID); err == nil && ok {
			d.Subject = e.Subject
		}
	}
	if _, err := b.detailsStore.SetDetails(ctx, r.ID, d, b.opts.Now()); err != nil {
		b.log.Error("store group details", "request", r.ID, "err", err)
		return r
	}
	if !arrived {
		b.lateDetails(r.ID, f)
	}
	fresh, err := b.detailsStore.Request(ctx, r.ID)
	if err != nil {
		return r
	}
	return fresh
}

// lateDetails puts details that arrived after the card was posted on the
// card, while the request is still pending: an only-admin warning that
// was merely slow still reaches the confirmer.
func (b *Bot) lateDetails(id string, f *groupFetch) {
	b.background.Add(1)
	go func() {
		defer b.background.Done()
		select {
		case <-f.done:
		case <-b.ctx.Done():
			return
		}
		if f.err != nil {
			return
		}
		// The card is updated when they were stored (see store.OnOwed).
		if _, err := b.detailsStore.SetDetails(b.ctx, id, detailsOf(f.group, f.self), b.opts.Now()); err != nil {
			b.log.Warn("store late group details", "request", id, "err", err)
		}
	}()
}
