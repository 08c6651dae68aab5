package templates

import (
	"strings"

	"github.com/waleave/waleave/leave"
)

// outcomeTexts holds, for each outcome, a short summary (for the card and
// status lists) and the thread reply's sentences around the group's name.
// The thread reply must contain SPEC §5's phrase for its outcome and no
// other failure's phrase; TestOutcomePhraseMatrix checks every pair.
type outcomeText struct {
	summary string // plain text, no user data
	emoji   string
	before  string // mrkdwn before the group's name
	after   string // mrkdwn after it
	next    string // what the user can do now ("" when nothing is needed)
}

func textOf(o leave.Outcome) (outcomeText, bool) {
	switch o {
	case leave.OutcomeLeft:
		return outcomeText{
			summary: "left the group",
			emoji:   ":white_check_mark:",
			before:  "Left the WhatsApp group ",
			after:   ".",
		}, true
	case leave.OutcomeLeftAdmin:
		return outcomeText{
			summary: "left the group, where the instance was an admin",
			emoji:   ":white_check_mark:",
			before:  "Left the WhatsApp group ",
			after:   ", where the instance was an admin.",
		}, true
	case leave.OutcomeNotMember:
		return outcomeText{
			summary: "not a member, so nothing to leave",
			emoji:   ":white_check_mark:",
			before:  "The instance is not a member of ",
			after:   ", so there was nothing to leave; it may have left already.",
			next:    "If that is a surprise, check the group with `/wa-leave groups`.",
		}, true
	case leave.OutcomeNotAllowed:
		return outcomeText{
			summary: "the gateway says it is not allowed; group not left",
			emoji:   ":x:",
			before:  "The gateway says the instance is not allowed to leave ",
			after:   ", so the group was not left.",
			next:    "Check the instance's permissions in the gateway console, then run `/wa-leave` again.",
		}, true
	case leave.OutcomeCredentials:
		return outcomeText{
			summary: "the gateway rejected the credentials; group not left",
			emoji:   ":x:",
			before:  "The gateway rejected the instance credentials, so ",
			after:   " was not left.",
			next:    "Ask an admin to check `WA_INSTANCE` and `WA_TOKEN`, then run `/wa-leave` again.",
		}, true
	case leave.OutcomeInvalidGroup:
		return outcomeText{
			summary: "invalid group ID; group not left",
			emoji:   ":x:",
			before:  "The gateway rejected ",
			after:   " as an invalid group ID, so the group was not left.",
			next:    "Find the right ID with `/wa-leave groups` and run `/wa-leave` again.",
		}, true
	case leave.OutcomeNotConnected:
		return outcomeText{
			summary: "the instance is not connected; group not left",
			emoji:   ":x:",
			before:  "The WhatsApp instance is not connected (logged out, or still starting), so ",
			after:   " was not left.",
			next:    "Scan the QR code in the gateway console (or wait until the instance has started), then run `/wa-leave` again.",
		}, true
	case leave.OutcomeQuota:
		return outcomeText{
			summary: "the gateway plan's quota is used up; group not left",
			emoji:   ":x:",
			before:  "The gateway plan's quota is used up, so ",
			after:   " was not left.",
			next:    "Upgrade or renew the plan in the gateway console, then run `/wa-leave` again.",
		}, true
	case leave.OutcomeRateLimit:
		return outcomeText{
			summary: "rate limit hit on every try; group not left",
			emoji:   ":x:",
			before:  "The gateway kept answering with its rate limit, on every try, so ",
			after:   " was not left.",
			next:    "Wait a few minutes, then run `/wa-leave` again.",
		}, true
	case leave.OutcomeUnavailable:
		return outcomeText{
			summary: "the gateway was unavailable; group not left",
			emoji:   ":x:",
			before:  "The gateway was unavailable (errors or timeouts on every try), so ",
			after:   " was not left.",
			next:    "Check the gateway's status page, then run `/wa-leave` again.",
		}, true
	case leave.OutcomeGoodbyeFailed:
		return outcomeText{
			summary: "goodbye could not be posted; group not left",
			emoji:   ":x:",
			before:  "The goodbye message could not be posted to ",
			after:   ", so the group was not left.",
			next:    "Check the goodbye text (or use `--no-goodbye`), then run `/wa-leave` again.",
		}, true
	case leave.OutcomeSessionMissing:
		return outcomeText{
			summary: "the gateway has no session for the instance; group not left",
			emoji:   ":x:",
			before:  "The gateway has no session for this WhatsApp instance (deleted, stopped or never started), so ",
			after:   " was not left.",
			next:    "Ask an admin to check that `WA_INSTANCE` names an instance that exists and is started in the gateway console, then run `/wa-leave` again.",
		}, true
	case leave.OutcomePlanExpired:
		return outcomeText{
			summary: "the instance's gateway plan has expired; group not left",
			emoji:   ":x:",
			before:  "The gateway plan has expired for this WhatsApp instance, so ",
			after:   " was not left.",
			next:    "Renew the plan (pay for the instance) in the gateway console, then run `/wa-leave` again; scanning a QR code will not help.",
		}, true
	case leave.OutcomeNotSupported:
		return outcomeText{
			summary: "the gateway does not support this; group not left",
			emoji:   ":x:",
			before:  "The gateway answered that this is not supported by its WhatsApp engine, so ",
			after:   " was not left.",
			next:    "Leave the group from the phone, or ask the gateway's support; running `/wa-leave` again will not help.",
		}, true
	case leave.OutcomeWrongEndpoint:
		return outcomeText{
			summary: "the gateway address has no such endpoint; group not left",
			emoji:   ":x:",
			before:  "The gateway address answered that it has no such endpoint, so ",
			after:   " was not left.",
			next:    "Ask an admin to check `WA_API_URL` (and `WA_PROVIDER`), then run `/wa-leave` again.",
		}, true
	case leave.OutcomePromoteFailed:
		return outcomeText{
			summary: "could not make the successor an admin; group not left",
			emoji:   ":x:",
			before:  "Could not make the chosen successor an admin of ",
			after:   ", so the group was not left.",
			next:    "Run `/wa-leave` again and pick someone else, or choose nobody to let WhatsApp pick.",
		}, true
	case leave.OutcomeStillMember:
		return outcomeText{
			summary: "the instance is still a member; group not left",
			emoji:   ":x:",
			before:  "The gateway reported success, but the instance is still a member of ",
			after:   ": looked up afterwards, the group still lists it, so the group was not left.",
			next:    "Check the group on the phone linked to the instance and leave it there, or run `/wa-leave` again in a few minutes.",
		}, true
	case leave.OutcomeOnlyAdmin:
		return outcomeText{
			summary: "not left: the number is the group's only admin; leave it on its own to choose a successor",
			emoji:   ":x:",
			before:  "Not left: the number is the only admin of ",
			after:   ", and nobody was chosen to take over.",
			next:    "Leave it on its own with `/wa-leave` to choose a successor first.",
		}, true
	}
	return outcomeText{}, false
}

