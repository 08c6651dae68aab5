package bot

import (
	"context"
	"encoding/json"
	"errors"
	"time"

	"github.com/slack-go/slack"

	"github.com/waleave/waleave/leave"
	"github.com/waleave/waleave/store"
	"github.com/waleave/waleave/templates"
)

// clickStore is what a click needs of the store.
type clickStore interface {
	Cancel(ctx context.Context, id, by string, now time.Time) (*store.Request, error)
	Expire(ctx context.Context, id string, now time.Time) (*store.Request, error)
	RedrawCard(ctx context.Context, id string, card store.Card, now time.Time) error
	Request(ctx context.Context, id string) (*store.Request, error)
	SetSuccessor(ctx context.Context, id, jid, by string, now time.Time) (*store.Request, error)
	Stop(ctx context.Context, id, by string, now time.Time) (*store.Request, error)
	TakePick(ctx context.Context, user, channel, jid string, since time.Time) (*store.Pick, error)
}

// Interact handles any interaction and returns the body to answer it with
// (nil: an empty 200, or a bare Socket Mode ack): the options for the
// group picker, the form's submission answer, or nothing for clicks and
// shortcuts, whose effects are messages and views sent separately.
func (b *Bot) Interact(ctx context.Context, ic slack.InteractionCallback) any {
	switch ic.Type {
	case slack.InteractionTypeBlockSuggestion:
		return b.options(ctx, ic)
	case slack.InteractionTypeViewSubmission:
		if ic.View.CallbackID == templates.CallbackRequest {
			return b.submitForm(ctx, ic)
		}
	case slack.InteractionTypeShortcut:
		if ic.CallbackID == templates.ShortcutNew && b.foreign(ic.Team.ID, ic.Enterprise.ID, ic.IsEnterpriseInstall) == "" {
			b.openFormNowhere(ctx, ic)
		}
	case slack.InteractionTypeBlockActions:
		if b.foreign(ic.Team.ID, ic.Enterprise.ID, ic.IsEnterpriseInstall) != "" {
			b.Interaction(ctx, ic) // refuses it, saying why
			return nil
		}
		if ic.View.CallbackID == templates.CallbackRequest {
			// The group lookup and views.update can take longer than
			// Slack waits for the ack: they run after it.
			b.afterAck(func(ctx context.Context) { b.formChanged(ctx, ic) })
			return nil
		}
		for _, a := range ic.ActionCallback.BlockActions {
			if a.ActionID == templates.ActionOpenForm {
				b.openFormNowhere(ctx, ic)
				return nil
			}
		}
		b.Interaction(ctx, ic)
		if ic.View.Type == slack.VTHomeTab {
			// A refusal cannot be said in a channel from the Home tab:
			// the tab is drawn again at once, showing what is true now.
			user := ic.User.ID
			b.afterAck(func(ctx context.Context) { b.publishHome(ctx, user) })
		}
	}
	return nil
}

// Interaction handles one button click. It returns after the state change
// (and the job that carries it out) is committed, so the ack means the
// click is durable; messages to the clicker are sent after the ack.
func (b *Bot) Interaction(ctx context.Context, ic slack.InteractionCallback) {
	if ic.Type != slack.InteractionTypeBlockActions {
		return
	}
	// A click waits for its write (a row locked by another replica, a
	// long SQLite write) no longer than Slack waits for the ack; then the
	// clicker hears that it may still go through.
	ctx, cancel := context.WithTimeout(ctx, ackBudget)
	defer cancel()
	if text := b.foreign(ic.Team.ID, ic.Enterprise.ID, ic.IsEnterpriseInstall); text != "" {
		b.refuse(ic, "click", "refused", text, nil)
		return
	}
	for _, a := range ic.ActionCallback.BlockActions {
		switch a.ActionID {
		case templates.ActionConfirm:
			b.confirm(ctx, ic, a)
		case templates.ActionCancel:
			b.cancelRequest(ctx, ic, a)
		case templates.ActionStop:
			b.stop(ctx, ic, a)
		case templates.ActionPickGroup:
			b.pickGroup(ctx, ic, a.Value)
		case templates.ActionSuccessor:
			b.chooseSuccessor(ctx, ic, a)
		}
	}
}

