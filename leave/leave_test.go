package leave

import (
	"errors"
	"fmt"
	"go/parser"
	"go/token"
	"path/filepath"
	"strconv"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"
)

// The values are stored in the database: renaming a constant's value
// would change what old rows mean.
func TestStoredValuesNeverChange(t *testing.T) {
	states := map[State]string{
		Pending: "pending", Confirmed: "confirmed", Running: "running", Done: "done",
		Failed: "failed", Cancelled: "cancelled", Expired: "expired",
	}
	require.Len(t, States(), len(states))
	for _, st := range States() {
		require.Equal(t, states[st], string(st))
	}
	outcomes := map[Outcome]string{
		OutcomeLeft: "left", OutcomeLeftAdmin: "left_admin", OutcomeNotMember: "not_member",
		OutcomeNotAllowed: "not_allowed", OutcomeCredentials: "credentials", OutcomeInvalidGroup: "invalid_group",
		OutcomeNotConnected: "not_connected", OutcomeQuota: "quota", OutcomeRateLimit: "rate_limit",
		OutcomeUnavailable: "unavailable", OutcomeGoodbyeFailed: "goodbye_failed", OutcomePromoteFailed: "promote_failed",
		OutcomeSessionMissing: "session_missing", OutcomePlanExpired: "plan_expired", OutcomeNotSupported: "not_supported",
		OutcomeWrongEndpoint: "wrong_endpoint", OutcomeStillMember: "still_member",
		OutcomeOnlyAdmin: "only_admin",
	}
	require.Len(t, Outcomes(), len(outcomes))
	for _, o := range Outcomes() {
		require.Equal(t, outcomes[o], string(o))
	}
}

func TestKindsNeverChange(t *testing.T) {
	require.Equal(t, "single", string(KindSingle))
	require.Equal(t, "bulk", string(KindBulk))
}

func TestFinal(t *testing.T) {
	final := map[State]bool{Done: true, Failed: true, Cancelled: true, Expired: true}
	for _, st := range States() {
		require.Equal(t, final[st], st.Final(), st)
	}
}

func TestOutcomeSuccess(t *testing.T) {
	success := map[Outcome]bool{OutcomeLeft: true, OutcomeLeftAdmin: true, OutcomeNotMember: true}
	for _, o := range append(Outcomes(), "", "bogus") {
		require.Equal(t, success[o], o.Success(), "%q", o)
		want := Failed
		if success[o] {
			want = Done
		}
		require.Equal(t, want, o.Final(), "%q", o)
	}
}

// gatewayErr wraps a kind the way a gateway client's error does.
func gatewayErr(kind error) error {
	return fmt.Errorf("greenapi leaveGroup: %w", kind)
}

func TestOutcomeOfMapsEveryKind(t *testing.T) {
	cases := []struct {
		kind error
		step Step
		want Outcome
	}{
		{ErrNotMember, StepLeave, OutcomeNotMember},
		{ErrForbidden, StepLeave, OutcomeNotAllowed},
		{ErrForbidden, StepGoodbye, OutcomeGoodbyeFailed},
		{ErrInvalid, StepLeave, OutcomeInvalidGroup},
		{ErrInvalid, StepGoodbye, OutcomeGoodbyeFailed},
		{ErrUnauthorized, StepGoodbye, OutcomeCredentials},
		{ErrNotConnected, StepLeave, OutcomeNotConnected},
		{ErrQuota, StepLeave, OutcomeQuota},
		{ErrRateLimited, StepLeave, OutcomeRateLimit},
		{ErrUnavailable, StepLeave, OutcomeUnavailable},
		{ErrSessionMissing, StepLeave, OutcomeSessionMissing},
		{ErrSessionMissing, StepGoodbye, OutcomeSessionMissing},
		{ErrPlanExpired, StepLeave, OutcomePlanExpired},
		{ErrPlanExpired, StepGoodbye, OutcomePlanExpired},
		{ErrWrongEndpoint, StepLeave, OutcomeWrongEndpoint},
		{ErrWrongEndpoint, StepGoodbye, OutcomeWrongEndpoint},
		{ErrNotSupported, StepLeave, OutcomeNotSupported},
		{ErrNotSupported, StepGoodbye, OutcomeNotSupported},
		{errors.New("something else"), StepLeave, OutcomeUnavailable},
		// A promotion: the instance's own problems are reported as such
		// (another successor would not help); anything else is the
		// promotion's.
		{ErrUnauthorized, StepPromote, OutcomeCredentials},
		{ErrSessionMissing, StepPromote, OutcomeSessionMissing},
		{ErrNotConnected, StepPromote, OutcomeNotConnected},
		{ErrPlanExpired, StepPromote, OutcomePlanExpired},
		{ErrQuota, StepPromote, OutcomeQuota},
		{ErrForbidden, StepPromote, OutcomePromoteFailed},
		{ErrInvalid, StepPromote, OutcomePromoteFailed},
		{ErrNotMember, StepPromote, OutcomePromoteFailed},
		{ErrUnavailable, StepPromote, OutcomePromoteFailed},
	}
	for _, c := range cases {
		require.Equal(t, c.want, OutcomeOf(gatewayErr(c.kind), c.step), "%v step=%v", c.kind, c.step)
	}
}

// A refined kind also matches the kind it refines, so code that knows
// only the broad kinds keeps treating it as before.
func TestRefinedKindsMatchTheirParents(t *testing.T) {
	for refined, parent := range map[error]error{
		ErrSessionMissing: ErrUnauthorized, ErrPlanExpired: ErrNotConnected,
		ErrNotSupported: ErrInvalid, ErrWrongEndpoint: ErrInvalid,
	} {
		require.ErrorIs(t, gatewayErr(refined), parent)
		require.NotErrorIs(t, gatewayErr(parent), refined)
	}
}

// The domain is spoken by store, templates and bot, so it must import
// none of the project (nor anything that does): only the standard
// library.
func TestImportsNothingOfTheProject(t *testing.T) {
	files, err := filepath.Glob("*.go")
	require.NoError(t, err)
	require.NotEmpty(t, files)
	for _, f := range files {
		if strings.HasSuffix(f, "_test.go") {
			continue
		}
		parsed, err := parser.ParseFile(token.NewFileSet(), f, nil, parser.ImportsOnly)
		require.NoError(t, err)
		for _, imp := range parsed.Imports {
			path, err := strconv.Unquote(imp.Path.Value)
			require.NoError(t, err)
			require.NotContains(t, path, ".", "%s imports %s: only the standard library", f, path)
		}
	}
}
