package bot

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"strings"
	"sync"
	"time"

	"github.com/riverqueue/river"

	"github.com/waleave/waleave/leave"
	"github.com/waleave/waleave/store"
	"github.com/waleave/waleave/templates"
	"github.com/waleave/waleave/whatsapp"
)

// leaveStore is what a leave run needs of the store.
type leaveStore interface {
	AddAudit(ctx context.Context, e store.AuditEntry) error
	BeginLeave(ctx context.Context, id string, now time.Time) error
	ClaimGoodbye(ctx context.Context, id string, now time.Time) error
	ClaimRun(ctx context.Context, id string, now time.Time, runFor time.Duration) (*store.Request, error)
	Request(ctx context.Context, id string) (*store.Request, error)
	EndRun(ctx context.Context, id string, until time.Time) error
	Finish(ctx context.Context, id string, o store.Outcome, now time.Time) (*store.Request, error)
	Progress(ctx context.Context, id string, tries int, note, detail string, status int, now time.Time) error
	RemoveFromNumberDirectory(ctx context.Context, number, jid string) error
	SetGoodbyeState(ctx context.Context, id, state, messageID, detail string, status int, now time.Time) error
	SetInviteLink(ctx context.Context, id, link string, now time.Time) error
	SetLeaveUnknown(ctx context.Context, id, detail string, now time.Time) error
	SetPromoted(ctx context.Context, id, jid, detail string, status int, now time.Time) error
}

// leaveArgs is the River job that carries out one confirmed request.
type leaveArgs struct {
	RequestID string `json:"request_id"`
}

// Kind names the job in River's table.
func (leaveArgs) Kind() string { return leaveKind }

const leaveKind = "leave"

// leaveWorker posts the goodbye, leaves the group and records the outcome.
// Each step's result is stored before the next starts, so a retry or a
// restart resumes where the last attempt stopped: a goodbye is never sent
// twice, and a leave whose answer was lost is recognised afterwards.
type leaveWorker struct {
	river.WorkerDefaults[leaveArgs]
	b *Bot
}

// leaveRunTimeout bounds one run of a leave job: the best-effort prelude
// (the group's details and invite link, each within DetailsTimeout) and
// one gateway step, with the lookup that verifies a leave (VerifyTimeout)
// and a second to spare. A run starts a further step only when it still
// has that long (see continueLater), so no call is cut short by the
// run's end. Keeping runs short is what lets another
// replica take over a dead one's job soon (replicas.go) without ever
// running it twice at once.
func leaveRunTimeout(o Options) time.Duration {
	return o.GatewayTimeout + 2*o.DetailsTimeout + o.VerifyTimeout + 5*time.Second
}

// Timeout is the run's deadline (leaveRunTimeout).
func (w *leaveWorker) Timeout(*river.Job[leaveArgs]) time.Duration {
	return leaveRunTimeout(w.b.opts)
}

// continueLater ends the run before a gateway step that might not finish
// in what is left of it; the next run, at once, continues where this one
// stopped, and the step's tries are untouched.
func (w *leaveWorker) continueLater(ctx context.Context) error {
	return w.continueLaterFor(ctx, 0)
}

// continueLaterFor is continueLater for a step that needs extra time
// after its call (the leave's verification).
func (w *leaveWorker) continueLaterFor(ctx context.Context, extra time.Duration) error {
	if d, ok := ctx.Deadline(); ok && time.Until(d) < w.b.opts.GatewayTimeout+extra+time.Second {
		return river.JobSnooze(0)
	}
	return nil
}

