package bot

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/slack-go/slack"

	"github.com/waleave/waleave/leave"
	"github.com/waleave/waleave/store"
	"github.com/waleave/waleave/templates"
	"github.com/waleave/waleave/whatsapp"
)

// Bulk offboarding (SPEC §9): /wa-leave bulk records one request (the
// parent) holding many groups (its children, one request each), which is
// confirmed, reminded and expired like one; after confirmation each group
// is its own leave job, the same as a single request's (leave.go). The
// parent's card shows the progress; its thread gets one summary.

// bulkStore is what bulk requests need of the store.
type bulkStore interface {
	CreateBulk(ctx context.Context, parent *store.Request, children []*store.Request) error
	Children(ctx context.Context, id string) ([]*store.Request, error)
	Request(ctx context.Context, id string) (*store.Request, error)
	Stop(ctx context.Context, id, by string, now time.Time) (*store.Request, error)
}

// bulkGroup is one group chosen for a bulk request: the number whose
// directory lists it ("" when unknown: a JID or invite code not in any
// directory), and its name.
type bulkGroup struct {
	number, jid, subject string
}

// errStaleScanNotReady: bulk --stale needs to know when each group last
// had a message, which this version cannot tell yet.
var errStaleScanNotReady = errors.New("stale scanning is not available yet")

// startStaleScan begins bulk --stale: finding the groups of the number
// with no message for cmd.Stale (and whose name contains cmd.Filter,
// when given), then recording the bulk request for them with recordBulk.
// It is the hook the stale scan plugs into; until it does, it refuses.
func (b *Bot) startStaleScan(_ context.Context, _ slack.SlashCommand, _ Command) (*slack.Msg, error) {
	return nil, errStaleScanNotReady
}

// requestBulk answers /wa-leave bulk: it resolves the groups (a filter or
// a list), chooses the number, and records the request, or says why not;
// nothing is recorded unless every group resolved.
func (b *Bot) requestBulk(ctx context.Context, sc slack.SlashCommand, cmd Command) *slack.Msg {
	if r, bad := templates.UnsafeGoodbyeRune(cmd.Goodbye); bad {
		b.metrics.commands.WithLabelValues("bad_input").Inc()
		return ephemeralMsg(templates.BadGoodbye(r))
	}
	if msg := b.overLimit(ctx, sc, b.opts.Now()); msg != nil {
		b.metrics.commands.WithLabelValues("limited").Inc()
		return msg
	}
	if cmd.From != "" && len(b.fromNumbers(cmd)) == 0 {
		b.metrics.commands.WithLabelValues("bad_input").Inc()
		return ephemeralMsg(templates.BadCommand(templates.UnknownNumber(cmd.From, b.numberNames())))
	}
	if cmd.Stale > 0 {
		msg, err := b.startStaleScan(ctx, sc, cmd)
		if errors.Is(err, errStaleScanNotReady) {
			b.metrics.commands.WithLabelValues("bad_input").Inc()
			return ephemeralMsg(templates.StaleScanNotReady())
		}
		if err != nil {
			b.log.Error("start stale scan", "err", err)
			return ephemeralMsg(templates.Internal())
		}
		return msg
	}
	var groups []bulkGroup
	var msg *slack.Msg
	if len(cmd.List) > 0 {
		groups, msg = b.bulkList(ctx, cmd)
	} else {
		groups, msg = b.bulkFilter(ctx, cmd)
	}
	if msg != nil {
		b.metrics.commands.WithLabelValues("bad_input").Inc()
		return msg
	}
	r, n, zoneUnknown, no := b.recordBulk(ctx, sc, cmd, groups)
	if no != nil {
		return no.msg
	}
	answer := templates.BulkRecorded(r.ID, n)
	if zoneUnknown {
		answer += " " + templates.ReadAsUTC()
	}
	return ephemeralMsg(b.say(answer))
}

// bulkFilter is every group of the directory (of --from's number, or of
// every number) whose name contains the filter, whatever its case. An
// empty match refreshes the directories once.
func (b *Bot) bulkFilter(ctx context.Context, cmd Command) ([]bulkGroup, *slack.Msg) {
	ns := b.fromNumbers(cmd)
	filter := strings.ToLower(cmd.Filter)
	match := func() ([]bulkGroup, error) {
		entries, err := b.directoryOf(ctx, ns)
		if err != nil {
			return nil, err
		}
		var out []bulkGroup
		for _, e := range entries {
			if containsFold(e.Subject, filter) {
				out = append(out, bulkGroup{number: e.Number, jid: e.JID, subject: e.Subject})
			}
		}
		return out, nil
	}
	groups, err := match()
	if err == nil && len(groups) == 0 {
		rctx, cancel := context.WithTimeout(ctx, lookupTimeout)
		if b.refreshDirectories(rctx, ns) == nil {
			groups, err = match()
		}
		cancel()
	}
	if err != nil {
		b.log.Error("read directory", "err", err)
		return nil, ephemeralMsg(templates.Internal())
	}
	if len(groups) == 0 {
		return nil, ephemeralMsg(templates.BulkNoMatch(cmd.Filter))
	}
	return groups, nil
}