func channelOf(ic slack.InteractionCallback) string {
	if ic.Container.ChannelID != "" {
		return ic.Container.ChannelID
	}
	return ic.Channel.ID
}

// clickedCard is the card a click says it came from: the message's
// channel and ts, and the version its buttons carry (0 for none).
func clickedCard(ic *slack.InteractionCallback, a *slack.BlockAction) store.Card {
	v, _ := templates.CardVersionFromBlockID(a.BlockID)
	return store.Card{ChannelID: channelOf(*ic), TS: ic.Container.MessageTs, Version: v}
}

// clickOrigin is the card a click says it came from: the card itself,
// or, for a Home tab's button, the request's card at the version the tab
// showed (see homeClick).
func (b *Bot) clickOrigin(ctx context.Context, ic *slack.InteractionCallback, a *slack.BlockAction) store.Card {
	if from, ok := b.homeClick(ctx, ic, a); ok {
		return from
	}
	return clickedCard(ic, a)
}

// confirm confirms the request whose card was clicked. The click is
// authorized against the request as stored, not as the click names it:
// the confirmation happens only if the click came from the request's own
// card, in the request's own channel (which is the channel checked
// here), showing the request's current version (store.Card).
func (b *Bot) confirm(ctx context.Context, ic slack.InteractionCallback, a *slack.BlockAction) {
	id, user, from := a.Value, ic.User.ID, b.clickOrigin(ctx, &ic, a)
	channel := from.ChannelID
	now := b.opts.Now()
	// Only the two-person rule needs the request before the change (to
	// know who asked); otherwise the confirmation itself says whether the
	// request exists, which saves a read on every click.
	// So does a number's own allow-list, which narrows who confirms with
	// that number (approvers, who replace the allow-lists for
	// confirming, confirm for every number).
	var requester string
	narrowed := b.narrowed() && len(b.opts.Approvers) == 0
	if b.opts.TwoPerson || narrowed {
		asked, err := b.clickStore.Request(ctx, id)
		if err != nil {
			b.refuse(ic, "confirm", "not_found", templates.NotFound(id), err)
			return
		}
		requester = asked.RequesterID
		if narrowed && !b.num(asked.Number).narrows(user, channel) {
			b.refuse(ic, "confirm", "refused", templates.NotAllowedNumber(asked.Number), nil)
			return
		}
	}
	switch b.mayConfirm(user, channel, requester) {
	case allowed:
	case notConfigured:
		b.refuse(ic, "confirm", "refused", templates.NotConfigured(), nil)
		return
	case notApprover:
		b.refuse(ic, "confirm", "refused", templates.NotApprover(), nil)
		return
	case samePerson:
		b.refuse(ic, "confirm", "refused", templates.TwoPerson(), nil)
		return
	default:
		b.refuse(ic, "confirm", "refused", templates.NotAllowed(), nil)
		return
	}
	if from.Version == 0 {
		// A card drawn before cards carried their version, or a click
		// made up: nothing says what the clicker saw. A pending request's
		// card, if the click came from it, is drawn again with its
		// version; anything else gets the confirmation's own refusal.
		asked, err := b.clickStore.Request(ctx, id)
		if err == nil && asked.State == leave.Pending && asked.OnCard(from) {
			if err := b.clickStore.RedrawCard(ctx, id, from, now); err != nil {
				b.log.Warn("redraw card", "request", id, "err", err)
			}
			b.refuse(ic, "confirm", "stale", templates.CardChanged(), nil)
			return
		}
	}
	r, err := b.confirmer.Confirm(ctx, id, user, from, now)
	switch {
	case err == nil:
		b.log.Info("leave confirmed", "request", id, "user", user)
		b.metrics.interactions.WithLabelValues("confirm", "ok").Inc()
	case errors.Is(err, store.ErrExpired):
		// Past its expiry: expire it now rather than at the next sweep.
		_, _ = b.clickStore.Expire(ctx, id, now)
		b.refuse(ic, "confirm", "expired", templates.Expired(), nil)
	case errors.Is(err, store.ErrNotFound):
		b.refuse(ic, "confirm", "not_found", templates.NotFound(id), err)
	case errors.Is(err, store.ErrWrongCard):
		b.log.Warn("confirmation refused: the click did not come from the request's card", "request", id, "user", user, "channel", channel)
		b.refuse(ic, "confirm", "refused", templates.NotAllowed(), nil)
	case errors.Is(err, store.ErrStale):
		b.refuse(ic, "confirm", "stale", templates.CardChanged(), nil)
	case errors.Is(err, store.ErrConflict):
		by := r.ConfirmedBy
		if r.State == leave.Cancelled {
			by = r.CancelledBy
		}
		if r.State == leave.Expired {
			b.refuse(ic, "confirm", "expired", templates.Expired(), nil)
			return
		}
		b.refuse(ic, "confirm", "duplicate", templates.AlreadyDecided(r.State, by), nil)
	case errors.Is(err, store.ErrPending):
		b.refuse(ic, "confirm", "pending", templates.StillConfirming(), err)
	default:
		b.refuse(ic, "confirm", "error", templates.Internal(), err)
	}
}

