package bot

import (
	"context"
	"errors"
	"slices"
	"strings"
	"time"

	"github.com/slack-go/slack"

	"github.com/waleave/waleave/leave"
	"github.com/waleave/waleave/store"
	"github.com/waleave/waleave/templates"
	"github.com/waleave/waleave/whatsapp"
)

// commandStore is what a slash command needs of the store.
type commandStore interface {
	Audit(ctx context.Context, requestID string) ([]store.AuditEntry, error)
	CreateRequest(ctx context.Context, r *store.Request, enqueue store.Enqueue) error
	DirectoryGroup(ctx context.Context, jid string) (e store.DirectoryEntry, ok bool, err error)
	ListRequests(ctx context.Context, f store.Filter) ([]*store.Request, error)
	NumberDirectoryGroup(ctx context.Context, number, jid string) (e store.DirectoryEntry, ok bool, err error)
	PendingCounts(ctx context.Context, user, channel string, now time.Time) (byUser, byChannel int, err error)
	Request(ctx context.Context, id string) (*store.Request, error)
	TakeRate(ctx context.Context, key string, perSecond float64, burst int, now time.Time) (bool, error)
}

// lookupTimeout bounds every gateway or Slack call made before an ack, so
// the ack stays well inside Slack's three seconds.
const lookupTimeout = 1500 * time.Millisecond

// ackBudget bounds all the work before a command's answer or a click's
// acknowledgement, within Slack's three seconds.
const ackBudget = 2500 * time.Millisecond

// ephemeralMsg is a command's immediate answer, seen only by its author.
func ephemeralMsg(text string) *slack.Msg {
	return &slack.Msg{ResponseType: slack.ResponseTypeEphemeral, Text: text}
}

// Command handles one /wa-leave invocation and returns the immediate
// (ephemeral) answer. Slow work happens after the ack: the card is posted
// by the outbox, the leave by a River job.
func (b *Bot) Command(ctx context.Context, sc slack.SlashCommand) *slack.Msg {
	// Lookups before the ack (an invite code, a name, the requester's
	// time zone) are each bounded by lookupTimeout; together they must
	// still leave the answer inside Slack's three seconds.
	ctx, cancel := context.WithTimeout(ctx, ackBudget)
	defer cancel()
	if text := b.foreign(sc.TeamID, sc.EnterpriseID, sc.IsEnterpriseInstall); text != "" {
		b.metrics.commands.WithLabelValues("refused").Inc()
		return ephemeralMsg(text)
	}
	if strings.TrimSpace(sc.Text) == "" && sc.TriggerID != "" {
		// No argument: the request form (SPEC §4, §10). It answers
		// nothing in the channel when it opens.
		if text := b.openForm(ctx, sc.UserID, sc.UserName, sc.ChannelID, sc.TriggerID); text != "" {
			b.metrics.commands.WithLabelValues("refused").Inc()
			return ephemeralMsg(text)
		}
		return nil
	}
	cmd, err := ParseCommand(sc.Text)
	if err != nil {
		var ue *UsageError
		if errors.As(err, &ue) {
			b.metrics.commands.WithLabelValues("bad_input").Inc()
			return ephemeralMsg(templates.BadCommand(ue.Problem))
		}
		b.log.Error("parse command", "err", err)
		return ephemeralMsg(templates.Internal())
	}
	if cmd.Kind == CommandHelp {
		b.metrics.commands.WithLabelValues("help").Inc()
		return ephemeralMsg(templates.Help())
	}
	switch b.mayRequest(sc.UserID, sc.ChannelID) {
	case notConfigured:
		b.metrics.commands.WithLabelValues("refused").Inc()
		return ephemeralMsg(templates.NotConfigured())
	case allowed:
	default:
		b.metrics.commands.WithLabelValues("refused").Inc()
		return ephemeralMsg(templates.NotAllowed())
	}
	switch cmd.Kind {
	case CommandStatus:
		b.metrics.commands.WithLabelValues("status").Inc()
		return b.status(ctx, sc, cmd.Arg)
	case CommandGroups:
		b.metrics.commands.WithLabelValues("groups").Inc()
		return b.groups(ctx, cmd.Arg)
	case CommandHistory:
		b.metrics.commands.WithLabelValues("history").Inc()
		return b.history(ctx, cmd.Arg)
	case CommandBulk:
		return b.requestBulk(ctx, sc, cmd)
	}
	msg := b.request(ctx, sc, cmd)
	return msg
}