// bulkList resolves each --list entry as a single group is resolved: a
// JID as it is, an invite code by asking the gateway, a name against the
// directory (an exact name wins over one that merely contains it). Names
// that match nothing, or several groups, are all reported at once.
func (b *Bot) bulkList(ctx context.Context, cmd Command) ([]bulkGroup, *slack.Msg) {
	ns := b.fromNumbers(cmd)
	entries, err := b.directoryOf(ctx, ns)
	if err != nil {
		b.log.Error("read directory", "err", err)
		return nil, ephemeralMsg(templates.Internal())
	}
	refreshed := false
	var (
		groups    []bulkGroup
		unknown   []string
		ambiguous = map[string][]string{}
	)
	for _, ref := range cmd.List {
		switch {
		case ref.JID != "":
			g := bulkGroup{jid: ref.JID}
			for _, e := range entries {
				if e.JID == ref.JID {
					g.number, g.subject = e.Number, e.Subject
					groups = append(groups, g)
				}
			}
			if g.number == "" {
				groups = append(groups, g)
			}
		case ref.InviteCode != "":
			lctx, cancel := context.WithTimeout(ctx, lookupTimeout)
			n := ns[0]
			grp, err := n.Gateway.Group(lctx, ref.InviteCode)
			cancel()
			b.countGateway(n, "group", err)
			if err != nil || !whatsapp.IsGroupJID(grp.JID) {
				b.log.Info("invite code lookup failed", "err", err)
				return nil, ephemeralMsg(templates.BadCommand(inviteProblem(err)))
			}
			g := bulkGroup{jid: grp.JID, subject: grp.Subject}
			for _, e := range entries {
				if e.JID == grp.JID {
					g.number = e.Number
					groups = append(groups, g)
				}
			}
			if g.number == "" {
				groups = append(groups, g)
			}
		default:
			matches := matchGroups(summaries(entries), ref.Name)
			if len(matches) == 0 && !refreshed {
				refreshed = true
				rctx, cancel := context.WithTimeout(ctx, lookupTimeout)
				if b.refreshDirectories(rctx, ns) == nil {
					if fresh, err := b.directoryOf(ctx, ns); err == nil {
						entries = fresh
						matches = matchGroups(summaries(entries), ref.Name)
					}
				}
				cancel()
			}
			switch len(matches) {
			case 0:
				unknown = append(unknown, ref.Name)
			case 1:
				for _, e := range entries {
					if e.JID == matches[0].JID {
						groups = append(groups, bulkGroup{number: e.Number, jid: e.JID, subject: e.Subject})
					}
				}
			default:
				for _, m := range matches {
					ambiguous[ref.Name] = append(ambiguous[ref.Name], m.Subject)
				}
			}
		}
	}
	if len(unknown) > 0 || len(ambiguous) > 0 {
		return nil, ephemeralMsg(templates.BulkUnresolved(unknown, ambiguous))
	}
	return groups, nil
}

// bulkNumber chooses the number that leaves the groups: --from's; the
// one number; else the number whose directory lists every group, and the
// requester is asked to choose when that is several or none.
func (b *Bot) bulkNumber(cmd Command, groups []bulkGroup) (string, *slack.Msg) {
	if cmd.From != "" {
		return b.fromNumbers(cmd)[0].Name, nil
	}
	if !b.several() {
		return b.numbers[0].Name, nil
	}
	in := map[string]map[string]bool{} // number → the groups it is in
	jids := map[string]bool{}
	for _, g := range groups {
		jids[g.jid] = true
		if g.number != "" {
			if in[g.number] == nil {
				in[g.number] = map[string]bool{}
			}
			in[g.number][g.jid] = true
		}
	}
	var all, some []string
	for _, n := range b.numbers {
		c := len(in[n.Name])
		if c == len(jids) {
			all = append(all, n.Name)
		}
		if c > 0 {
			some = append(some, n.Name)
		}
	}
	if len(all) == 1 {
		return all[0], nil
	}
	b.metrics.commands.WithLabelValues("which_number").Inc()
	if len(all) > 1 {
		return "", ephemeralMsg(templates.WhichNumber(all))
	}
	if len(some) == 0 {
		return "", ephemeralMsg(templates.NoNumberInGroup(b.numberNames()))
	}
	return "", ephemeralMsg(templates.WhichNumber(some))
}