// cancelRequest cancels the request whose card was clicked, if the click
// came from that card and the clicker may cancel in the request's
// channel. The ops channel's notice of a scheduled leave (a message of
// its own) has a Cancel button too: from there, whoever may act in the
// ops channel may cancel.
func (b *Bot) cancelRequest(ctx context.Context, ic slack.InteractionCallback, a *slack.BlockAction) {
	id, user := a.Value, ic.User.ID
	r, err := b.clickStore.Request(ctx, id)
	if err != nil {
		b.refuse(ic, "cancel", "not_found", templates.NotFound(id), err)
		return
	}
	from, channel := b.clickOrigin(ctx, &ic, a), r.ChannelID
	switch {
	case r.OnCard(from):
	case b.opts.OpsChannel != "" && from.ChannelID == b.opts.OpsChannel:
		channel = b.opts.OpsChannel
	default:
		channel = ""
	}
	if channel == "" || b.mayCancel(user, channel, r.RequesterID) != allowed {
		b.refuse(ic, "cancel", "refused", templates.NotAllowed(), nil)
		return
	}
	if r.Kind == leave.KindBulk && r.State == leave.Confirmed {
		// A confirmed bulk request (a scheduled one, from the ops
		// channel's notice) may have groups under way: it is stopped.
		r, err = b.clickStore.Stop(ctx, id, user, b.opts.Now())
	} else {
		r, err = b.clickStore.Cancel(ctx, id, user, b.opts.Now())
	}
	switch {
	case err == nil:
		b.log.Info("leave cancelled", "request", id, "user", user)
		b.metrics.interactions.WithLabelValues("cancel", "ok").Inc()
	case errors.Is(err, store.ErrConflict):
		by := r.ConfirmedBy
		if r.State == leave.Cancelled {
			by = r.CancelledBy
		}
		b.refuse(ic, "cancel", "duplicate", templates.AlreadyDecided(r.State, by), nil)
	default:
		b.refuse(ic, "cancel", "error", templates.Internal(), err)
	}
}