// request records a leave request; the outbox posts its card. It
// returns nil, no answer at all, for a repeated delivery (see
// CommandDelivery).
func (b *Bot) request(ctx context.Context, sc slack.SlashCommand, cmd Command) *slack.Msg {
	r, zoneUnknown, no := b.record(ctx, sc, cmd)
	if no != nil {
		return no.msg
	}
	answer := templates.Recorded(r.ID)
	if zoneUnknown {
		// A time without a zone was read as UTC: say so now, not only on
		// the card, so that a wrong hour can be cancelled before it runs.
		answer += " " + templates.ReadAsUTC()
	}
	return ephemeralMsg(b.say(answer))
}

// refusal is why a request was not recorded: the answer for the command
// (nil for a repeated delivery, which gets none) and the request form's
// field it concerns (templates.Block…), so that the command and the form
// share one set of checks.
type refusal struct {
	field string
	msg   *slack.Msg
	// problem is the plain-text problem when there is one, which the
	// form shows instead of the command's answer (which adds the usage).
	problem string
}

func refusing(field string, msg *slack.Msg) *refusal { return &refusal{field: field, msg: msg} }

// record checks a leave request and records it; the outbox posts its
// card. Every check the command makes is here, for the form too.
func (b *Bot) record(ctx context.Context, sc slack.SlashCommand, cmd Command) (r *store.Request, zoneUnknown bool, no *refusal) {
	// Refused before any lookup: the goodbye goes to the group as typed.
	if r, bad := templates.UnsafeGoodbyeRune(cmd.Goodbye); bad {
		b.metrics.commands.WithLabelValues("bad_input").Inc()
		return nil, false, refusing(templates.BlockGoodbye, ephemeralMsg(templates.BadGoodbye(r)))
	}
	now := b.opts.Now()
	// Before any lookup: a flood of requests must not spend the
	// gateway's lookup budget either.
	if msg := b.overLimit(ctx, sc, now); msg != nil {
		b.metrics.commands.WithLabelValues("limited").Inc()
		return nil, false, refusing(templates.BlockGroup, msg)
	}
	r = &store.Request{
		TeamID: sc.TeamID, ChannelID: sc.ChannelID, RequesterID: sc.UserID, ResponseURL: sc.ResponseURL,
		CreatedAt: now, ExpiresAt: now.Add(b.opts.RequestTTL),
		Delivery: deliveryOf(ctx), DeliveryUntil: now.Add(deliveryWindow),
	}
	if cmd.From != "" && len(b.fromNumbers(cmd)) == 0 {
		// Before any lookup: an unknown number has no groups to look in.
		b.metrics.commands.WithLabelValues("bad_input").Inc()
		return nil, false, refusing(templates.BlockNumber, ephemeralMsg(templates.BadCommand(templates.UnknownNumber(cmd.From, b.numberNames()))))
	}
	if msg := b.resolveGroup(ctx, sc, cmd, r); msg != nil {
		b.metrics.commands.WithLabelValues("bad_input").Inc()
		return nil, false, refusing(templates.BlockGroup, msg)
	}
	if msg := b.chooseNumber(ctx, cmd, r); msg != nil {
		return nil, false, refusing(templates.BlockNumber, msg)
	}
	if !b.num(r.Number).narrows(sc.UserID, sc.ChannelID) {
		b.metrics.commands.WithLabelValues("refused").Inc()
		return nil, false, refusing(templates.BlockNumber, ephemeralMsg(templates.NotAllowedNumber(r.Number)))
	}
	zoneUnknown, no = b.schedule(ctx, sc, cmd, r, now)
	if no != nil {
		return nil, false, no
	}
	switch {
	case cmd.NoGoodbye:
	case cmd.Goodbye != "":
		r.Goodbye = cmd.Goodbye
	case b.opts.DefaultGoodbye != nil:
		text, err := b.opts.DefaultGoodbye.Render(templates.GoodbyeData{GroupSubject: r.GroupSubject, GroupJID: r.GroupJID, RequesterName: sc.UserName, Date: now})
		if err != nil {
			b.log.Error("render default goodbye", "err", err)
			return nil, false, refusing(templates.BlockGoodbye, ephemeralMsg(templates.Internal()))
		}
		r.Goodbye = text
	}
	if err := b.commandStore.CreateRequest(ctx, r, nil); err != nil {
		if errors.Is(err, store.ErrRepeated) {
			// The same command again (a replay, or a redelivery racing
			// the first): its first delivery answered it.
			b.repeated(r.Delivery)
			return nil, false, refusing("", nil)
		}
		b.log.Error("record request", "err", err)
		b.metrics.commands.WithLabelValues("error").Inc()
		if errors.Is(err, store.ErrPending) {
			return nil, false, refusing(templates.BlockGroup, ephemeralMsg(templates.StillRecording()))
		}
		return nil, false, refusing(templates.BlockGroup, ephemeralMsg(templates.Internal()))
	}
	b.log.Info("leave requested", "request", r.ID, "number", r.Number, "group", r.GroupJID, "user", r.RequesterID, "channel", r.ChannelID)
	b.metrics.commands.WithLabelValues("recorded").Inc()
	return r, zoneUnknown, nil
}

