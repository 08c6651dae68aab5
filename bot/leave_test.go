package bot

import (
	"errors"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/waleave/waleave/templates"
	"github.com/waleave/waleave/whatsapp"
)

func gwErr(kind error, status int) error {
	return &whatsapp.Error{Provider: "greenapi", Op: "leaveGroup", Kind: kind, Status: status}
}

func TestOutcomeUnknown(t *testing.T) {
	cases := []struct {
		err  error
		want bool
	}{
		{gwErr(whatsapp.ErrUnavailable, 0), true},    // timeout, reset
		{gwErr(whatsapp.ErrUnavailable, 502), true},  // a proxy gave up
		{gwErr(whatsapp.ErrUnavailable, 504), true},  // a proxy timed out
		{gwErr(whatsapp.ErrUnavailable, 200), true},  // truncated success
		{gwErr(whatsapp.ErrUnavailable, 500), false}, // the gateway answered: failed
		{gwErr(whatsapp.ErrUnavailable, 503), false},
		{gwErr(whatsapp.ErrRateLimited, 429), false},
		{gwErr(whatsapp.ErrRateLimited, 0), false}, // our own limiter: nothing sent
		{errors.New("plain"), false},
	}
	for _, c := range cases {
		require.Equal(t, c.want, outcomeUnknown(c.err), "%v", c.err)
	}
}

func TestFailureMapsEveryKind(t *testing.T) {
	cases := []struct {
		kind    error
		goodbye bool
		want    templates.Outcome
		success bool
	}{
		{whatsapp.ErrNotMember, false, templates.OutcomeNotMember, true},
		{whatsapp.ErrForbidden, false, templates.OutcomeNotAllowed, false},
		{whatsapp.ErrForbidden, true, templates.OutcomeGoodbyeFailed, false},
		{whatsapp.ErrInvalid, false, templates.OutcomeInvalidGroup, false},
		{whatsapp.ErrInvalid, true, templates.OutcomeGoodbyeFailed, false},
		{whatsapp.ErrUnauthorized, true, templates.OutcomeCredentials, false},
		{whatsapp.ErrNotConnected, false, templates.OutcomeNotConnected, false},
		{whatsapp.ErrQuota, false, templates.OutcomeQuota, false},
		{whatsapp.ErrRateLimited, false, templates.OutcomeRateLimit, false},
		{whatsapp.ErrUnavailable, false, templates.OutcomeUnavailable, false},
	}
	for _, c := range cases {
		o := failure(gwErr(c.kind, 400), c.goodbye)
		require.Equal(t, string(c.want), o.Code, "%v goodbye=%v", c.kind, c.goodbye)
		require.Equal(t, c.success, o.Success)
		require.Equal(t, 400, o.Status)
	}
}

func TestBackoffGrowsAndIsBounded(t *testing.T) {
	prev := time.Duration(0)
	for attempt := 1; attempt <= 4; attempt++ {
		d := backoff(time.Second, attempt)
		base := time.Second << (attempt - 1)
		require.GreaterOrEqual(t, d, base)
		require.LessOrEqual(t, d, base+base/2)
		require.Greater(t, d, prev/2)
		prev = d
	}
	require.LessOrEqual(t, backoff(time.Second, 50), 90*time.Second)
	// With the defaults, five attempts wait at most 1.5·(1+2+4+8)s = 22.5s.
	var total time.Duration
	for a := 1; a < 5; a++ {
		total += backoff(time.Second, a)
	}
	require.LessOrEqual(t, total, 23*time.Second)
}
