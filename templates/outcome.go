package templates

import "strings"

// Outcome is how a leave ended, as the bot records it. The values are
// stored, so they never change.
type Outcome string

// The outcomes of a leave (SPEC §5, "Outcome messages").
const (
	// OutcomeLeft: the instance left the group.
	OutcomeLeft Outcome = "left"
	// OutcomeLeftAdmin: the instance left, and the gateway reported it was an admin.
	OutcomeLeftAdmin Outcome = "left_admin"
	// OutcomeNotMember: the instance was not (or no longer) in the group
	// (404, or an idempotent repeat), so there was nothing to leave.
	OutcomeNotMember Outcome = "not_member"
	// OutcomeNotAllowed: the gateway refused the leave (403).
	OutcomeNotAllowed Outcome = "not_allowed"
	// OutcomeCredentials: the gateway rejected WA_INSTANCE / WA_TOKEN.
	OutcomeCredentials Outcome = "credentials"
	// OutcomeInvalidGroup: the gateway rejected the group ID (400).
	OutcomeInvalidGroup Outcome = "invalid_group"
	// OutcomeNotConnected: the instance is logged out, unauthorized or starting.
	OutcomeNotConnected Outcome = "not_connected"
	// OutcomeQuota: the gateway plan's quota is used up (Green API 466).
	OutcomeQuota Outcome = "quota"
	// OutcomeRateLimit: rate limited, and the retries ran out.
	OutcomeRateLimit Outcome = "rate_limit"
	// OutcomeUnavailable: 5xx answers or timeouts, and the retries ran out.
	OutcomeUnavailable Outcome = "unavailable"
	// OutcomeGoodbyeFailed: the goodbye could not be posted, so the group
	// was not left.
	OutcomeGoodbyeFailed Outcome = "goodbye_failed"
	// OutcomePromoteFailed: the chosen successor could not be made an
	// admin, so the group was not left (an only admin leaving would hand
	// the group to a random member instead).
	OutcomePromoteFailed Outcome = "promote_failed"

	// Failures whose advice differs from the SPEC's broad ones (SPEC §5:
	// "the advice fits the cause"). Each gateway error kind that needs a
	// different next step has its own stored code, so the reply can say
	// what to check without parsing the gateway's words again later.

	// OutcomeSessionMissing: the gateway has no session or instance by
	// the configured name (Wawp/WAHA 404 "We didn't find a session…",
	// RyzeAPI "Instance not found", Green API "Instance is deleted").
	OutcomeSessionMissing Outcome = "session_missing"
	// OutcomePlanExpired: the instance's paid period at the gateway is
	// over (Green API "Instance account is expired"); scanning a QR code
	// does not fix it.
	OutcomePlanExpired Outcome = "plan_expired"
	// OutcomeNotSupported: the gateway cannot do this at all (RyzeAPI
	// 501); the group ID was fine.
	OutcomeNotSupported Outcome = "not_supported"
	// OutcomeWrongEndpoint: WA_API_URL points at something without the
	// gateway's routes (a 404 route miss, an HTML page).
	OutcomeWrongEndpoint Outcome = "wrong_endpoint"
	// OutcomeStillMember: the gateway called the leave a success, but the
	// group looked up afterwards still lists the instance.
	OutcomeStillMember Outcome = "still_member"
)

// Success reports whether o means the instance is out of the group. A
// group the instance is not a member of counts: the user's goal is met.
func (o Outcome) Success() bool {
	switch o {
	case OutcomeLeft, OutcomeLeftAdmin, OutcomeNotMember:
		return true
	}
	return false
}

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