// schedule sets the run time of a request from --at or --in, in the
// requester's zone (zoneUnknown: Slack did not say it, and an --at
// without an offset was read as UTC), or says why it cannot.
func (b *Bot) schedule(ctx context.Context, sc slack.SlashCommand, cmd Command, r *store.Request, now time.Time) (zoneUnknown bool, no *refusal) {
	if cmd.At == "" && cmd.In <= 0 {
		return false, nil
	}
	loc, known := b.userLocation(ctx, sc.UserID)
	zoneUnknown = !known && cmd.At != "" && !atHasZone(cmd.At)
	var runAt time.Time
	if cmd.In > 0 {
		runAt = now.Add(cmd.In)
	} else {
		var err error
		if runAt, err = ResolveAt(cmd.At, loc); err != nil {
			return false, &refusal{templates.BlockWhen, ephemeralMsg(templates.BadCommand(usageProblem(err))), usageProblem(err)}
		}
	}
	if err := CheckWhen(runAt, now); err != nil {
		return false, &refusal{templates.BlockWhen, ephemeralMsg(templates.BadCommand(usageProblem(err))), usageProblem(err)}
	}
	r.RunAt, r.TZ = runAt.UTC(), loc.String()
	// A scheduled leave must stay confirmable until it runs.
	if r.ExpiresAt.After(runAt) {
		r.ExpiresAt = runAt
	}
	return zoneUnknown, nil
}

// overLimit returns the answer to send instead of recording a request
// when its requester or channel is over a limit (WALEAVE_MAX_PENDING,
// WALEAVE_USER_RATE), nil otherwise. Both are counted in the database,
// so replicas share them. The pending count is read before the insert,
// so requests in flight at once may pass it together; the rate, taken
// under a row lock, bounds how many can be.
func (b *Bot) overLimit(ctx context.Context, sc slack.SlashCommand, now time.Time) *slack.Msg {
	if n := b.opts.MaxPending; n > 0 {
		byUser, byChannel, err := b.commandStore.PendingCounts(ctx, sc.UserID, sc.ChannelID, now)
		switch {
		case err != nil:
			b.log.Error("count pending requests", "err", err)
			return ephemeralMsg(templates.Internal())
		case byUser >= n:
			return ephemeralMsg(templates.TooManyPending(n, true))
		case byChannel >= n:
			return ephemeralMsg(templates.TooManyPending(n, false))
		}
	}
	if n := b.opts.UserRate; n > 0 {
		ok, err := b.commandStore.TakeRate(ctx, "requests/"+sc.UserID, float64(n)/60, n, now)
		switch {
		case err != nil:
			b.log.Error("take request rate", "err", err)
			return ephemeralMsg(templates.Internal())
		case !ok:
			return ephemeralMsg(templates.TooManyRequests(n))
		}
	}
	return nil
}

func usageProblem(err error) string {
	var ue *UsageError
	if errors.As(err, &ue) {
		return ue.Problem
	}
	return "that time could not be read"
}

