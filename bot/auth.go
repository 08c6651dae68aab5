package bot

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/waleave/waleave/templates"
)

// deliveryStore is what auth.go needs of the store: the replay guard of deliveries.
type deliveryStore interface {
	FirstDelivery(ctx context.Context, key string, now, until time.Time) (bool, error)
}

// decision is an authorization answer: ok, or the reason to show.
type decision int

const (
	allowed decision = iota
	// notConfigured: neither allow-list is set, so nobody may do anything.
	notConfigured
	notAllowed
	notApprover
	samePerson
)

// mayRequest reports whether user may ask for a leave in channel.
// Deny by default: with no allow-list configured the answer is always no.
func (b *Bot) mayRequest(user, channel string) decision {
	if len(b.opts.AllowedUsers) == 0 && len(b.opts.AllowedChannels) == 0 {
		return notConfigured
	}
	if slices.Contains(b.opts.AllowedUsers, user) || slices.Contains(b.opts.AllowedChannels, channel) {
		return allowed
	}
	return notAllowed
}

// mayConfirm reports whether user may confirm requester's request in
// channel. When approvers are configured they, and only they, confirm, in
// any channel (they replace the allow-lists for confirming, as the README
// says); otherwise the confirmer must be allowed to request there. Under
// the two-person rule the confirmer must differ from the requester. With
// no allow-list at all nobody confirms, approvers included: deny by
// default.
func (b *Bot) mayConfirm(user, channel, requester string) decision {
	if len(b.opts.AllowedUsers) == 0 && len(b.opts.AllowedChannels) == 0 {
		return notConfigured
	}
	if len(b.opts.Approvers) > 0 {
		if !slices.Contains(b.opts.Approvers, user) {
			return notApprover
		}
	} else if d := b.mayRequest(user, channel); d != allowed {
		return d
	}
	if b.opts.TwoPerson && user == requester {
		return samePerson
	}
	return allowed
}

// mayCancel: the requester can always withdraw their own request; anyone
// else must be allowed to request there, or be an approver.
func (b *Bot) mayCancel(user, channel, requester string) decision {
	if user == requester {
		return allowed
	}
	d := b.mayRequest(user, channel)
	if d != notConfigured && slices.Contains(b.opts.Approvers, user) {
		return allowed
	}
	return d
}

// workspace is the Slack workspace the bot token belongs to, from
// auth.test: its team, and its Enterprise Grid organization if any.
type workspace struct {
	team, enterprise string
}

// foreign returns the refusal for a command or click from outside the
// bot's workspace, or "" when it comes from inside. Slack signs every
// installation's requests with the app's one signing secret, so a valid
// signature alone does not say the request is for this installation.
// Accepted: the token's own team; for an organization-wide install on
// Enterprise Grid (the payload says is_enterprise_install), any
// workspace of the token's organization. Until auth.test has answered
// nothing is accepted: deny by default.
func (b *Bot) foreign(team, enterprise string, orgInstall bool) string {
	home := b.home.Load()
	switch {
	case home == nil:
		return templates.WorkspaceUnknown()
	case home.enterprise != "" && enterprise != "" && enterprise != home.enterprise:
		return templates.OtherWorkspace()
	case team != "" && team == home.team:
		return ""
	case orgInstall && home.enterprise != "" && enterprise == home.enterprise:
		return ""
	}
	return templates.OtherWorkspace()
}

// learnWorkspace asks Slack which workspace the bot token belongs to.
func (b *Bot) learnWorkspace(ctx context.Context) error {
	ctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	at, err := b.slack.AuthTestContext(ctx)
	b.countSlack("auth.test", err)
	if err != nil {
		return fmt.Errorf("auth.test: %w", err)
	}
	if at.TeamID == "" && at.EnterpriseID == "" {
		return errors.New("auth.test named no workspace")
	}
	b.home.Store(&workspace{team: at.TeamID, enterprise: at.EnterpriseID})
	b.log.Info("slack workspace", "team", at.TeamID, "enterprise", at.EnterpriseID)
	return nil
}

// keepLearningWorkspace retries learnWorkspace every interval until it
// works or the bot stops; meanwhile every command and click is refused.
func (b *Bot) keepLearningWorkspace(interval time.Duration) {
	b.background.Add(1)
	go func() {
		defer b.background.Done()
		t := time.NewTicker(interval)
		defer t.Stop()
		for {
			select {
			case <-b.ctx.Done():
				return
			case <-t.C:
			}
			err := b.learnWorkspace(b.ctx)
			if err == nil {
				return
			}
			b.log.Warn("the Slack workspace is still unknown; commands and clicks are refused until it is", "err", err)
		}
	}()
}

// deliveryWindow is how long a delivery is remembered: a signed request
// is accepted up to maxSkew either side of its timestamp, so its
// signature can be replayed for twice that.
const deliveryWindow = 2 * maxSkew

// deliveryKey is what the store remembers of a delivery: a hash of its
// signature or envelope ID, by kind ("sig" for an HTTP request's
// signature, "env" for a Socket Mode envelope).
func deliveryKey(kind, id string) string {
	sum := sha256.Sum256([]byte(id))
	return kind + ":" + hex.EncodeToString(sum[:16])
}

// FirstDelivery reports whether a delivery is seen for the first time
// within deliveryWindow, recording it: an envelope Slack delivers again
// gets false, and is acknowledged without being handled again. The record
// is in the database, so replicas agree. When the database cannot tell,
// the delivery is handled (true): what follows needs the database anyway.
func (b *Bot) FirstDelivery(ctx context.Context, kind, id string) bool {
	if id == "" {
		return true
	}
	now := b.opts.Now()
	first, err := b.deliveryStore.FirstDelivery(ctx, deliveryKey(kind, id), now, now.Add(deliveryWindow))
	if err != nil {
		b.log.Warn("could not check for a repeated delivery", "kind", kind, "err", err)
		return true
	}
	if !first {
		b.repeated(kind)
	}
	return first
}

// CommandDelivery names a command's delivery (kind and ID as for
// FirstDelivery) in the context it is handled in: the request the command
// makes records the delivery in its own transaction, and a second
// request of the same delivery within deliveryWindow (a replayed signed
// command, an envelope sent again, even one racing the first) is refused
// there and gets no answer (see store.Request.Delivery). A command that
// records nothing (help, status) records no delivery either: answering
// it twice does no harm. Nothing is looked up before the command runs:
// a read on every command cost more (about a third of a command's time
// under load) than the work a rare replay wastes before it is stopped.
func (b *Bot) CommandDelivery(ctx context.Context, kind, id string) context.Context {
	if id == "" {
		return ctx
	}
	return context.WithValue(ctx, deliveryCtxKey{}, deliveryKey(kind, id))
}

// deliveryCtxKey carries a command's delivery key in its context.
type deliveryCtxKey struct{}

// deliveryOf is the delivery key CommandDelivery put in ctx, or "".
func deliveryOf(ctx context.Context) string {
	key, _ := ctx.Value(deliveryCtxKey{}).(string)
	return key
}

// repeated counts and logs a delivery ignored as already handled; kind
// may be a whole delivery key.
func (b *Bot) repeated(kind string) {
	kind, _, _ = strings.Cut(kind, ":")
	b.metrics.repeats.WithLabelValues(kind).Inc()
	b.log.Info("repeated delivery ignored", "kind", kind)
}