// Summary is a short description of o, for the card's status line and
// for lists ("left the group", "the gateway plan's quota is used up;
// group not left"). It holds no markup and no user data, so it can go
// into mrkdwn and plain text alike.
func Summary(o leave.Outcome) string {
	if t, ok := textOf(o); ok {
		return t.summary
	}
	// The code itself is not shown: it is stored data, not known to be safe.
	return "an unrecognised result"
}

// OutcomeText is the reply posted in the card's thread when a leave ends.
// group is the group's subject, or its JID when the subject is unknown;
// detail is optional plain text to add, such as the gateway's description
// of an exhausted quota. Both are escaped. The text contains the SPEC §5
// phrase for o; detail is quoted verbatim, so the caller should not pass
// text that contradicts the outcome.
func OutcomeText(o leave.Outcome, group string, detail string) string {
	name := groupRef(group)
	var b strings.Builder
	if t, ok := textOf(o); ok {
		b.WriteString(t.emoji + " " + t.before + name + t.after)
		if t.next != "" {
			b.WriteString(" " + t.next)
		}
	} else {
		// A new outcome code the templates do not know yet: say so rather
		// than guess whether the group was left.
		b.WriteString(":grey_question: The request to leave " + name + " ended with a result I do not recognise (" + code(string(o)) + "). `/wa-leave status` shows what happened.")
	}
	if d := oneLine(detail); d != "" {
		b.WriteString("\n> " + escapeClip(d, 500))
	}
	return b.String()
}

// GoodbyeUnknownNote is added to the outcome reply when the goodbye was
// attempted but its fate is unknown (its answer was lost, and it is never
// sent twice), so nobody assumes the group read it. It names no outcome's
// phrase (not even "goodbye", which with "not left" is a failure's), so it
// can follow any outcome.
func GoodbyeUnknownNote() string {
	return ":grey_question: The farewell message may not have reached the group: the gateway's answer to it was lost, and it is never sent twice. Check the group's chat to see whether it arrived."
}

// groupRef is how a message names a group: the subject in bold, or a JID
// as code.
func groupRef(group string) string {
	group = oneLine(group)
	switch {
	case group == "":
		return "the group"
	case strings.HasSuffix(group, "@g.us") && !strings.ContainsAny(group, " `"):
		return code(group)
	}
	return "*" + escapeClip(group, 200) + "*"
}