// resolveGroup fills the request's group from the command's reference:
// names from the stored directory (see resolveName), invite codes by
// asking the gateway within lookupTimeout. A JID needs no lookup at all:
// the outbox fills its subject in before the card goes out (withDetails).
// It returns the answer to send instead when the group cannot be used yet.
func (b *Bot) resolveGroup(ctx context.Context, sc slack.SlashCommand, cmd Command, r *store.Request) *slack.Msg {
	ref := cmd.Group
	switch {
	case ref.JID != "":
		r.GroupJID = ref.JID
		if b.opts.DefaultGoodbye != nil && cmd.Goodbye == "" && !cmd.NoGoodbye {
			// The default goodbye is rendered now and may name the group.
			for _, n := range b.numbers {
				if e, ok, err := b.commandStore.NumberDirectoryGroup(ctx, n.Name, ref.JID); err == nil && ok {
					r.GroupSubject = e.Subject
					break
				}
			}
		}
		return nil
	case ref.InviteCode != "":
		ctx, cancel := context.WithTimeout(ctx, lookupTimeout)
		defer cancel()
		// Any number can read an invite link; --from's is asked when given.
		n := b.numbers[0]
		if ns := b.fromNumbers(cmd); len(ns) == 1 {
			n = ns[0]
		}
		g, err := n.Gateway.Group(ctx, ref.InviteCode)
		b.countGateway(n, "group", err)
		if err != nil || !whatsapp.IsGroupJID(g.JID) {
			if err != nil {
				b.log.Info("invite code lookup failed", "err", err)
			} else {
				b.log.Info("invite code lookup failed: the gateway named no group JID", "jid", g.JID)
			}
			return ephemeralMsg(templates.BadCommand(inviteProblem(err)))
		}
		r.GroupJID, r.GroupSubject, r.InviteCode = g.JID, g.Subject, ref.InviteCode
		return nil
	default:
		return b.resolveName(ctx, sc, cmd, r)
	}
}

// inviteProblem says why an invite link or code did not give a group.
func inviteProblem(err error) string {
	switch {
	case errors.Is(err, whatsapp.ErrInvalid) && statusOf(err) == 0:
		// Refused before anything was sent: Green API and Wawp look
		// groups up by id only.
		return "this WhatsApp gateway cannot look up invite links; use the group's name or its id (…@g.us) instead"
	case whatsapp.Transient(err):
		return "the WhatsApp gateway did not answer in time to look up that invite link; try again, or use the group's name or its id (…@g.us)"
	}
	return "that invite link could not be resolved to a group; use the group's name or its id (…@g.us) instead"
}

// matchGroups finds groups by subject: exact matches win over
// case-insensitive ones, which win over substrings.
func matchGroups(groups []whatsapp.GroupSummary, name string) []whatsapp.GroupSummary {
	var exact, fold, sub []whatsapp.GroupSummary
	lname := strings.ToLower(name)
	for _, g := range groups {
		switch {
		case g.Subject == name:
			exact = append(exact, g)
		case strings.EqualFold(g.Subject, name):
			fold = append(fold, g)
		case strings.Contains(strings.ToLower(g.Subject), lname):
			sub = append(sub, g)
		}
	}
	if len(exact) > 0 {
		return exact
	}
	if len(fold) > 0 {
		return fold
	}
	return sub
}

// userLocation is the requester's Slack time zone, or UTC (known false)
// when Slack cannot tell in time.
func (b *Bot) userLocation(ctx context.Context, user string) (loc *time.Location, known bool) {
	ctx, cancel := context.WithTimeout(ctx, lookupTimeout)
	defer cancel()
	u, err := b.slack.GetUserInfoContext(ctx, user)
	if err != nil || u.TZ == "" {
		if err != nil {
			b.log.Warn("time zone lookup failed; times are read as UTC", "user", user, "err", err)
		}
		return time.UTC, false
	}
	loc, err = time.LoadLocation(u.TZ)
	if err != nil {
		return time.UTC, false
	}
	return loc, true
}

