package whatsapp

import (
	"errors"
	"strconv"
	"time"
)

// The kinds of gateway failure. Test for them with errors.Is; an *Error
// matches exactly one of them, except that a refined kind (below) also
// matches the kind it refines, so code that knows only the broad kinds
// keeps treating it as before.
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
	// ErrRateLimited: too many requests (429); RetryAfter says how long to
	// wait when the gateway told. With Status 0 it means the client's own
	// limiter found no slot before the deadline, and nothing was sent.
	ErrRateLimited = errors.New("rate limited")
	// ErrUnavailable: 5xx, timeouts, connection errors, redirects, and
	// success statuses whose body cannot be read (a web page, a cut-off
	// or malformed answer) or, for lookups, lacks what the call needs.
	// With Status 0 no answer arrived, so the call may or may not have
	// taken effect.
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
	// ErrInvalid with the same words in its Message.)
	ErrWrongEndpoint error = &refined{"no such endpoint", ErrInvalid}
)

// refined is a kind that is also a case of a broader one.
type refined struct {
	text   string
	parent error
}

func (r *refined) Error() string { return r.text }
func (r *refined) Unwrap() error { return r.parent }

// Error is a classified gateway failure. Its text never contains the
// instance token.
type Error struct {
	// Provider is "greenapi", "wawp" or "ryzeapi".
	Provider string
	// Op is the gateway method, e.g. "leaveGroup".
	Op string
	// Status is the HTTP status, or 0 when no answer arrived.
	Status int
	// Kind is one of the Err* values above.
	Kind error
	// Message is the gateway's own message (or a short, secret-free excerpt
	// of its answer), for logs and the audit table.
	Message string
	// RetryAfter is the wait the gateway asked for (Retry-After, RyzeAPI
	// X-RateLimit-Reset); zero when it did not say.
	RetryAfter time.Duration
	// Err is the underlying cause, already redacted, or nil.
	Err error
}

// Error implements error.
func (e *Error) Error() string {
	kind := "error"
	if e.Kind != nil {
		kind = e.Kind.Error()
	}
	s := e.Provider + " " + e.Op + ": " + kind
	if e.Status != 0 {
		s += " (HTTP " + strconv.Itoa(e.Status) + ")"
	}
	if e.Message != "" {
		s += ": " + e.Message
	}
	if e.Err != nil {
		s += ": " + e.Err.Error()
	}
	return s
}

// Unwrap lets errors.Is match both the kind and the cause.
func (e *Error) Unwrap() []error {
	var errs []error
	for _, err := range []error{e.Kind, e.Err} {
		if err != nil {
			errs = append(errs, err)
		}
	}
	return errs
}

// Transient reports whether retrying the same call later may succeed:
// rate limits and unavailability. Everything else needs a person.
func Transient(err error) bool {
	return errors.Is(err, ErrRateLimited) || errors.Is(err, ErrUnavailable)
}

// RetryAfter returns the wait the gateway asked for, if any.
func RetryAfter(err error) (time.Duration, bool) {
	var e *Error
	if errors.As(err, &e) && e.RetryAfter > 0 {
		return e.RetryAfter, true
	}
	return 0, false
}