// Work runs one run of the leave work: it resumes at the first step not
// yet done, and ends after the outcome, a retry's snooze, or before a
// step that would not fit in the run (continueLater).
func (w *leaveWorker) Work(ctx context.Context, job *river.Job[leaveArgs]) error {
	b := w.b
	id := job.Args.RequestID
	// A bulk group runs only while it holds one of its number's turns
	// (bulkTurn), from its first run to its end. Checked before the run
	// is claimed: a group without a turn leaves no trace and is put back
	// for long enough that the groups under way come first in River's
	// queue, which runs the jobs due longest first.
	if pre, err := b.leaveStore.Request(ctx, id); err == nil && pre.ParentID != "" && !pre.State.Final() {
		if !b.bulkTurn(b.num(pre.Number), id) {
			return river.JobSnooze(bulkTurnsBack + rand.N(bulkTurnsBack))
		}
	}
	r, err := b.leaveStore.ClaimRun(ctx, id, b.opts.Now(), leaveRunTimeout(b.opts))
	var busy *store.BusyError
	switch {
	case errors.Is(err, store.ErrConflict) || errors.Is(err, store.ErrNotFound):
		// Cancelled before it ran, or already finished by an earlier run.
		return nil
	case errors.As(err, &busy):
		// Another run holds the request: a replica that only seemed dead,
		// whose late result put the job back in the queue. Come back
		// when its claim, and so its run, has ended; no claim is longer
		// than a run.
		return river.JobSnooze(min(busy.Left, leaveRunTimeout(b.opts)) + time.Second)
	case err != nil:
		return fmt.Errorf("start request %s: %w", id, err)
	}
	until := r.RunUntil
	defer func() {
		// The next run (a retry, or a continuation) must not wait for
		// this one's claim to run out. Even when the run's own context
		// has ended.
		ctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 2*time.Second)
		defer cancel()
		if err := b.leaveStore.EndRun(ctx, id, until); err != nil {
			b.log.Warn("leave run not ended; the next waits for its claim", "request", id, "err", err)
		}
	}()

	if done, err := w.prepareLeave(ctx, r); err != nil || done {
		return err
	}
	if r.Goodbye != "" {
		done, err := w.goodbye(ctx, r)
		if err != nil || done {
			return err
		}
	}

	if r.LeaveState == store.LeaveCalling {
		// The last run stopped during its leave call (a crash, a kill):
		// the call may have taken effect, so what follows is checked.
		if err := b.leaveStore.SetLeaveUnknown(ctx, r.ID, "the answer to the last leave call was lost: the run stopped during it", b.opts.Now()); err != nil {
			return err
		}
		r.LeaveUnknown = true
	}
	if err := w.continueLaterFor(ctx, b.verifyTimeout(r)); err != nil {
		return err
	}
	// Recorded before the call, so a crash during it is known afterwards.
	if err := b.leaveStore.BeginLeave(ctx, r.ID, b.opts.Now()); err != nil {
		if errors.Is(err, store.ErrStopped) {
			return nil // stopped while it waited: nothing to do
		}
		return err
	}
	callCtx, cancel := context.WithTimeout(ctx, b.opts.GatewayTimeout)
	n := b.num(r.Number)
	res, err := n.Gateway.Leave(callCtx, r.GroupJID)
	cancel()
	b.countGateway(n, "leave", err)
	switch {
	case err == nil:
		o := store.Outcome{Code: leave.OutcomeLeft, WasAdmin: res.WasAdmin, Status: 200}
		if res.WasAdmin {
			o.Code = leave.OutcomeLeftAdmin
		}
		return w.finishVerified(ctx, r, o)
	case errors.Is(err, whatsapp.ErrUnconfirmed):
		// A success status without the documented body (Wawp's bare
		// 201): checked by looking the group up, not sent again (SPEC
		// §5). If the lookup cannot tell, the gateway's success status
		// stands, marked not verified.
		o := store.Outcome{Code: leave.OutcomeLeft, Status: statusOf(err), Detail: "the gateway's answer did not confirm the leave: " + errText(err)}
		return w.finishVerified(ctx, r, o)
	case errors.Is(err, whatsapp.ErrNotMember) && r.LeaveUnknown:
		// An earlier call whose answer was lost did leave: the gateway
		// says so about the group.
		return w.finish(ctx, r, store.Outcome{Code: leave.OutcomeLeft, Detail: "confirmed by a later not-a-member answer", Status: statusOf(err), Verification: store.Verified})
	case notSent(err):
		return w.later(ctx, r, err)
	case whatsapp.Transient(err):
		if outcomeUnknown(err) {
			if err := b.leaveStore.SetLeaveUnknown(ctx, r.ID, errText(err), b.opts.Now()); err != nil {
				return err
			}
			r.LeaveUnknown = true
		}
		if r.Attempts+1 >= b.opts.MaxAttempts {
			return w.leaveFailed(ctx, r, err)
		}
		return w.retry(ctx, r, err)
	default:
		return w.leaveFailed(ctx, r, err)
	}
}

