package leave

import "errors"

// The kinds of gateway failure, in the domain's words: the gateway
// clients (package whatsapp) classify every failure as one of them, and
// OutcomeOf turns it into an outcome. Test for them with errors.Is; a
// gateway error matches exactly one of them, except that a refined kind
// (below) also matches the kind it refines, so code that knows only the
// broad kinds keeps treating it as before.
var (
	// ErrNotMember: the instance is not in the group, or the group does
	// not exist: a 404 (or Wawp 400) only when the gateway says so about
	// the group (RyzeAPI "Group not found or you are not a member"). A 404
	// about anything else is ErrSessionMissing or ErrWrongEndpoint.
	ErrNotMember = errors.New("not a member")
	// ErrForbidden: the gateway refused the operation (403).
	ErrForbidden = errors.New("forbidden")
	// ErrUnauthorized: the gateway rejected the credentials (401; Green
	// API 403 for a wrong idInstance).
	ErrUnauthorized = errors.New("unauthorized")
	// ErrInvalid: the request itself was wrong (400 validation, a malformed
	// JID, a text over the gateway's limit).
	ErrInvalid = errors.New("invalid request")
	// ErrNotConnected: the instance is not logged in to WhatsApp, is
	// starting, expired or deleted.
	ErrNotConnected = errors.New("instance not connected")
	// ErrQuota: the plan's quota is used up (Green API 466).
	ErrQuota = errors.New("quota exceeded")
	// ErrRateLimited: too many requests (429); the gateway error's
	// RetryAfter says how long to wait when the gateway told. With no
	// HTTP status it means the client's own limiter found no slot before
	// the deadline, and nothing was sent.
	ErrRateLimited = errors.New("rate limited")
	// ErrUnavailable: 5xx, timeouts, connection errors, redirects, and
	// success statuses whose body cannot be read (a web page, a cut-off
	// or malformed answer) or, for lookups, lacks what the call needs.
	// With no HTTP status no answer arrived, so the call may or may not
	// have taken effect.
	ErrUnavailable = errors.New("gateway unavailable")
	// ErrUnconfirmed: the gateway answered a leave or a message with a
	// success status but without the documented success body: nothing,
	// or JSON without the marker (Wawp's bare 201 to a leave, which WAHA
	// sends; Green API's {"leaveGroup": false}, whose meaning is not
	// documented).
	// The call may well have worked: the caller checks, by looking the
	// group up, instead of sending it again. Not transient.
	ErrUnconfirmed = errors.New("success not confirmed")
)

// Refined kinds: causes that need their own advice, each a case of a
// broader kind above (errors.Is matches both). Test for the refined kind
// first.
var (
	// ErrSessionMissing: the gateway has no session or instance by that
	// name: WAHA's (so Wawp's) 404 "We didn't find a session with name
	// …", RyzeAPI's "Instance not found", Green API's "Instance is
	// deleted". A 404 like this says nothing about the group. It refines
	// ErrUnauthorized: WA_INSTANCE is the first thing to check.
	ErrSessionMissing error = &refined{"session missing", ErrUnauthorized}
	// ErrPlanExpired: the instance's paid period is over (Green API
	// "Instance account is expired. Renew your instance…"). Scanning a QR
	// code does not fix it; paying does. It refines ErrNotConnected.
	ErrPlanExpired error = &refined{"plan expired", ErrNotConnected}
	// ErrNotSupported: the gateway cannot do this at all (RyzeAPI's 501,
	// "not supported by the embedded whatsmeow"); the group ID is fine.
	// It refines ErrInvalid: sending it again cannot help.
	ErrNotSupported error = &refined{"not supported", ErrInvalid}
	// ErrWrongEndpoint: a call about a group reached something that has
	// no such route (a web framework's 404, Green API's documented 404
	// for a wrong method, an HTML page): WA_API_URL is wrong, and the
	// answer says nothing about the group. It refines ErrInvalid. (A
	// call that names no group, such as the state check, keeps plain
	// ErrInvalid with the same words in its message.)
	ErrWrongEndpoint error = &refined{"no such endpoint", ErrInvalid}
)

// refined is a kind that is also a case of a broader one.
type refined struct {
	text   string
	parent error
}

func (r *refined) Error() string { return r.text }
func (r *refined) Unwrap() error { return r.parent }

// Step is the gateway call a failure happened in; the same failure can
// mean different things in different steps.
type Step int

// The steps of a leave, in the order they run.
const (
	// StepPromote: making the chosen successor an admin.
	StepPromote Step = iota
	// StepGoodbye: posting the goodbye.
	StepGoodbye
	// StepLeave: leaving the group (and anything else about the group).
	StepLeave
)

// OutcomeOf is the outcome of a request whose step failed with err, once
// it is not going to be tried again.
//
// A problem with the instance itself (credentials, connection, quota,
// limits) is reported as such in every step. Otherwise a refused or
// invalid goodbye keeps the group (goodbye_failed), and a refused
// promotion is promote_failed, since another successor might do.
func OutcomeOf(err error, step Step) Outcome {
	if step == StepPromote {
		switch {
		case errors.Is(err, ErrUnauthorized), errors.Is(err, ErrNotConnected), errors.Is(err, ErrQuota):
			return OutcomeOf(err, StepLeave)
		}
		return OutcomePromoteFailed
	}
	switch {
	case errors.Is(err, ErrNotMember):
		return OutcomeNotMember
	// The refined kinds come before the kinds they refine: each needs its
	// own advice, and, like the credentials, none is about the goodbye.
	case errors.Is(err, ErrSessionMissing):
		return OutcomeSessionMissing
	case errors.Is(err, ErrPlanExpired):
		return OutcomePlanExpired
	case errors.Is(err, ErrWrongEndpoint):
		return OutcomeWrongEndpoint
	case errors.Is(err, ErrNotSupported):
		return OutcomeNotSupported
	case errors.Is(err, ErrUnauthorized):
		return OutcomeCredentials
	case errors.Is(err, ErrNotConnected):
		return OutcomeNotConnected
	case errors.Is(err, ErrQuota):
		return OutcomeQuota
	case errors.Is(err, ErrRateLimited):
		return OutcomeRateLimit
	case errors.Is(err, ErrUnavailable):
		return OutcomeUnavailable
	case step == StepGoodbye:
		// Forbidden or invalid while posting the goodbye: the group is kept.
		return OutcomeGoodbyeFailed
	case errors.Is(err, ErrForbidden):
		return OutcomeNotAllowed
	case errors.Is(err, ErrInvalid):
		return OutcomeInvalidGroup
	}
	return OutcomeUnavailable
}
