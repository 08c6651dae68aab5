package bot

import (
	"context"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/slack-go/slack"

	"github.com/waleave/waleave/leave"
	"github.com/waleave/waleave/store"
	"github.com/waleave/waleave/templates"
)

// homeStore is what the Home tab needs of the store.
type homeStore interface {
	ListRequests(ctx context.Context, f store.Filter) ([]*store.Request, error)
	Request(ctx context.Context, id string) (*store.Request, error)
}

// homeDebounce is the default least time between two Home tab publications for
// one person. views.publish is a Tier 4 method (100+ a minute per
// workspace); a burst of changes (a bulk run, many clicks) becomes one
// publication per person per interval.
const homeDebounce = 2 * time.Second

// homeViewerTTL is how long someone who opened the Home tab keeps getting
// it republished when something changes. Slack keeps the last published
// tab, so a person who comes back later sees it, and the open itself
// publishes afresh.
const homeViewerTTL = 24 * time.Hour

// homeTabs remembers who opened the Home tab lately, and whose
// publication is already due.
type homeTabs struct {
	mu      sync.Mutex
	viewers map[string]time.Time // user → when they last opened the tab
	due     map[string]bool
}

// AppHomeOpened publishes the Home tab for user, after the ack.
func (b *Bot) AppHomeOpened(team, enterprise, user string) {
	if user == "" || b.foreign(team, enterprise, false) != "" {
		return
	}
	h := b.homes
	h.mu.Lock()
	h.viewers[user] = b.opts.Now()
	h.mu.Unlock()
	b.afterAck(func(ctx context.Context) { b.publishHome(ctx, user) })
}

// homeChanged republishes the Home tab of everyone who opened it lately,
// each at most once per homeDebounce: something it shows changed (a
// request's card did).
func (b *Bot) homeChanged() {
	h := b.homes
	now := b.opts.Now()
	h.mu.Lock()
	defer h.mu.Unlock()
	for user, at := range h.viewers {
		if now.Sub(at) > homeViewerTTL {
			delete(h.viewers, user)
			continue
		}
		if h.due[user] {
			continue
		}
		h.due[user] = true
		time.AfterFunc(b.opts.HomeDebounce, func() {
			h.mu.Lock()
			delete(h.due, user)
			h.mu.Unlock()
			if b.ctx == nil || b.ctx.Err() != nil {
				return // the bot is stopping: no new follow-up
			}
			b.afterAck(func(ctx context.Context) { b.publishHome(ctx, user) })
		})
	}
}

// publishHome draws user's Home tab from the store and publishes it.
func (b *Bot) publishHome(ctx context.Context, user string) {
	view, err := b.homeFor(ctx, user)
	if err != nil {
		b.log.Error("draw the home tab", "user", user, "err", err)
		return
	}
	ctx, cancel := context.WithTimeout(ctx, b.opts.GatewayTimeout)
	defer cancel()
	_, err = b.slack.PublishViewContext(ctx, slack.PublishViewContextRequest{UserID: user, View: view})
	b.countSlack("views.publish", err)
	if err != nil {
		b.log.Warn("publish the home tab", "user", user, "err", err)
	}
}

// homeFor is user's Home tab as the store has it now.
func (b *Bot) homeFor(ctx context.Context, user string) (slack.HomeTabViewRequest, error) {
	now := b.opts.Now()
	h := templates.Home{DryRun: b.dryRun,
		Restricted: b.mayUseForm(user, "") != allowed && !slices.Contains(b.opts.Approvers, user)}
	item := func(r *store.Request) templates.HomeItem {
		return templates.HomeItem{RequestID: r.ID, Group: groupName(r), State: r.State, Outcome: r.Outcome,
			RequesterID: r.RequesterID, CreatedAt: r.CreatedAt, RunAt: r.RunAt, Version: r.CardVersion}
	}
	mine, err := b.homeStore.ListRequests(ctx, store.Filter{RequesterID: user, Limit: 5})
	if err != nil {
		return slack.HomeTabViewRequest{}, err
	}
	for _, r := range mine {
		h.Mine = append(h.Mine, item(r))
	}
	if !h.Restricted {
		pending, err := b.homeStore.ListRequests(ctx, store.Filter{States: []leave.State{leave.Pending}, Limit: 50})
		if err != nil {
			return slack.HomeTabViewRequest{}, err
		}
		for _, r := range pending {
			// Only what this person may confirm, on a card already in
			// Slack (a Home click is checked against that card's version).
			if r.CardTS != "" && now.Before(r.ExpiresAt) && b.mayConfirm(user, r.ChannelID, r.RequesterID) == allowed {
				h.Waiting = append(h.Waiting, item(r))
			}
		}
		confirmed, err := b.homeStore.ListRequests(ctx, store.Filter{States: []leave.State{leave.Confirmed}, Limit: 20})
		if err != nil {
			return slack.HomeTabViewRequest{}, err
		}
		for _, r := range confirmed {
			if r.RunAt.After(now) {
				h.Scheduled = append(h.Scheduled, item(r))
			}
		}
		done, err := b.homeStore.ListRequests(ctx, store.Filter{States: []leave.State{leave.Done, leave.Failed}, Limit: 5})
		if err != nil {
			return slack.HomeTabViewRequest{}, err
		}
		for _, r := range done {
			h.Outcomes = append(h.Outcomes, item(r))
		}
	}
	// Every number's state: connected when all are; otherwise the ones
	// that are not, by name when there are several.
	sctx, cancel := context.WithTimeout(ctx, lookupTimeout)
	defer cancel()
	h.ConnectionKnown, h.Connected = true, true
	var down []string
	for _, n := range b.numbers {
		st, err := n.Gateway.State(sctx)
		switch {
		case err != nil:
			h.ConnectionKnown = false
		case !st.Connected:
			h.Connected = false
			if b.several() {
				down = append(down, n.Name+": "+st.Raw)
			} else {
				down = append(down, st.Raw)
			}
		}
	}
	h.Connection = strings.Join(down, ", ")
	return templates.HomeView(h, b.opts.Location), nil
}

// homeClick is where a click on a Home tab's button says it came from:
// the request's own card as the store has it, at the version the Home
// tab showed. Home buttons carry that version in their block ID
// (templates.HomeBlockID) and the request's ID in their value; the click
// is then authorized exactly as a click on the card would be — in the
// request's own channel (its allow-list, approvers), and only if the
// request has not changed since the tab was drawn (store.ErrStale
// otherwise). ok is false for any click not from a Home tab.
func (b *Bot) homeClick(ctx context.Context, ic *slack.InteractionCallback, a *slack.BlockAction) (from store.Card, ok bool) {
	id, v, isHome := templates.HomeVersionFromBlockID(a.BlockID)
	if !isHome || ic.Container.Type != "view" || ic.View.Type != slack.VTHomeTab || id != a.Value {
		return store.Card{}, false
	}
	r, err := b.homeStore.Request(ctx, id)
	if err != nil || r.CardTS == "" {
		// No card yet: nothing a Home tab could have shown buttons for.
		return store.Card{Version: v}, true
	}
	return store.Card{ChannelID: r.ChannelID, TS: r.CardTS, Version: v}, true
}