// pickGroup starts the request an ambiguous command asked for, for the
// group whose button was clicked, exactly as the command would have.
func (b *Bot) pickGroup(ctx context.Context, ic slack.InteractionCallback, jid string) {
	user, channel := ic.User.ID, channelOf(ic)
	switch b.mayRequest(user, channel) {
	case allowed:
	case notConfigured:
		b.refuse(ic, "pick", "refused", templates.NotConfigured(), nil)
		return
	default:
		b.refuse(ic, "pick", "refused", templates.NotAllowed(), nil)
		return
	}
	p, err := b.clickStore.TakePick(ctx, user, channel, jid, b.opts.Now().Add(-pickTTL))
	if err != nil {
		text := "That list of groups is out of date or was already used; run `/wa-leave` again."
		if !errors.Is(err, store.ErrNotFound) {
			text = templates.Internal()
		}
		b.refuse(ic, "pick", "stale", text, err)
		return
	}
	var pc pickCommand
	if err := json.Unmarshal([]byte(p.Command), &pc); err != nil {
		b.refuse(ic, "pick", "error", templates.Internal(), err)
		return
	}
	sc := slack.SlashCommand{TeamID: pc.TeamID, ChannelID: channel, UserID: user, UserName: pc.UserName, ResponseURL: pc.ResponseURL}
	if ic.ResponseURL != "" {
		sc.ResponseURL = ic.ResponseURL // fresher: a command's lasts 30 minutes
	}
	cmd := Command{Kind: CommandLeave, Group: GroupRef{JID: jid}, Goodbye: pc.Goodbye, NoGoodbye: pc.NoGoodbye, At: pc.At, In: pc.In, From: pc.From}
	msg := b.request(ctx, sc, cmd)
	if msg == nil {
		return // a repeated delivery: answered the first time
	}
	b.metrics.interactions.WithLabelValues("pick", "ok").Inc()
	b.replacePicker(ic, msg.Text)
}

// chooseSuccessor records the participant picked in the card's select as
// the one to make admin before the instance, the only admin, leaves.
func (b *Bot) chooseSuccessor(ctx context.Context, ic slack.InteractionCallback, a *slack.BlockAction) {
	id, ok := templates.RequestIDFromBlockID(a.BlockID)
	if !ok {
		b.refuse(ic, "successor", "not_found", templates.NotFound(""), nil)
		return
	}
	r, err := b.clickStore.Request(ctx, id)
	if err != nil {
		b.refuse(ic, "successor", "not_found", templates.NotFound(id), err)
		return
	}
	// Choosing prepares the request rather than deciding it: whoever may
	// cancel it (the requester, approvers, people allowed in its channel)
	// may, from its card.
	if !r.OnCard(clickedCard(&ic, a)) || b.mayCancel(ic.User.ID, r.ChannelID, r.RequesterID) != allowed {
		b.refuse(ic, "successor", "refused", templates.NotAllowed(), nil)
		return
	}
	r, err = b.clickStore.SetSuccessor(ctx, id, a.SelectedOption.Value, ic.User.ID, b.opts.Now())
	switch {
	case err == nil:
		b.log.Info("successor chosen", "request", id, "user", ic.User.ID)
		b.metrics.interactions.WithLabelValues("successor", "ok").Inc()
	case errors.Is(err, store.ErrNotOffered):
		b.refuse(ic, "successor", "refused", "That person is not among the members offered on the card; pick one from the list.", nil)
	case errors.Is(err, store.ErrExpired):
		b.refuse(ic, "successor", "expired", templates.Expired(), nil)
	case errors.Is(err, store.ErrConflict):
		b.refuse(ic, "successor", "duplicate", templates.AlreadyDecided(r.State, r.ConfirmedBy), nil)
	default:
		b.refuse(ic, "successor", "error", templates.Internal(), err)
	}
}

// refuse counts a refused click and tells the clicker why, after the ack.
func (b *Bot) refuse(ic slack.InteractionCallback, action, result, text string, err error) {
	b.metrics.interactions.WithLabelValues(action, result).Inc()
	if err != nil && !errors.Is(err, store.ErrNotFound) {
		b.log.Error("interaction failed", "action", action, "err", err)
	}
	b.ephemeral(&ic, text)
}