// prepareLeave does what must happen before the goodbye and the leave:
// it keeps the group's invite link, so the group can be rejoined, and
// makes the chosen successor an admin when the instance is the only one.
// done means the job is over (finished or rescheduled) and err says how.
func (w *leaveWorker) prepareLeave(ctx context.Context, r *store.Request) (done bool, err error) {
	b := w.b
	// A group of a bulk request does not keep its invite link: the link
	// costs a details call per group (Green API's getGroupData, one a
	// second; Wawp's invite-code call), which would bound a run over
	// many groups at that rate, where the leave itself goes ten times
	// as fast.
	needLink := r.InviteLink == "" && r.ParentID == ""
	needPromote := r.Successor != "" && r.PromotedAt.IsZero()
	// A group of a bulk request had no card showing its admins, and
	// nobody chose a successor: before anything is sent it is checked
	// that the number is not the group's only admin (onlyAdminChild).
	needAdminCheck := r.ParentID != "" && r.Successor == "" && r.GoodbyeState == "" && r.LeaveState == "" && !r.LeaveUnknown
	if !needLink && !needPromote && !needAdminCheck {
		return false, nil
	}
	// Fresh facts, not the card's: the link may have been reset since,
	// and a promotion whose answer was lost shows up as an admin here.
	maxAge := time.Duration(0)
	if needAdminCheck {
		// A lookup that outlasted an earlier run's wait still counts.
		maxAge = detailsTTL
	}
	f := b.fetchGroup(b.num(r.Number), r.GroupJID, maxAge)
	var g whatsapp.Group
	wait := b.opts.DetailsTimeout
	if needAdminCheck {
		// A bulk group holds its turn (bulkTurn) until the lookup tells:
		// a group that put its job back would free the turn for another
		// group's lookup, and lookups would pile up behind the gateway's
		// rate, unbounded, each gone stale before its group's next turn.
		wait = b.opts.GatewayTimeout
	}
	arrived := f.wait(ctx, wait)
	switch {
	case arrived && needAdminCheck && notSent(f.err):
		// The lookup never went out (no slot under the gateway's rate
		// before its deadline, behind the other groups' calls): it says
		// nothing of the admins. Asked again on the next run.
		b.forgetFetch(b.num(r.Number), r.GroupJID, f)
		return true, river.JobSnooze(time.Second + rand.N(time.Second))
	case arrived && f.err == nil:
		g = f.group
		if needAdminCheck && onlyAdminChild(r, g, f.self) {
			return true, w.finish(ctx, r, store.Outcome{Code: leave.OutcomeOnlyAdmin, Status: 200,
				Detail: "the group lists the number as its only admin, and no successor was chosen"})
		}
	case !arrived && needAdminCheck:
		// The lookup is still waiting (for the gateway's rate, under a
		// bulk request's many groups): nothing is sent before it tells.
		// The next run, soon, takes its answer.
		return true, river.JobSnooze(time.Second)
	}
	if needLink {
		if g.JID == "" {
			g.JID = r.GroupJID
		}
		link := b.inviteLink(ctx, b.num(r.Number), g)
		if link == "" && r.InviteCode != "" {
			// The link the request was made with is still worth keeping
			// when the gateway does not give one (only admins see it).
			link = whatsapp.InviteLink(r.InviteCode)
		}
		if link != "" {
			if err := b.leaveStore.SetInviteLink(ctx, r.ID, link, b.opts.Now()); err != nil {
				return true, err
			}
		}
	}
	if !needPromote {
		return false, nil
	}
	for _, p := range g.Participants {
		if p.IsAdmin && userPart(p.JID) == userPart(r.Successor) {
			return false, w.stepDone(r, b.leaveStore.SetPromoted(ctx, r.ID, r.Successor, "already an admin", 0, b.opts.Now()))
		}
	}
	if err := w.continueLater(ctx); err != nil {
		return true, err
	}
	callCtx, cancel := context.WithTimeout(ctx, b.opts.GatewayTimeout)
	n := b.num(r.Number)
	perr := n.Gateway.Promote(callCtx, r.GroupJID, r.Successor)
	cancel()
	b.countGateway(n, "promote", perr)
	switch {
	case perr == nil:
		return false, w.stepDone(r, b.leaveStore.SetPromoted(ctx, r.ID, r.Successor, "", 200, b.opts.Now()))
	case errors.Is(perr, whatsapp.ErrUnconfirmed):
		// A success status without the documented body: checked by
		// looking the group up, not sent again (SPEC §5).
		if w.successorIsAdmin(ctx, r) {
			return false, w.stepDone(r, b.leaveStore.SetPromoted(ctx, r.ID, r.Successor, "confirmed by a group lookup: "+errText(perr), statusOf(perr), b.opts.Now()))
		}
	case notSent(perr):
		return true, w.later(ctx, r, perr)
	case whatsapp.Transient(perr):
		return true, w.retry(ctx, r, perr)
	}
	return true, w.finish(ctx, r, promoteFailure(r.Successor, perr))
}