// recordBulk checks and records a bulk request for groups, as record does
// a single one: the number, the limit (WALEAVE_BULK_MAX), the allow-list
// of the number, the time, and the goodbye (the default one rendered for
// each group). The stale scan records what it found through it too. n is
// how many groups the request holds (each group once).
func (b *Bot) recordBulk(ctx context.Context, sc slack.SlashCommand, cmd Command, groups []bulkGroup) (p *store.Request, n int, zoneUnknown bool, no *refusal) {
	number, msg := b.bulkNumber(cmd, groups)
	if msg != nil {
		return nil, 0, false, refusing(templates.BlockNumber, msg)
	}
	// One request per group, each group once. (A group given by its JID
	// that no directory lists has no number: it is the chosen one's.)
	seen := map[string]bool{}
	var children []*store.Request
	for _, g := range groups {
		if seen[g.jid] || (g.number != "" && g.number != number) {
			continue
		}
		seen[g.jid] = true
		children = append(children, &store.Request{GroupJID: g.jid, GroupSubject: g.subject})
	}
	if len(children) > b.opts.BulkMax {
		b.metrics.commands.WithLabelValues("bad_input").Inc()
		return nil, 0, false, refusing(templates.BlockGroup, ephemeralMsg(templates.BulkTooMany(len(children), b.opts.BulkMax)))
	}
	if !b.num(number).narrows(sc.UserID, sc.ChannelID) {
		b.metrics.commands.WithLabelValues("refused").Inc()
		return nil, 0, false, refusing(templates.BlockNumber, ephemeralMsg(templates.NotAllowedNumber(number)))
	}
	now := b.opts.Now()
	p = &store.Request{
		TeamID: sc.TeamID, ChannelID: sc.ChannelID, RequesterID: sc.UserID, ResponseURL: sc.ResponseURL,
		CreatedAt: now, ExpiresAt: now.Add(b.opts.RequestTTL), Number: number,
		GroupSubject: bulkDescription(cmd),
		Delivery:     deliveryOf(ctx), DeliveryUntil: now.Add(deliveryWindow),
	}
	zoneUnknown, no = b.schedule(ctx, sc, cmd, p, now)
	if no != nil {
		return nil, 0, false, no
	}
	switch {
	case cmd.NoGoodbye:
	case cmd.Goodbye != "":
		p.Goodbye = cmd.Goodbye
	case b.opts.DefaultGoodbye != nil:
		// Rendered for each group, as it would be for each on its own;
		// the card shows the first group's.
		for i, c := range children {
			text, err := b.opts.DefaultGoodbye.Render(templates.GoodbyeData{GroupSubject: c.GroupSubject, GroupJID: c.GroupJID, RequesterName: sc.UserName, Date: now})
			if err != nil {
				b.log.Error("render default goodbye", "err", err)
				return nil, 0, false, refusing(templates.BlockGoodbye, ephemeralMsg(templates.Internal()))
			}
			c.Goodbye = text
			if i == 0 {
				p.Goodbye = text
			}
		}
	}
	if err := b.bulkStore.CreateBulk(ctx, p, children); err != nil {
		if errors.Is(err, store.ErrRepeated) {
			b.repeated(p.Delivery)
			return nil, 0, false, refusing("", nil)
		}
		b.log.Error("record bulk request", "err", err)
		b.metrics.commands.WithLabelValues("error").Inc()
		return nil, 0, false, refusing(templates.BlockGroup, ephemeralMsg(templates.Internal()))
	}
	b.log.Info("bulk leave requested", "request", p.ID, "number", p.Number, "groups", len(children), "user", p.RequesterID, "channel", p.ChannelID)
	b.metrics.commands.WithLabelValues("recorded").Inc()
	return p, len(children), zoneUnknown, nil
}

// bulkDescription says how the groups of a bulk request were chosen, for
// its card (as the parent's GroupSubject).
func bulkDescription(cmd Command) string {
	switch {
	case len(cmd.List) > 0:
		return "the groups chosen"
	case cmd.Stale > 0 && cmd.Filter != "":
		return fmt.Sprintf("groups matching “%s” with no message for %s", cmd.Filter, humanAge(cmd.Stale))
	case cmd.Stale > 0:
		return "groups with no message for " + humanAge(cmd.Stale)
	}
	return fmt.Sprintf("groups matching “%s”", cmd.Filter)
}