// status lists the caller's recent requests, or one request's history.
func (b *Bot) status(ctx context.Context, sc slack.SlashCommand, arg string) *slack.Msg {
	var reqs []*store.Request
	var err error
	switch {
	case arg == "":
		// The caller's recent requests, and everything still waiting for
		// a confirmation, whoever asked.
		reqs, err = b.commandStore.ListRequests(ctx, store.Filter{RequesterID: sc.UserID, Limit: 10})
		if err == nil {
			var pending []*store.Request
			pending, err = b.commandStore.ListRequests(ctx, store.Filter{States: []leave.State{leave.Pending}, Limit: 20})
			reqs = mergeRequests(reqs, pending)
		}
	case whatsapp.IsGroupJID(arg):
		reqs, err = b.commandStore.ListRequests(ctx, store.Filter{GroupJID: arg, Limit: 10})
	default:
		var r *store.Request
		r, err = b.commandStore.Request(ctx, arg)
		if errors.Is(err, store.ErrNotFound) {
			// Not a request ID: perhaps a group's name.
			jid := b.statusGroup(ctx, arg)
			if jid == "" {
				return ephemeralMsg(templates.NotFound(arg))
			}
			reqs, err = b.commandStore.ListRequests(ctx, store.Filter{GroupJID: jid, Limit: 10})
			break
		}
		if err == nil && r.Kind == leave.KindBulk {
			return b.bulkStatus(ctx, r)
		}
		if err == nil {
			reqs = []*store.Request{r}
		}
	}
	if err != nil {
		b.log.Error("status", "err", err)
		return ephemeralMsg(templates.Internal())
	}
	lines := make([]templates.StatusLine, 0, len(reqs))
	for _, r := range reqs {
		lines = append(lines, templates.StatusLine{RequestID: r.ID, Group: groupName(r), State: r.State,
			Outcome: r.Outcome, RequesterID: r.RequesterID, CreatedAt: r.CreatedAt, Number: b.shownNumber(r.Number)})
	}
	var history []templates.StatusEntry
	if len(reqs) == 1 {
		audit, err := b.commandStore.Audit(ctx, reqs[0].ID)
		if err != nil {
			b.log.Error("status history", "err", err)
		}
		for _, e := range audit {
			history = append(history, templates.StatusEntry{At: e.At, Actor: e.Actor, Action: e.Action, GatewayStatus: e.GatewayStatus})
		}
	}
	return ephemeralMsg(templates.Status(lines, history, keptInviteLink(reqs), b.opts.Location))
}

// mergeRequests appends to a the requests of b it lacks, newest first.
func mergeRequests(a, b []*store.Request) []*store.Request {
	seen := make(map[string]bool, len(a))
	for _, r := range a {
		seen[r.ID] = true
	}
	for _, r := range b {
		if !seen[r.ID] {
			a = append(a, r)
		}
	}
	slices.SortStableFunc(a, func(x, y *store.Request) int { return y.CreatedAt.Compare(x.CreatedAt) })
	return a
}

// groupName is how a request's group is named to people.
func groupName(r *store.Request) string {
	if r.GroupSubject != "" {
		return r.GroupSubject
	}
	return r.GroupJID
}

// maxHistory is how many of a group's requests /wa-leave history reads;
// the answer shows the newest of them (templates.History).
const maxHistory = 20

// history answers /wa-leave history <group>: the group's requests with
// each one's audit trail. The group is a JID, or a name resolved as status
// resolves one (the directory, then names on recent requests), so a group
// the instance has left can still be named.
func (b *Bot) history(ctx context.Context, arg string) *slack.Msg {
	jid := arg
	if !whatsapp.IsGroupJID(arg) {
		if jid = b.statusGroup(ctx, arg); jid == "" {
			return ephemeralMsg(templates.NotFound(arg))
		}
	}
	reqs, err := b.commandStore.ListRequests(ctx, store.Filter{GroupJID: jid, Limit: maxHistory})
	if err != nil {
		b.log.Error("history", "err", err)
		return ephemeralMsg(templates.Internal())
	}
	name := jid
	out := make([]templates.HistoryRequest, 0, len(reqs))
	for _, r := range reqs {
		if name == jid && r.GroupSubject != "" {
			name = r.GroupSubject
		}
		audit, err := b.commandStore.Audit(ctx, r.ID)
		if err != nil {
			b.log.Error("history", "request", r.ID, "err", err)
			return ephemeralMsg(templates.Internal())
		}
		h := templates.HistoryRequest{RequestID: r.ID, State: r.State, Outcome: r.Outcome,
			RequesterID: r.RequesterID, CreatedAt: r.CreatedAt, ConfirmedBy: r.ConfirmedBy, CancelledBy: r.CancelledBy,
			Goodbye: r.Goodbye, RunAt: r.RunAt}
		for _, e := range audit {
			h.Steps = append(h.Steps, templates.StatusEntry{At: e.At, Actor: e.Actor, Action: e.Action, GatewayStatus: e.GatewayStatus})
		}
		out = append(out, h)
	}
	if name == jid {
		if e, ok, err := b.commandStore.DirectoryGroup(ctx, jid); err == nil && ok && e.Subject != "" {
			name = e.Subject
		}
	}
	return ephemeralMsg(templates.History(name, jid, out, b.opts.Location))
}