// successorIsAdmin looks the group up once, within VerifyTimeout, and
// reports whether it lists the chosen successor as an admin. A lookup
// that cannot tell counts as no: leaving without a successor would hand
// the group to a random member.
func (w *leaveWorker) successorIsAdmin(ctx context.Context, r *store.Request) bool {
	b := w.b
	ctx, cancel := context.WithTimeout(ctx, b.opts.VerifyTimeout)
	defer cancel()
	n := b.num(r.Number)
	g, err := n.Gateway.Group(ctx, r.GroupJID)
	b.countGateway(n, "group", err)
	if err != nil {
		b.log.Info("promotion not confirmed and the group not looked up", "request", r.ID, "err", err)
		return false
	}
	for _, p := range g.Participants {
		if p.IsAdmin && userPart(p.JID) == userPart(r.Successor) {
			return true
		}
	}
	return false
}

// promoteFailure is the outcome of a promotion the gateway refused
// (leave.OutcomeOf decides whether it is the promotion's fault or the
// instance's); a refused promotion's detail names the successor.
func promoteFailure(successor string, err error) store.Outcome {
	o := stepOutcome(err, leave.StepPromote)
	if o.Code != leave.OutcomePromoteFailed {
		return o
	}
	why := errText(err)
	var e *whatsapp.Error
	if errors.As(err, &e) && e.Message != "" {
		why = e.Message
	}
	phone, _, _ := strings.Cut(successor, "@")
	o.Detail = "+" + phone + " could not be made an admin: " + why
	return o
}

// inviteLink is the group's invite link as the gateway gives it, from
// the details g (fetched just now; only its JID when that failed) or by a
// call of its own, within DetailsTimeout. No link is no harm: only admins
// may see it, and the leave goes ahead without it.
func (b *Bot) inviteLink(ctx context.Context, n *number, g whatsapp.Group) string {
	// Best effort, so it must leave the run time for the step that
	// matters (see leaveRunTimeout).
	ctx, cancel := context.WithTimeout(ctx, b.opts.DetailsTimeout)
	defer cancel()
	link, err := n.Gateway.InviteLink(ctx, g)
	if err != nil {
		b.log.Info("no invite link from the gateway", "group", g.JID, "err", err)
		return ""
	}
	return link
}