// humanAge is an age in whole days (or hours below a day).
func humanAge(d time.Duration) string {
	if d < 24*time.Hour {
		return fmt.Sprintf("%dh", int(d.Hours()))
	}
	return fmt.Sprintf("%d days", int(d.Hours()/24))
}

// bulkOf is the card's view of the bulk request p: its groups, read
// afresh.
func (b *Bot) bulkOf(ctx context.Context, p *store.Request) (*templates.Bulk, error) {
	children, err := b.bulkStore.Children(ctx, p.ID)
	if err != nil {
		return nil, err
	}
	out := &templates.Bulk{Description: p.GroupSubject, Groups: bulkGroups(children)}
	if p.State != leave.Pending && p.ConfirmedBy != "" {
		// A confirmed request's canceller is who stopped it (store.Stop).
		out.StoppedBy = p.CancelledBy
	}
	return out, nil
}

func bulkGroups(children []*store.Request) []templates.BulkGroup {
	out := make([]templates.BulkGroup, len(children))
	for i, c := range children {
		out[i] = templates.BulkGroup{Name: c.GroupSubject, JID: c.GroupJID, State: c.State, Outcome: c.Outcome}
	}
	return out
}

// bulkSummary is the one thread reply of a bulk request that ended.
func (b *Bot) bulkSummary(ctx context.Context, p *store.Request) (string, error) {
	children, err := b.bulkStore.Children(ctx, p.ID)
	if err != nil {
		return "", err
	}
	return b.sayAbout(p, templates.BulkSummary(p.ID, p.GroupSubject, bulkGroups(children))), nil
}

// bulkStatus answers /wa-leave status <bulk request id>: every group and
// its outcome.
func (b *Bot) bulkStatus(ctx context.Context, p *store.Request) *slack.Msg {
	children, err := b.bulkStore.Children(ctx, p.ID)
	if err != nil {
		b.log.Error("status", "err", err)
		return ephemeralMsg(templates.Internal())
	}
	l := templates.StatusLine{RequestID: p.ID, State: p.State, RequesterID: p.RequesterID, CreatedAt: p.CreatedAt, Number: b.shownNumber(p.Number)}
	return ephemeralMsg(templates.BulkStatus(l, p.GroupSubject, p.ConfirmedBy != "", bulkGroups(children), b.opts.Location))
}

// stop stops the running bulk request whose card's Stop was clicked:
// whoever may confirm it, and its requester, may, from its card.
func (b *Bot) stop(ctx context.Context, ic slack.InteractionCallback, a *slack.BlockAction) {
	id, user := a.Value, ic.User.ID
	r, err := b.bulkStore.Request(ctx, id)
	if err != nil {
		b.refuse(ic, "stop", "not_found", templates.NotFound(id), err)
		return
	}
	from := b.clickOrigin(ctx, &ic, a)
	mayConfirm := b.mayConfirm(user, r.ChannelID, "") == allowed &&
		(!b.narrowed() || len(b.opts.Approvers) > 0 || b.num(r.Number).narrows(user, r.ChannelID))
	if !r.OnCard(from) || (user != r.RequesterID && !mayConfirm) {
		b.refuse(ic, "stop", "refused", templates.NotAllowed(), nil)
		return
	}
	r, err = b.bulkStore.Stop(ctx, id, user, b.opts.Now())
	switch {
	case err == nil:
		b.log.Info("bulk leave stopped", "request", id, "user", user)
		b.metrics.interactions.WithLabelValues("stop", "ok").Inc()
	case errors.Is(err, store.ErrConflict):
		by := r.ConfirmedBy
		if r.CancelledBy != "" {
			by = r.CancelledBy
		}
		b.refuse(ic, "stop", "duplicate", templates.AlreadyDecided(r.State, by), nil)
	default:
		b.refuse(ic, "stop", "error", templates.Internal(), err)
	}
}

// onlyAdminChild reports whether the group of r, a group of a bulk
// request, is one the number must not leave: g, just looked up, shows
// the number as its only admin and nobody was chosen to take over (a
// bulk request chooses nobody). Leaving would hand the group to a random
// member; the group is left alone and listed in the summary, to be left
// on its own, where a successor can be chosen.
func onlyAdminChild(r *store.Request, g whatsapp.Group, self string) bool {
	if r.ParentID == "" || r.Successor != "" || self == "" || len(g.Participants) == 0 {
		return false
	}
	return detailsOf(g, self).OnlyAdmin
}
