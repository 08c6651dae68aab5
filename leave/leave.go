// Package leave is the domain of a leave request: where a request is in
// its life (State), how its work ended (Outcome), what is final and what
// is a success, the kinds of gateway failure, and the rule from a failure
// to an outcome. The store, the texts and the bot all speak it, so each
// word is defined once; it imports nothing of the project, so any of them
// can use it without a cycle.
//
// State and Outcome values are stored in the database: they never change.
package leave

// State is where a request is in its life:
// pending → confirmed → running → done | failed, and
// pending → cancelled | expired (a confirmed, scheduled leave can also be
// cancelled before it starts).
type State string

// The request states.
const (
	Pending   State = "pending"   // waiting for someone to confirm or cancel
	Confirmed State = "confirmed" // confirmed; the work is queued (or scheduled)
	Running   State = "running"   // the goodbye and leave are under way
	Done      State = "done"      // finished; Outcome.Success() is true
	Failed    State = "failed"    // finished; Outcome says why
	Cancelled State = "cancelled" // cancelled before anything was sent
	Expired   State = "expired"   // nobody confirmed in time
)

// States returns every state, in the order of a request's life.
func States() []State {
	return []State{Pending, Confirmed, Running, Done, Failed, Cancelled, Expired}
}

// Final reports whether nothing more will happen to a request in state st.
func (st State) Final() bool {
	return st == Done || st == Failed || st == Cancelled || st == Expired
}

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
	// "the advice fits the cause"). Each gateway failure kind that needs a
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
	// OutcomeOnlyAdmin: a group of a bulk request was not left because
	// the number is its only admin and nobody was chosen to take over
	// (leaving would hand the group to a random member); the group can
	// be left on its own, where a successor can be chosen.
	OutcomeOnlyAdmin Outcome = "only_admin"
)

// Outcomes returns every outcome, so that tests elsewhere (each outcome
// has words) can check none is forgotten.
func Outcomes() []Outcome {
	return []Outcome{
		OutcomeLeft, OutcomeLeftAdmin, OutcomeNotMember, OutcomeNotAllowed, OutcomeCredentials,
		OutcomeInvalidGroup, OutcomeNotConnected, OutcomeQuota, OutcomeRateLimit, OutcomeUnavailable,
		OutcomeGoodbyeFailed, OutcomePromoteFailed, OutcomeStillMember,
		OutcomeSessionMissing, OutcomePlanExpired, OutcomeNotSupported, OutcomeWrongEndpoint,
		OutcomeOnlyAdmin,
	}
}

// Success reports whether o means the instance is out of the group. A
// group the instance is not a member of counts: the user's goal is met.
func (o Outcome) Success() bool {
	switch o {
	case OutcomeLeft, OutcomeLeftAdmin, OutcomeNotMember:
		return true
	}
	return false
}

// Final is the state a request ends in with outcome o: done for a
// success, failed otherwise.
func (o Outcome) Final() State {
	if o.Success() {
		return Done
	}
	return Failed
}

// Kind is what a request holds: one group, or many (a bulk request, the
// parent of one child request per group). The values are stored.
type Kind string

// The request kinds.
const (
	// KindSingle: an ordinary request for one group (also each group of
	// a bulk request, which names its parent).
	KindSingle Kind = "single"
	// KindBulk: a bulk request; its groups are its child requests.
	KindBulk Kind = "bulk"
)