// goodbye sends the goodbye unless an earlier attempt did (or may have).
// done means the job is over (finished or rescheduled) and err says how.
func (w *leaveWorker) goodbye(ctx context.Context, r *store.Request) (done bool, err error) {
	b := w.b
	switch r.GoodbyeState {
	case store.GoodbyeSent, store.GoodbyeUnknown:
		return false, nil
	case store.GoodbyeSending:
		// The process died during the send: it may have been posted, and
		// posting it twice is worse than not knowing.
		return false, w.stepDone(r, b.leaveStore.SetGoodbyeState(ctx, r.ID, store.GoodbyeUnknown, "", "outcome unknown after restart; not sent again", 0, b.opts.Now()))
	}
	if err := w.continueLater(ctx); err != nil {
		return true, err
	}
	if err := b.leaveStore.ClaimGoodbye(ctx, r.ID, b.opts.Now()); err != nil {
		if errors.Is(err, store.ErrStopped) {
			return true, nil // stopped while it waited: nothing to do
		}
		// ErrConflict: another run claimed it, and may have sent it. The
		// job is retried, and the retry reads the goodbye's state afresh.
		return true, err
	}
	callCtx, cancel := context.WithTimeout(ctx, b.opts.GatewayTimeout)
	n := b.num(r.Number)
	msgID, sendErr := n.Gateway.SendText(callCtx, r.GroupJID, r.Goodbye)
	cancel()
	b.countGateway(n, "send", sendErr)
	now := b.opts.Now()
	switch {
	case sendErr == nil:
		return false, w.stepDone(r, b.leaveStore.SetGoodbyeState(ctx, r.ID, store.GoodbyeSent, msgID, "", 200, now))
	case whatsapp.Transient(sendErr) && outcomeUnknown(sendErr), errors.Is(sendErr, whatsapp.ErrUnconfirmed):
		// It may have been posted (no answer, or a success status
		// without the documented body), and no lookup can tell: it is
		// not sent again, and the card and thread say its fate is
		// unknown.
		return false, w.stepDone(r, b.leaveStore.SetGoodbyeState(ctx, r.ID, store.GoodbyeUnknown, "", errText(sendErr), statusOf(sendErr), now))
	}
	if err := b.leaveStore.SetGoodbyeState(ctx, r.ID, "", "", errText(sendErr), statusOf(sendErr), now); err != nil {
		return true, err
	}
	if notSent(sendErr) {
		return true, w.later(ctx, r, sendErr)
	}
	if whatsapp.Transient(sendErr) {
		return true, w.retry(ctx, r, sendErr)
	}
	return true, w.finish(ctx, r, stepOutcome(sendErr, leave.StepGoodbye))
}

// finishVerified finishes a leave the gateway called a success (o) after
// looking the group up once more (SPEC §5; a group of a bulk request
// through a shared group list first, see lookUpInList): a group that still lists the
// instance makes the outcome still_member; a lookup that cannot tell
// leaves o as the gateway gave it, marked not verified. The lookup is
// bounded by VerifyTimeout, so the outcome reply waits no longer.
func (w *leaveWorker) finishVerified(ctx context.Context, r *store.Request, o store.Outcome) error {
	b := w.b
	l := b.verifyLeave(ctx, b.num(r.Number), r)
	action := "not verified"
	switch l.found {
	case membershipGone:
		action, o.Verification = "verified", store.Verified
	case membershipMember:
		action = "still a member"
		o = store.Outcome{Code: leave.OutcomeStillMember, Status: o.Status,
			Detail: "the gateway answered the leave with success, but the group looked up afterwards still lists the instance"}
	default:
		o.Verification = store.Unverified
	}
	if err := b.leaveStore.AddAudit(ctx, store.AuditEntry{RequestID: r.ID, At: b.opts.Now(), Actor: "waleave", Action: action, Detail: l.detail, GatewayStatus: l.status}); err != nil {
		return err
	}
	return w.finish(ctx, r, o)
}

// membership is what a group lookup tells of the instance's place in a
// group.
type membership int

const (
	// membershipUnknown: the lookup could not tell.
	membershipUnknown membership = iota
	// membershipGone: the group no longer lists the instance.
	membershipGone
	// membershipMember: the group still lists the instance.
	membershipMember
)

// lookup is one group lookup's finding, with what the audit says of it.
type lookup struct {
	found  membership
	detail string
	status int
}

