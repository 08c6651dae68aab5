package fake

import (
	"context"
	"errors"
	"sync"
	"time"

	"github.com/waleave/waleave/whatsapp"
)

// Gateway is an in-memory whatsapp.Gateway for the bot's unit tests (the
// real clients are tested against Provider, which speaks each provider's
// wire format, in package main, and against the recorded answers in
// package whatsapp).
//
// The exported fields are optional; their zero values keep the defaults
// (Group fails with ErrInvalid, Groups lists GroupList, Promote works,
// State and Me name no instance JID). A test that changes them while the bot
// runs does so inside Locked.
type Gateway struct {
	mu     sync.Mutex
	leaves []string
	sends  []string
	// GroupList is what Groups answers (less the groups left), unless
	// GroupsErr is set.
	GroupList []whatsapp.GroupSummary
	GroupsErr error
	// GroupFunc answers Group for the groups not left.
	GroupFunc func(ctx context.Context, ref string) (whatsapp.Group, error)
	// PromoteFunc answers Promote.
	PromoteFunc func(group, participant string) error
	// Self is the instance's own JID, as State and Me name it.
	Self string
	// SendErrs and LeaveErrs are the answers of the next SendText and
	// Leave calls, in order; once used up, the calls succeed.
	SendErrs, LeaveErrs []error
	// left holds the groups a Leave left (one that succeeded or answered
	// ErrUnconfirmed, a success status): Group answers them with the
	// gateway's not-a-member error, as a group the instance is out of,
	// unless Stay is set (WhatsApp kept the instance in the group
	// whatever the gateway answered).
	left map[string]bool
	Stay bool
	// LastActive is when each group last had a message, as LastActivity
	// answers; a group not in it (or with a zero time) is one whose last
	// activity the gateway cannot tell.
	LastActive map[string]time.Time
	// ActivityErrs, when a group has one, is LastActivity's answer for
	// it instead, every time.
	ActivityErrs map[string]error
	// OnActivity, when set, runs in LastActivity (without the lock)
	// before it answers, with the group asked about (a test's crash).
	OnActivity func(group string)
	// OnLeave, when set, runs in Leave (with the lock held) after the
	// gateway acted and before it answers (a test's crash).
	OnLeave func()
	// calls lists every call in order ("leave", "send", "group",
	// "groups", "promote", "state", "me", "activity", and what wrappers add with
	// Called),
	// for tests of ordering and call counts.
	calls []string
	// checked lists the groups LastActivity was asked about.
	checked []string
}

var _ whatsapp.Gateway = (*Gateway)(nil)

// Locked runs fn with the gateway's lock held, for changing its fields
// while the bot may be calling it.
func (g *Gateway) Locked(fn func()) {
	g.mu.Lock()
	defer g.mu.Unlock()
	fn()
}

// Called records a call of op (for wrappers that add a method).
func (g *Gateway) Called(op string) {
	g.mu.Lock()
	defer g.mu.Unlock()
	g.calls = append(g.calls, op)
}

// CallsOf returns the calls made so far, in order, optionally only op's.
func (g *Gateway) CallsOf(op string) []string {
	g.mu.Lock()
	defer g.mu.Unlock()
	var out []string
	for _, c := range g.calls {
		if op == "" || c == op {
			out = append(out, c)
		}
	}
	return out
}

// LeaveCount is the number of Leave calls so far.
func (g *Gateway) LeaveCount() int {
	g.mu.Lock()
	defer g.mu.Unlock()
	return len(g.leaves)
}

func (g *Gateway) Leave(_ context.Context, jid string) (whatsapp.LeaveResult, error) {
	g.Called("leave")
	g.mu.Lock()
	defer g.mu.Unlock()
	g.leaves = append(g.leaves, jid)
	var err error
	if len(g.LeaveErrs) > 0 {
		err = g.LeaveErrs[0]
		g.LeaveErrs = g.LeaveErrs[1:]
	}
	if err == nil || errors.Is(err, whatsapp.ErrUnconfirmed) {
		if g.left == nil {
			g.left = map[string]bool{}
		}
		g.left[jid] = true
	}
	if g.OnLeave != nil {
		g.OnLeave()
	}
	return whatsapp.LeaveResult{}, err
}

func (g *Gateway) SendText(_ context.Context, chat, text string) (string, error) {
	g.Called("send")
	g.mu.Lock()
	defer g.mu.Unlock()
	g.sends = append(g.sends, chat+": "+text)
	if len(g.SendErrs) > 0 {
		err := g.SendErrs[0]
		g.SendErrs = g.SendErrs[1:]
		return "", err
	}
	return "M1", nil
}

func (g *Gateway) Group(ctx context.Context, ref string) (whatsapp.Group, error) {
	g.Called("group")
	g.mu.Lock()
	fn, gone := g.GroupFunc, g.left[ref] && !g.Stay
	g.mu.Unlock()
	if gone {
		return whatsapp.Group{}, &whatsapp.Error{Provider: "greenapi", Op: "getGroupData", Status: 404, Kind: whatsapp.ErrNotMember}
	}
	if fn != nil {
		return fn(ctx, ref)
	}
	return whatsapp.Group{}, whatsapp.ErrInvalid
}

// Groups answers GroupList, less the groups a Leave left (unless Stay).
func (g *Gateway) Groups(context.Context) ([]whatsapp.GroupSummary, error) {
	g.Called("groups")
	g.mu.Lock()
	defer g.mu.Unlock()
	if g.GroupsErr != nil {
		return nil, g.GroupsErr
	}
	if g.Stay || len(g.left) == 0 {
		return g.GroupList, nil
	}
	var out []whatsapp.GroupSummary
	for _, s := range g.GroupList {
		if !g.left[s.JID] {
			out = append(out, s)
		}
	}
	return out, nil
}

func (g *Gateway) Promote(_ context.Context, group, participant string) error {
	g.Called("promote")
	g.mu.Lock()
	fn := g.PromoteFunc
	g.mu.Unlock()
	if fn != nil {
		return fn(group, participant)
	}
	return nil
}

func (g *Gateway) State(context.Context) (whatsapp.State, error) {
	g.Called("state")
	g.mu.Lock()
	defer g.mu.Unlock()
	return whatsapp.State{Connected: true, Me: g.Self}, nil
}

func (g *Gateway) Me(context.Context) (string, error) {
	g.Called("me")
	g.mu.Lock()
	defer g.mu.Unlock()
	return g.Self, nil
}

// LastActivity answers from ActivityErrs and LastActive, and records
// the group asked about (ActivityChecks).
func (g *Gateway) LastActivity(_ context.Context, group string) (time.Time, error) {
	g.Called("activity")
	g.mu.Lock()
	g.checked = append(g.checked, group)
	on := g.OnActivity
	g.mu.Unlock()
	if on != nil {
		on(group)
	}
	g.mu.Lock()
	defer g.mu.Unlock()
	if err := g.ActivityErrs[group]; err != nil {
		return time.Time{}, err
	}
	return g.LastActive[group], nil
}

// ActivityChecks lists the groups LastActivity was asked about, in order.
func (g *Gateway) ActivityChecks() []string {
	g.mu.Lock()
	defer g.mu.Unlock()
	return append([]string(nil), g.checked...)
}

func (g *Gateway) DryRun() bool { return false }

// InviteLink is the link the group's details carry, as Green API's.
func (g *Gateway) InviteLink(_ context.Context, grp whatsapp.Group) (string, error) {
	return grp.InviteLink, nil
}
