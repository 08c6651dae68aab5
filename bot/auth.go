package bot

import "slices"

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