// lookUpMembership looks the group up once, within VerifyTimeout, and says
// whether it still lists the instance: the check after a leave the gateway
// called a success (SPEC §5), and what decides a leave whose answer did not
// settle it. The call is its own, never one shared through fetchGroup nor
// a cached answer: those may have started before the leave.
//
// Absence is claimed only on evidence: the gateway's not-a-member answer
// about the group, or a participant list that is complete (no smaller
// than the member count the gateway gave), spells the instance's number
// the way the instance is known (a list of @lid numbers cannot show a
// phone number's absence), and lacks it.
func (b *Bot) lookUpMembership(ctx context.Context, n *number, groupJID string) lookup {
	ctx, cancel := context.WithTimeout(ctx, b.opts.VerifyTimeout)
	defer cancel()
	var self string
	var wg sync.WaitGroup
	wg.Go(func() { self = b.selfJID(ctx, n) })
	g, err := n.Gateway.Group(ctx, groupJID)
	b.countGateway(n, "group", err)
	wg.Wait()
	switch {
	case errors.Is(err, whatsapp.ErrNotMember):
		return lookup{membershipGone, "group lookup: the gateway says the instance is not in the group", statusOf(err)}
	case err != nil:
		return lookup{membershipUnknown, "group lookup failed: " + errText(err), statusOf(err)}
	case self == "":
		return lookup{membershipUnknown, "group lookup: the instance's own number is unknown", 200}
	}
	me := userPart(self)
	sameKind := false // a participant numbered like the instance (phone, or @lid)
	for _, p := range g.Participants {
		if userPart(p.JID) == me {
			return lookup{membershipMember, "group lookup: the group still lists the instance", 200}
		}
		sameKind = sameKind || strings.HasSuffix(userPart(p.JID), "@lid") == strings.HasSuffix(me, "@lid")
	}
	switch {
	case len(g.Participants) == 0:
		return lookup{membershipUnknown, "group lookup: the answer lists no participants", 200}
	case g.Size > len(g.Participants):
		return lookup{membershipUnknown, "group lookup: the answer lists only some participants", 200}
	case !sameKind:
		return lookup{membershipUnknown, "group lookup: the participants are listed by another kind of number than the instance's (@lid or phone)", 200}
	}
	return lookup{membershipGone, "group lookup: the group no longer lists the instance", 200}
}

// leaveFailed finishes a leave the gateway refused, or that failed on
// every try. When an earlier call's answer was lost, the failure may be
// the gateway's word on a group the instance has already left (a repeat
// answered with a failure body), so the group is looked up first: gone
// means that earlier call worked.
func (w *leaveWorker) leaveFailed(ctx context.Context, r *store.Request, cause error) error {
	b := w.b
	o := stepOutcome(cause, leave.StepLeave)
	if !r.LeaveUnknown || o.Code.Success() {
		return w.finish(ctx, r, o)
	}
	l := b.verifyLeave(ctx, b.num(r.Number), r)
	action := "not verified"
	switch l.found {
	case membershipGone:
		action = "verified"
		o = store.Outcome{Code: leave.OutcomeLeft, Status: o.Status, Verification: store.Verified,
			Detail: "an earlier leave call whose answer was lost took effect; the last answer was: " + errText(cause)}
	case membershipMember:
		action = "still a member"
	}
	if err := b.leaveStore.AddAudit(ctx, store.AuditEntry{RequestID: r.ID, At: b.opts.Now(), Actor: "waleave", Action: action, Detail: l.detail, GatewayStatus: l.status}); err != nil {
		return err
	}
	return w.finish(ctx, r, o)
}

// stepDone follows the store once a step (promotion, goodbye) is recorded
// as over: the next step starts with no failed tries, so each step gets
// WALEAVE_MAX_ATTEMPTS tries of its own (SPEC §2).
func (w *leaveWorker) stepDone(r *store.Request, recordErr error) error {
	if recordErr == nil {
		r.Attempts = 0
	}
	return recordErr
}

// notSent reports whether err is a call the client never sent: no slot
// under the gateway's rate limit came before the call's deadline. That
// is a queue, not a failure: a bulk request's groups all wait their
// turn at the gateway's rate, longer than one call's deadline when there
// are many of them.
func notSent(err error) bool {
	var e *whatsapp.Error
	return errors.As(err, &e) && e.Status == 0 && errors.Is(err, whatsapp.ErrRateLimited)
}

// later puts the job back for a while when its call was not sent
// (notSent): the step's tries are untouched, since nothing reached the
// gateway, so waiting in a long queue never ends in a rate_limit
// outcome. A step the queue keeps refusing waits as long as the queue
// lasts; its tries are kept for the gateway's own answers.
func (w *leaveWorker) later(ctx context.Context, r *store.Request, cause error) error {
	b := w.b
	if err := b.leaveStore.Progress(ctx, r.ID, r.Attempts, "waiting for the gateway's rate limit", errText(cause), 0, b.opts.Now()); err != nil {
		return err
	}
	return river.JobSnooze(time.Second + rand.N(time.Second))
}