func (o Outcome) text() (outcomeText, bool) {
	switch o {
	case OutcomeLeft:
		return outcomeText{
			summary: "left the group",
			emoji:   ":white_check_mark:",
			before:  "Left the WhatsApp group ",
			after:   ".",
		}, true
	case OutcomeLeftAdmin:
		return outcomeText{
			summary: "left the group, where the instance was an admin",
			emoji:   ":white_check_mark:",
			before:  "Left the WhatsApp group ",
			after:   ", where the instance was an admin.",
		}, true
	case OutcomeNotMember:
		return outcomeText{
			summary: "not a member, so nothing to leave",
			emoji:   ":white_check_mark:",
			before:  "The instance is not a member of ",
			after:   ", so there was nothing to leave; it may have left already.",
			next:    "If that is a surprise, check the group with `/wa-leave groups`.",
		}, true
	case OutcomeNotAllowed:
		return outcomeText{
			summary: "the gateway says it is not allowed; group not left",
			emoji:   ":x:",
			before:  "The gateway says the instance is not allowed to leave ",
			after:   ", so the group was not left.",
			next:    "Check the instance's permissions in the gateway console, then run `/wa-leave` again.",
		}, true
	case OutcomeCredentials:
		return outcomeText{
			summary: "the gateway rejected the credentials; group not left",
			emoji:   ":x:",
			before:  "The gateway rejected the instance credentials, so ",
			after:   " was not left.",
			next:    "Ask an admin to check `WA_INSTANCE` and `WA_TOKEN`, then run `/wa-leave` again.",
		}, true
	case OutcomeInvalidGroup:
		return outcomeText{
			summary: "invalid group ID; group not left",
			emoji:   ":x:",
			before:  "The gateway rejected ",
			after:   " as an invalid group ID, so the group was not left.",
			next:    "Find the right ID with `/wa-leave groups` and run `/wa-leave` again.",
		}, true
	case OutcomeNotConnected:
		return outcomeText{
			summary: "the instance is not connected; group not left",
			emoji:   ":x:",
			before:  "The WhatsApp instance is not connected (logged out, or still starting), so ",
			after:   " was not left.",
			next:    "Scan the QR code in the gateway console (or wait until the instance has started), then run `/wa-leave` again.",
		}, true
	case OutcomeQuota:
		return outcomeText{
			summary: "the gateway plan's quota is used up; group not left",
			emoji:   ":x:",
			before:  "The gateway plan's quota is used up, so ",
			after:   " was not left.",
			next:    "Upgrade or renew the plan in the gateway console, then run `/wa-leave` again.",
		}, true
	case OutcomeRateLimit:
		return outcomeText{
			summary: "rate limit hit on every try; group not left",
			emoji:   ":x:",
			before:  "The gateway kept answering with its rate limit, on every try, so ",
			after:   " was not left.",
			next:    "Wait a few minutes, then run `/wa-leave` again.",
		}, true
	case OutcomeUnavailable:
		return outcomeText{
			summary: "the gateway was unavailable; group not left",
			emoji:   ":x:",
			before:  "The gateway was unavailable (errors or timeouts on every try), so ",
			after:   " was not left.",
			next:    "Check the gateway's status page, then run `/wa-leave` again.",
		}, true
	case OutcomeGoodbyeFailed:
		return outcomeText{
			summary: "goodbye could not be posted; group not left",
			emoji:   ":x:",
			before:  "The goodbye message could not be posted to ",
			after:   ", so the group was not left.",
			next:    "Check the goodbye text (or use `--no-goodbye`), then run `/wa-leave` again.",
		}, true
	case OutcomeSessionMissing:
		return outcomeText{
			summary: "the gateway has no session for the instance; group not left",
			emoji:   ":x:",
			before:  "The gateway has no session for this WhatsApp instance (deleted, stopped or never started), so ",
			after:   " was not left.",
			next:    "Ask an admin to check that `WA_INSTANCE` names an instance that exists and is started in the gateway console, then run `/wa-leave` again.",
		}, true
	case OutcomePlanExpired:
		return outcomeText{
			summary: "the instance's gateway plan has expired; group not left",
			emoji:   ":x:",
			before:  "The gateway plan has expired for this WhatsApp instance, so ",
			after:   " was not left.",
			next:    "Renew the plan (pay for the instance) in the gateway console, then run `/wa-leave` again; scanning a QR code will not help.",
		}, true
	case OutcomeNotSupported:
		return outcomeText{
			summary: "the gateway does not support this; group not left",
			emoji:   ":x:",
			before:  "The gateway answered that this is not supported by its WhatsApp engine, so ",
			after:   " was not left.",
			next:    "Leave the group from the phone, or ask the gateway's support; running `/wa-leave` again will not help.",
		}, true
	case OutcomeWrongEndpoint:
		return outcomeText{
			summary: "the gateway address has no such endpoint; group not left",
			emoji:   ":x:",
			before:  "The gateway address answered that it has no such endpoint, so ",
			after:   " was not left.",
			next:    "Ask an admin to check `WA_API_URL` (and `WA_PROVIDER`), then run `/wa-leave` again.",
		}, true
	case OutcomePromoteFailed:
		return outcomeText{
			summary: "could not make the successor an admin; group not left",
			emoji:   ":x:",
			before:  "Could not make the chosen successor an admin of ",
			after:   ", so the group was not left.",
			next:    "Run `/wa-leave` again and pick someone else, or choose nobody to let WhatsApp pick.",
		}, true
	case OutcomeStillMember:
		return outcomeText{
			summary: "the instance is still a member; group not left",
			emoji:   ":x:",
			before:  "The gateway reported success, but the instance is still a member of ",
			after:   ": looked up afterwards, the group still lists it, so the group was not left.",
			next:    "Check the group on the phone linked to the instance and leave it there, or run `/wa-leave` again in a few minutes.",
		}, true
	}
	return outcomeText{}, false
}

// Summary is a short description of o, for the card's status line and
// for lists ("left the group", "the gateway plan's quota is used up;
// group not left"). It holds no markup and no user data, so it can go
// into mrkdwn and plain text alike.
func (o Outcome) Summary() string {
	if t, ok := o.text(); ok {
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
func OutcomeText(o Outcome, group string, detail string) string {
	name := groupRef(group)
	var b strings.Builder
	if t, ok := o.text(); ok {
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
