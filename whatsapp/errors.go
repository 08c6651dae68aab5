package whatsapp

import (
	"errors"
	"strconv"
	"time"

	"github.com/waleave/waleave/leave"
)

// The kinds of gateway failure are the domain's (package leave, where
// each is described): every *Error has one of them as its Kind, and a
// refined kind also matches the kind it refines. They are repeated here so
// that callers of a gateway can test its errors without a second import.
var (
	ErrNotMember    = leave.ErrNotMember
	ErrForbidden    = leave.ErrForbidden
	ErrUnauthorized = leave.ErrUnauthorized
	ErrInvalid      = leave.ErrInvalid
	ErrNotConnected = leave.ErrNotConnected
	ErrQuota        = leave.ErrQuota
	ErrRateLimited  = leave.ErrRateLimited
	ErrUnavailable  = leave.ErrUnavailable
	ErrUnconfirmed  = leave.ErrUnconfirmed

	// Refined kinds; test for them before the kinds they refine.
	ErrSessionMissing = leave.ErrSessionMissing // refines ErrUnauthorized
	ErrPlanExpired    = leave.ErrPlanExpired    // refines ErrNotConnected
	ErrNotSupported   = leave.ErrNotSupported   // refines ErrInvalid
	ErrWrongEndpoint  = leave.ErrWrongEndpoint  // refines ErrInvalid
)

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