// retry schedules another attempt after a transient error, honouring the
// gateway's requested wait, or gives up after MaxAttempts.
func (w *leaveWorker) retry(ctx context.Context, r *store.Request, cause error) error {
	b := w.b
	tries := r.Attempts + 1
	if tries >= b.opts.MaxAttempts {
		return w.finish(ctx, r, stepOutcome(cause, leave.StepLeave))
	}
	delay := backoff(b.opts.Backoff, tries)
	if d, ok := whatsapp.RetryAfter(cause); ok {
		delay = min(d, 2*time.Minute)
	}
	note := fmt.Sprintf("retrying after a gateway error (attempt %d of %d)", tries, b.opts.MaxAttempts)
	if err := b.leaveStore.Progress(ctx, r.ID, tries, note, errText(cause), statusOf(cause), b.opts.Now()); err != nil {
		return err
	}
	return river.JobSnooze(delay)
}

func (w *leaveWorker) finish(ctx context.Context, r *store.Request, o store.Outcome) error {
	b := w.b
	if r.ParentID != "" {
		defer b.bulkDone(b.num(r.Number), r.ID)
	}
	if _, err := b.leaveStore.Finish(ctx, r.ID, o, b.opts.Now()); err != nil {
		return fmt.Errorf("finish request %s: %w", r.ID, err)
	}
	b.metrics.outcomes.WithLabelValues(string(o.Code)).Inc()
	b.log.Info("leave finished", "request", r.ID, "group", r.GroupJID, "outcome", o.Code)
	if o.Code.Success() {
		// Out of the group: its name must stop resolving now, not at the
		// next directory refresh.
		if err := b.leaveStore.RemoveFromNumberDirectory(ctx, r.Number, r.GroupJID); err != nil {
			b.log.Warn("remove left group from the directory", "group", r.GroupJID, "err", err)
		}
	}
	return nil
}

// outcomeReply is the outcome's thread reply: the outcome, and, when the
// goodbye was attempted but its fate is unknown, a note saying it may not
// have reached the group (it is never sent twice, so nobody else will).
func outcomeReply(r *store.Request, detail string) string {
	text := templates.OutcomeText(r.Outcome, groupName(r), detail)
	if r.GoodbyeState == store.GoodbyeUnknown {
		text += "\n" + templates.GoodbyeUnknownNote()
	}
	return text
}

// backoff is base·2^(attempt-1), capped at a minute, plus up to 50% jitter,
// so that with the defaults five attempts end within about a minute.
func backoff(base time.Duration, attempt int) time.Duration {
	d := base << min(max(attempt-1, 0), 6)
	d = min(d, time.Minute)
	return d + rand.N(d/2+1)
}

// stepOutcome is the outcome of a request whose step failed with err: the
// domain's rule (leave.OutcomeOf) decides the code; the audit keeps the
// gateway's words and status.
func stepOutcome(err error, step leave.Step) store.Outcome {
	return store.Outcome{Code: leave.OutcomeOf(err, step), Detail: errText(err), Status: statusOf(err)}
}

// outcomeUnknown reports whether the call may have reached WhatsApp even
// though it failed: no HTTP answer arrived (timeout, reset), or a proxy in
// front of the gateway gave up waiting for it (502, 504), or the answer
// broke off after a success status.
func outcomeUnknown(err error) bool {
	var e *whatsapp.Error
	if !errors.As(err, &e) || !errors.Is(err, whatsapp.ErrUnavailable) {
		return false
	}
	switch {
	case e.Status == 0, e.Status == 502, e.Status == 504:
		return true
	case e.Status >= 200 && e.Status < 300:
		return true // a success status with a truncated or garbled body
	}
	return false
}

func statusOf(err error) int {
	var e *whatsapp.Error
	if errors.As(err, &e) {
		return e.Status
	}
	return 0
}

// errText is an error for the audit log: the gateway's own words, never a
// token (the whatsapp package redacts those).
func errText(err error) string {
	if err == nil {
		return ""
	}
	s := err.Error()
	if len(s) > 500 {
		s = s[:500] + "…"
	}
	return s
}

func (b *Bot) countGateway(n *number, op string, err error) {
	result := "ok"
	var e *whatsapp.Error
	if errors.As(err, &e) {
		result = e.Kind.Error()
	} else if err != nil {
		result = "error"
	}
	b.metrics.gateway.WithLabelValues(n.Name, op, result).Inc()
}
