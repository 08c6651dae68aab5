package store

import (
	"context"
	"crypto/rand"
	"database/sql"
	"encoding/base32"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/waleave/waleave/leave"
)

// Goodbye delivery states. GoodbyeUnknown means a send was attempted and
// its outcome is unknown (a timeout, a crash): the goodbye is then never
// sent again, so it cannot be posted twice.
const (
	GoodbyeSending = "sending"
	GoodbyeSent    = "sent"
	GoodbyeUnknown = "unknown"
)

// LeaveCalling is Request.LeaveState while a leave call is under way: it
// is recorded before the call and cleared when its answer is, so a run
// that finds it set knows the last call's answer was lost.
const LeaveCalling = "calling"

// What the group lookup after a leave found (Request.Verification and
// Outcome.Verification); empty when none was made.
const (
	// Verified: the group no longer lists the instance.
	Verified = "verified"
	// Unverified: the lookup could not tell (an error, a timeout, or an
	// answer that does not show whether the instance is in the group).
	Unverified = "unverified"
)

// Request is one /wa-leave request.
type Request struct {
	ID string
	// Number names the WhatsApp number that leaves (DefaultNumber when
	// the bot serves one); CreateRequest fills in DefaultNumber.
	Number      string
	TeamID      string
	ChannelID   string
	RequesterID string
	// ResponseURL is the slash command's response_url, for ephemeral
	// follow-ups (valid 30 minutes).
	ResponseURL  string
	GroupJID     string
	GroupSubject string
	InviteCode   string
	Goodbye      string
	State        leave.State
	CreatedAt    time.Time
	UpdatedAt    time.Time
	ExpiresAt    time.Time
	// RunAt is when a scheduled leave runs; zero means at confirmation.
	RunAt time.Time
	// TZ is the IANA zone the requester's times are shown in.
	TZ          string
	ConfirmedBy string
	ConfirmedAt time.Time
	CancelledBy string
	// Attempts counts the failed tries of the current gateway step
	// (promotion, goodbye, leave); a step that is done starts the next at
	// zero (WALEAVE_MAX_ATTEMPTS is per step). A run cut short by a crash
	// records no try: it did not learn the step failed.
	Attempts     int
	Progress     string
	GoodbyeState string
	GoodbyeID    string
	// LeaveUnknown is set when a leave call's outcome was unknown, so a
	// later "not a member" answer means the earlier call worked.
	LeaveUnknown bool
	// LeaveState is LeaveCalling while a leave call is under way (see
	// BeginLeave), else empty.
	LeaveState string
	// Verification is what the group lookup after the leave found
	// (Verified, Unverified), or empty when none was made.
	Verification  string
	Outcome       leave.Outcome
	OutcomeDetail string
	WasAdmin      bool
	FinishedAt    time.Time
	// Group details shown on the card.
	DetailsState string
	GroupSize    int
	IsAdmin      bool
	OnlyAdmin    bool
	Successor    string
	// Successors are the participants offered as successor (JIDs, the
	// instance excluded) when the instance is the only admin.
	Successors []string
	// PromotedAt is when Successor was made admin (zero: not yet), so a
	// retried leave does not promote twice.
	PromotedAt time.Time
	// RunUntil is when the leave run working on the request gives up its
	// claim (zero: no run holds it); see ClaimRun.
	RunUntil   time.Time
	InviteLink string
	RemindedAt time.Time
	// The Slack outbox: the card's ts once posted, and whether the card
	// and the outcome reply are up to date in Slack.
	CardTS            string
	CardVersion       int
	CardPostedVersion int
	ReplyNeeded       bool
	ReplyTS           string
	// CardPostingAt and ReplyPostingAt are when the post of the card, or
	// of the outcome reply, began without its answer being recorded
	// (zero: none under way); see PostUnderWay.
	CardPostingAt  time.Time
	ReplyPostingAt time.Time
	// Kind is leave.KindBulk for a bulk request (its groups are its
	// children); leave.KindSingle otherwise, the zero value's meaning.
	Kind leave.Kind
	// ParentID names the bulk request a group's request belongs to (""
	// for others). A child has no card and no reply of its own: its
	// parent's card shows its progress and the parent's thread its
	// outcome.
	ParentID string
	// CardUpdatedAt is when the card of a bulk request was last updated,
	// for the once-a-second limit on its progress updates (see
	// BeginCardUpdate).
	CardUpdatedAt time.Time

	// Delivery, when set, names the delivery that asked for the request
	// (see FirstDelivery), remembered until DeliveryUntil. CreateRequest
	// records it in the request's own transaction and refuses a second
	// request of the same delivery with ErrRepeated. Not stored with the
	// request.
	Delivery      string
	DeliveryUntil time.Time
}

// OnCard reports whether a click from card came from r's own card: the
// message the outbox posted, in r's channel. Before the card's ts is
// recorded (a click can beat the outbox's write by a moment) only the
// channel can be compared: the request has no other message to click.
// A group of a bulk request (ParentID set) has no card at all, so no
// click is on it: its bulk request's card decides for it.
func (r *Request) OnCard(card Card) bool {
	return card.TS != "" && r.ParentID == "" && r.ChannelID == card.ChannelID && (r.CardTS == "" || r.CardTS == card.TS)
}

// idEncoding is Crockford's base32 alphabet, whose ASCII order matches the
// order of the encoded bytes, so IDs sort by creation time.
var idEncoding = base32.NewEncoding("0123456789ABCDEFGHJKMNPQRSTVWXYZ").WithPadding(base32.NoPadding)

// idEpoch keeps the time part of IDs short.
var idEpoch = time.Date(2025, 1, 1, 0, 0, 0, 0, time.UTC)

// NewID returns a request ID such as "R0T8X6J2M9QD4KAB": milliseconds
// since 2025 (40 bits) then 32 random bits. Time-ordered IDs append at the
// end of the primary-key index, so a burst of inserts dirties a few pages
// per commit instead of one page per request; the random part keeps IDs
// unguessable and unique within a millisecond.
func NewID() string {
	var b [9]byte
	ms := uint64(time.Since(idEpoch).Milliseconds())
	for i := 4; i >= 0; i-- {
		b[i] = byte(ms)
		ms >>= 8
	}
	if _, err := rand.Read(b[5:]); err != nil {
		panic(err) // crypto/rand never fails on supported platforms
	}
	return "R" + idEncoding.EncodeToString(b[:])
}

const requestColumns = `id, team_id, channel_id, requester_id, response_url, group_jid, group_subject,
	invite_code, goodbye, state, created_at, updated_at, expires_at, run_at, tz, confirmed_by,
	confirmed_at, cancelled_by, attempts, progress, goodbye_state, goodbye_id, leave_unknown,
	outcome, outcome_detail, was_admin, finished_at, details_state, group_size, is_admin,
	only_admin, successor, invite_link, reminded_at, card_ts, card_version,
	card_posted_version, reply_needed, reply_ts, successors, promoted_at, run_until,
	leave_state, verification, card_posting, reply_posting, number, kind, parent_id, card_updated_at`

type scanner interface{ Scan(dest ...any) error }

func scanRequest(row scanner) (*Request, error) {
	var r Request
	var created, updated, expires, runAt, confirmedAt, finished, reminded, promoted, runUntil, cardPosting, replyPosting, cardUpdated int64
	var successors string
	var leaveUnknown, wasAdmin, isAdmin, onlyAdmin, replyNeeded int
	err := row.Scan(&r.ID, &r.TeamID, &r.ChannelID, &r.RequesterID, &r.ResponseURL, &r.GroupJID,
		&r.GroupSubject, &r.InviteCode, &r.Goodbye, &r.State, &created, &updated, &expires, &runAt,
		&r.TZ, &r.ConfirmedBy, &confirmedAt, &r.CancelledBy, &r.Attempts, &r.Progress,
		&r.GoodbyeState, &r.GoodbyeID, &leaveUnknown, &r.Outcome, &r.OutcomeDetail, &wasAdmin,
		&finished, &r.DetailsState, &r.GroupSize, &isAdmin, &onlyAdmin, &r.Successor, &r.InviteLink,
		&reminded, &r.CardTS, &r.CardVersion, &r.CardPostedVersion, &replyNeeded, &r.ReplyTS,
		&successors, &promoted, &runUntil, &r.LeaveState, &r.Verification, &cardPosting, &replyPosting, &r.Number,
		&r.Kind, &r.ParentID, &cardUpdated)
	if errors.Is(err, sql.ErrNoRows) {
		return nil, ErrNotFound
	}
	if err != nil {
		return nil, err
	}
	r.CreatedAt, r.UpdatedAt, r.ExpiresAt = fromMS(created), fromMS(updated), fromMS(expires)
	r.RunAt, r.ConfirmedAt, r.FinishedAt, r.RemindedAt = fromMS(runAt), fromMS(confirmedAt), fromMS(finished), fromMS(reminded)
	r.LeaveUnknown, r.WasAdmin, r.IsAdmin, r.OnlyAdmin = leaveUnknown == 1, wasAdmin == 1, isAdmin == 1, onlyAdmin == 1
	r.ReplyNeeded = replyNeeded == 1
	r.PromotedAt, r.RunUntil = fromMS(promoted), fromMS(runUntil)
	r.CardPostingAt, r.ReplyPostingAt = fromMS(cardPosting), fromMS(replyPosting)
	r.CardUpdatedAt = fromMS(cardUpdated)
	r.Successors = decodeJIDs(successors)
	return &r, nil
}

// fillNew fills in what a new request leaves empty: its ID, the pending
// state, the update time (its creation), the first card version and the
// default number.
func (r *Request) fillNew() {
	if r.ID == "" {
		r.ID = NewID()
	}
	if r.State == "" {
		r.State = leave.Pending
	}
	if r.UpdatedAt.IsZero() {
		r.UpdatedAt = r.CreatedAt
	}
	if r.CardVersion == 0 {
		r.CardVersion = 1
	}
	if r.Number == "" {
		r.Number = DefaultNumber
	}
}

// CreateRequest records a new pending request (r.ID, r.State and the
// timestamps are filled in when empty) with its "requested" audit row, and
// runs enqueue in the same transaction. Without enqueue, concurrent calls
// share one transaction (group commit), which is how a burst of commands
// is persisted at a fraction of the cost of a commit each.
func (s *Requests) CreateRequest(ctx context.Context, r *Request, enqueue Enqueue) error {
	if r.Kind == "" {
		r.Kind = leave.KindSingle
	}
	r.fillNew()
	var err error
	if enqueue == nil {
		err = s.createBatched(ctx, r)
	} else {
		err = s.inTx(ctx, func(tx dbTx) error {
			if err := s.insertDelivered(ctx, tx, r); err != nil {
				return err
			}
			return enqueue(ctx, tx.Tx)
		})
	}
	if err == nil {
		s.owed() // its card
	}
	return err
}

// insertDelivered records r's delivery, if it names one, then inserts r;
// a delivery already recorded within its window is ErrRepeated, and r is
// not inserted.
func (s *core) insertDelivered(ctx context.Context, tx dbTx, r *Request) error {
	if r.Delivery != "" {
		first, err := recordDelivery(ctx, tx, r.Delivery, r.CreatedAt, r.DeliveryUntil)
		if err != nil {
			return err
		}
		if !first {
			return ErrRepeated
		}
	}
	return s.insertRequest(ctx, tx, r)
}

// insertRequest writes the request row with a statement prepared once on
// the write connection (parsing SQL is a large part of a small insert's
// cost in SQLite). The row is its own "requested" audit entry (see Audit),
// which keeps the hot path to one table.
func (s *core) insertRequest(ctx context.Context, tx dbTx, r *Request) error {
	_, err := tx.StmtContext(ctx, s.stmtInsertRequest).ExecContext(ctx,
		r.ID, r.TeamID, r.ChannelID, r.RequesterID, r.ResponseURL, r.GroupJID, r.GroupSubject,
		r.InviteCode, r.Goodbye, r.State, ms(r.CreatedAt), ms(r.UpdatedAt), ms(r.ExpiresAt),
		ms(r.RunAt), r.TZ, r.DetailsState, r.GroupSize, b2i(r.IsAdmin), b2i(r.OnlyAdmin), r.CardVersion, r.Number,
		r.Kind, r.ParentID, r.CardPostedVersion)
	if err != nil {
		return fmt.Errorf("insert request: %w", err)
	}
	return nil
}

const insertRequestSQL = `INSERT INTO requests (id, team_id, channel_id, requester_id,
	response_url, group_jid, group_subject, invite_code, goodbye, state, created_at, updated_at,
	expires_at, run_at, tz, details_state, group_size, is_admin, only_admin, card_version, number,
	kind, parent_id, card_posted_version)
	VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`

const requestByIDSQL = `SELECT ` + requestColumns + ` FROM requests WHERE id = ?`

// Request returns the request with the given ID, or ErrNotFound.
func (s *Requests) Request(ctx context.Context, id string) (*Request, error) {
	r, err := scanRequest(s.stmtRequest.QueryRowContext(ctx, id))
	if err != nil && !errors.Is(err, ErrNotFound) {
		return nil, fmt.Errorf("get request %s: %w", id, err)
	}
	return r, err
}

// requestTx reads a request inside a write transaction; with lock it
// also locks the row (see Dialect.forUpdate) until the transaction ends.
func (s *core) requestTx(ctx context.Context, tx dbTx, id string, lock bool) (*Request, error) {
	stmt := s.stmtRequestTx
	if lock {
		stmt = s.stmtRequestForUpdate
	}
	r, err := scanRequest(tx.StmtContext(ctx, stmt).QueryRowContext(ctx, id))
	if err != nil && !errors.Is(err, ErrNotFound) {
		return nil, fmt.Errorf("get request %s: %w", id, err)
	}
	return r, err
}

// Change describes one state transition for transition.
type change struct {
	from   []leave.State
	to     leave.State
	actor  string
	action string
	detail string
	status int
	now    time.Time
	// set holds extra "column = ?" assignments and their arguments.
	set  []string
	args []any
	// check may refuse the change after the row is read.
	check func(*Request) error
}

// transition moves a request from one of c.from to c.to in one
// transaction, with an audit row, bumping the card version so the outbox
// re-renders the card. It returns the request as it is afterwards, or as
// it was with ErrConflict/ErrExpired when the change is refused.
func (s *core) transition(ctx context.Context, id string, c change, enqueue Enqueue) (*Request, error) {
	var out *Request
	err := s.inTx(ctx, func(tx dbTx) error {
		// The row is read, checked and then written: it is locked for
		// the rest of the transaction so that a concurrent transition of
		// the same request (a second replica's click) waits for this one
		// and then sees its result.
		r, err := s.requestTx(ctx, tx, id, true)
		if err != nil {
			return err
		}
		out = r
		allowed := false
		for _, st := range c.from {
			allowed = allowed || r.State == st
		}
		if !allowed {
			return ErrConflict
		}
		if c.check != nil {
			if err := c.check(r); err != nil {
				return err
			}
		}
		set := append([]string{"state = ?", "updated_at = ?"}, c.set...)
		if r.ParentID == "" {
			// A group of a bulk request has no card of its own: its
			// parent's card is bumped when it ends (see childEnded).
			set = append(set, "card_version = card_version + 1")
		}
		args := append([]any{c.to, ms(c.now)}, c.args...)
		args = append(args, id)
		if _, err := tx.exec(ctx, `UPDATE requests SET `+strings.Join(set, ", ")+` WHERE id = ?`, args...); err != nil {
			return fmt.Errorf("update request %s: %w", id, err)
		}
		if err := s.addAudit(ctx, tx, AuditEntry{RequestID: id, At: c.now, Actor: c.actor, Action: c.action, Detail: c.detail, GatewayStatus: c.status}); err != nil {
			return err
		}
		if c.to.Final() {
			switch {
			case r.Kind == leave.KindBulk:
				// A bulk request that ends before its work started
				// (cancelled, expired) ends its groups with it.
				if err := s.endChildren(ctx, tx, id, []leave.State{leave.Pending, leave.Confirmed}, c.to, c.actor, c.action, c.now); err != nil {
					return err
				}
			case r.ParentID != "":
				if err := s.childEnded(ctx, tx, r.ParentID, c.now); err != nil {
					return err
				}
			}
		}
		if enqueue != nil {
			if err := enqueue(ctx, tx.Tx); err != nil {
				return err
			}
		}
		out, err = s.requestTx(ctx, tx, id, false)
		return err
	})
	if err == nil {
		s.owed() // every change bumps the card's version
		if c.to.Final() {
			s.ended()
		}
	}
	return out, err
}

// endSet is set plus what a request keeps only while it is open: the
// members offered as successor (other people's phone numbers, up to 100)
// and the command's response_url (a posting credential for 30 minutes).
// The chosen successor stays, in the row and the audit trail.
func endSet(set ...string) []string {
	return append(set, "successors = ''", "response_url = ''")
}

// Cancel moves a pending request, or a confirmed one whose work has not
// started, to cancelled.
func (s *Requests) Cancel(ctx context.Context, id, by string, now time.Time) (*Request, error) {
	return s.transition(ctx, id, change{
		from: []leave.State{leave.Pending, leave.Confirmed}, to: leave.Cancelled, actor: by, action: "cancelled", now: now,
		set: endSet("cancelled_by = ?", "finished_at = ?"), args: []any{by, ms(now)},
		check: func(r *Request) error {
			if r.Kind == leave.KindBulk && r.State == leave.Confirmed {
				// Its groups may be under way: that is Stop's to end.
				return ErrConflict
			}
			return nil
		},
	}, nil)
}

// CancelUndeliverable cancels a pending request whose card could not be
// posted (the bot is not in the channel), recording why.
func (s *Requests) CancelUndeliverable(ctx context.Context, id, reason string, now time.Time) (*Request, error) {
	return s.transition(ctx, id, change{
		from: []leave.State{leave.Pending}, to: leave.Cancelled, actor: "waleave", action: "cancelled", detail: reason, now: now,
		// Nothing to show: the card never reached the channel.
		set: endSet("finished_at = ?", "card_posted_version = card_version + 1"), args: []any{ms(now)},
	}, nil)
}

// Expire moves a pending request whose expiry time has passed to expired.
func (s *Requests) Expire(ctx context.Context, id string, now time.Time) (*Request, error) {
	return s.transition(ctx, id, change{
		from: []leave.State{leave.Pending}, to: leave.Expired, actor: "waleave", action: "expired", now: now,
		set: endSet("finished_at = ?"), args: []any{ms(now)},
		check: func(r *Request) error {
			if now.Before(r.ExpiresAt) {
				return ErrConflict
			}
			return nil
		},
	}, nil)
}

// ClaimRun marks the beginning of one run of the leave work: confirmed or
// running (a retry, or a restart after a crash) becomes running, and the
// run claims the request for runFor, its deadline; the returned request's
// RunUntil is the claim, for EndRun. While another run's claim is
// unexpired ClaimRun refuses with a *BusyError: that run may belong to a
// replica that only seems dead (paused), and two runs at once would call
// the gateway twice.
//
// On PostgreSQL claims are set and compared by the database's clock,
// which every replica shares; their own clocks may disagree by more than
// the margin a claim has.
func (s *Requests) ClaimRun(ctx context.Context, id string, now time.Time, runFor time.Duration) (*Request, error) {
	clock := now
	if !s.singleProcess() {
		var nowMS int64
		if err := s.write.QueryRowContext(ctx, `SELECT `+pgNowMillis).Scan(&nowMS); err != nil {
			return nil, fmt.Errorf("start request %s: read the database's clock: %w", id, err)
		}
		clock = time.UnixMilli(nowMS)
	}
	return s.transition(ctx, id, change{
		from: []leave.State{leave.Confirmed, leave.Running}, to: leave.Running, actor: "waleave", action: "attempt", now: now,
		set: []string{"run_until = ?"}, args: []any{ms(clock.Add(runFor))},
		check: func(r *Request) error {
			if r.RunUntil.After(clock) {
				return &BusyError{Left: r.RunUntil.Sub(clock)}
			}
			return nil
		},
	}, nil)
}

// BusyError is ClaimRun's refusal while another run holds the request: it
// is ErrBusy, and says how long the other run's claim has left.
type BusyError struct {
	Left time.Duration
}

func (e *BusyError) Error() string { return fmt.Sprintf("%v for %s", ErrBusy, e.Left) }

// Is makes errors.Is(err, ErrBusy) hold.
func (e *BusyError) Is(target error) bool { return target == ErrBusy }

// EndRun gives up the claim that ClaimRun took until the given time, if it
// is still that run's: a run that outlived its claim does not release
// the next run's.
func (s *Requests) EndRun(ctx context.Context, id string, until time.Time) error {
	if _, err := s.exec(ctx, `UPDATE requests SET run_until = 0 WHERE id = ? AND run_until = ?`, id, ms(until)); err != nil {
		return fmt.Errorf("end run: %w", err)
	}
	return nil
}

// Progress records a failed try of the current step (tries of it so far)
// and a progress note for the card (e.g. "retrying"), with an audit row
// holding the gateway's status.
func (s *Requests) Progress(ctx context.Context, id string, tries int, note, detail string, status int, now time.Time) error {
	_, err := s.transition(ctx, id, change{
		from: []leave.State{leave.Running}, to: leave.Running, actor: "waleave", action: "retry", detail: detail, status: status, now: now,
		// A leave call that failed for sure is no longer under way.
		set: []string{"progress = ?", "attempts = ?", "leave_state = ''"}, args: []any{note, tries},
	}, nil)
	return err
}

// SetGoodbyeState records the goodbye's delivery state ("sending" before
// the call, "sent" or "unknown" after, "" when it failed for sure) with an
// audit row.
func (s *Requests) SetGoodbyeState(ctx context.Context, id, state, messageID, detail string, status int, now time.Time) error {
	set := `goodbye_state = ?, goodbye_id = ?, updated_at = ?`
	if state == GoodbyeSent || state == GoodbyeUnknown {
		// The goodbye step is over; the leave starts its own count.
		set += `, attempts = 0`
	}
	return s.inTx(ctx, func(tx dbTx) error {
		if _, err := tx.exec(ctx, `UPDATE requests SET `+set+` WHERE id = ?`, state, messageID, ms(now), id); err != nil {
			return fmt.Errorf("set goodbye state: %w", err)
		}
		action := "goodbye " + state
		if state == "" {
			action = "goodbye failed"
		}
		return s.addAudit(ctx, tx, AuditEntry{RequestID: id, At: now, Actor: "waleave", Action: action, Detail: detail, GatewayStatus: status})
	})
}

// ClaimGoodbye records that the goodbye is about to be sent ("sending"),
// only if no run has claimed it before: ErrConflict means another run
// did, and this one must not send it. A goodbye is never posted twice,
// even by two runs of one job at once.
func (s *Requests) ClaimGoodbye(ctx context.Context, id string, now time.Time) error {
	return s.inTx(ctx, func(tx dbTx) error {
		// Only a running request's: a group of a bulk request stopped
		// while its run waited sends nothing (see Stop).
		res, err := tx.exec(ctx, `UPDATE requests SET goodbye_state = ?, updated_at = ? WHERE id = ? AND goodbye_state = '' AND state = ?`, GoodbyeSending, ms(now), id, leave.Running)
		if err != nil {
			return fmt.Errorf("claim goodbye: %w", err)
		}
		if n, err := res.RowsAffected(); err != nil || n != 1 {
			return s.notRunning(ctx, tx, id, "claim goodbye")
		}
		return s.addAudit(ctx, tx, AuditEntry{RequestID: id, At: now, Actor: "waleave", Action: "goodbye " + GoodbyeSending})
	})
}

// BeginLeave records, before the leave call is made, that it is under
// way (LeaveCalling): if the process dies before the answer is recorded,
// the next run finds it and knows the call may have taken effect.
func (s *Requests) BeginLeave(ctx context.Context, id string, now time.Time) error {
	return s.inTx(ctx, func(tx dbTx) error {
		// Only a running request's, as ClaimGoodbye: ErrConflict means
		// it was stopped (see Stop), and the call must not be made.
		res, err := tx.exec(ctx, `UPDATE requests SET leave_state = ?, updated_at = ? WHERE id = ? AND state = ?`, LeaveCalling, ms(now), id, leave.Running)
		if err != nil {
			return fmt.Errorf("begin leave: %w", err)
		}
		if n, err := res.RowsAffected(); err != nil || n != 1 {
			return s.notRunning(ctx, tx, id, "begin leave")
		}
		return s.addAudit(ctx, tx, AuditEntry{RequestID: id, At: now, Actor: "waleave", Action: "leave call started"})
	})
}

// notRunning says why a step of a run's was refused: ErrStopped when the
// request is no longer running (a group of a bulk request stopped while
// its run waited), else ErrConflict.
func (s *core) notRunning(ctx context.Context, tx dbTx, id, step string) error {
	var st leave.State
	if err := tx.queryRow(ctx, `SELECT state FROM requests WHERE id = ?`, id).Scan(&st); err == nil && st != leave.Running {
		return fmt.Errorf("%s of %s: %w", step, id, ErrStopped)
	}
	return fmt.Errorf("%s of %s: %w", step, id, ErrConflict)
}

// SetLeaveUnknown records that a leave call's outcome is unknown (its
// answer was lost or unreadable), which ends the call's LeaveCalling.
func (s *Requests) SetLeaveUnknown(ctx context.Context, id, detail string, now time.Time) error {
	return s.inTx(ctx, func(tx dbTx) error {
		if _, err := tx.exec(ctx, `UPDATE requests SET leave_unknown = 1, leave_state = '', updated_at = ? WHERE id = ?`, ms(now), id); err != nil {
			return fmt.Errorf("set leave unknown: %w", err)
		}
		return s.addAudit(ctx, tx, AuditEntry{RequestID: id, At: now, Actor: "waleave", Action: "leave unknown", Detail: detail})
	})
}

// Outcome is how a request's work ended.
type Outcome struct {
	// Code is what happened; Code.Success() decides between done and
	// failed.
	Code     leave.Outcome
	Detail   string
	WasAdmin bool
	// Status is the gateway's HTTP status for the audit row.
	Status int
	// Verification is what the group lookup after the leave found
	// (Verified, Unverified), or empty when none was made.
	Verification string
}

// Finish moves a running request to done or failed with its outcome, and
// marks the outcome reply as owed to Slack.
func (s *Requests) Finish(ctx context.Context, id string, o Outcome, now time.Time) (*Request, error) {
	to := o.Code.Final()
	return s.transition(ctx, id, change{
		from: []leave.State{leave.Running}, to: to, actor: "waleave", action: string(to), detail: string(o.Code) + ": " + o.Detail, status: o.Status, now: now,
		// A group of a bulk request replies in its parent's summary.
		set: endSet("outcome = ?", "outcome_detail = ?", "was_admin = ?", "finished_at = ?", "progress = ''",
			"reply_needed = CASE WHEN parent_id = '' THEN 1 ELSE 0 END",
			"verification = ?", "leave_state = ''"),
		args: []any{o.Code, o.Detail, b2i(o.WasAdmin), ms(now), o.Verification},
	}, nil)
}

// MarkReminded records that the pending request's reminder is due, once:
// it reports false when the request is no longer pending or was already
// reminded.
func (s *Requests) MarkReminded(ctx context.Context, id string, now time.Time) (bool, error) {
	var done bool
	err := s.inTx(ctx, func(tx dbTx) error {
		res, err := tx.exec(ctx, `UPDATE requests SET reminded_at = ?, updated_at = ? WHERE id = ? AND state = ? AND reminded_at = 0`, ms(now), ms(now), id, leave.Pending)
		if err != nil {
			return fmt.Errorf("mark reminded: %w", err)
		}
		n, err := res.RowsAffected()
		if err != nil || n == 0 {
			return err
		}
		done = true
		return s.addAudit(ctx, tx, AuditEntry{RequestID: id, At: now, Actor: "waleave", Action: "reminded"})
	})
	return done, err
}

// Filter selects requests for ListRequests. Zero fields match everything.
type Filter struct {
	States      []leave.State
	RequesterID string
	GroupJID    string
	// Since and Until bound created_at.
	Since, Until time.Time
	// FinishedSince bounds finished_at.
	FinishedSince time.Time
	Limit         int
}

// ListRequests returns matching requests, newest first.
func (s *Requests) ListRequests(ctx context.Context, f Filter) ([]*Request, error) {
	where := []string{"1 = 1"}
	var args []any
	if len(f.States) > 0 {
		// States and finish times are written into the query rather than
		// bound (see stateList): PostgreSQL then plans each with its
		// statistics instead of reusing a generic plan, which guessed a
		// quarter of all requests per state and read the whole history
		// backwards through requests_created (357 ms for the digest at
		// 1,000,000 requests; 1.2 s for "what is pending").
		in, err := stateList(f.States)
		if err != nil {
			return nil, fmt.Errorf("list requests: %w", err)
		}
		where = append(where, "state IN ("+in+")")
	}
	if f.GroupJID == "" {
		// The groups of a bulk request are listed as their parent; a
		// group's own history lists them.
		where = append(where, "parent_id = ''")
	}
	if f.RequesterID != "" {
		where = append(where, "requester_id = ?")
		args = append(args, f.RequesterID)
	}
	if f.GroupJID != "" {
		where = append(where, "group_jid = ?")
		args = append(args, f.GroupJID)
	}
	if !f.Since.IsZero() {
		where = append(where, "created_at >= ?")
		args = append(args, ms(f.Since))
	}
	if !f.Until.IsZero() {
		where = append(where, "created_at < ?")
		args = append(args, ms(f.Until))
	}
	if !f.FinishedSince.IsZero() {
		// finished_at > 0 lets the partial index requests_finished
		// serve it (the digest's failures since the last digest). It
		// comes second: SQLite's planner takes the first of two lower
		// bounds, and from 0 it read every ended request (8 ms at
		// 100,000 rather than 0.5).
		where = append(where, fmt.Sprintf("finished_at >= %d AND finished_at > 0", ms(f.FinishedSince)))
	}
	limit := f.Limit
	if limit <= 0 || limit > 1000 {
		limit = 1000
	}
	order := fmt.Sprintf(` ORDER BY created_at DESC, id LIMIT %d`, limit)
	q := `SELECT ` + requestColumns + ` FROM requests WHERE ` + strings.Join(where, " AND ") + order
	if len(f.States) > 1 {
		// Several states: the newest of each through requests_state,
		// merged. "state IN (…) ORDER BY created_at" read every request
		// in those states and sorted them (the Home tab's last done or
		// failed: 9 of 10 requests in a long history).
		branches := make([]string, len(f.States))
		rest := strings.Join(where[2:], " AND ")
		if rest != "" {
			rest = " AND " + rest
		}
		all := args
		args = nil
		for i, st := range f.States {
			in, _ := stateList([]leave.State{st}) // checked above
			branches[i] = fmt.Sprintf(`SELECT * FROM (SELECT %s FROM requests WHERE state IN (%s)%s%s) AS s%d`, requestColumns, in, rest, order, i)
			args = append(args, all...)
		}
		q = `SELECT * FROM (` + strings.Join(branches, " UNION ALL ") + `) AS u` + order
	}
	rows, err := s.queryRows(ctx, q, args...)
	if err != nil {
		return nil, fmt.Errorf("list requests: %w", err)
	}
	defer rows.Close()
	var out []*Request
	for rows.Next() {
		r, err := scanRequest(rows)
		if err != nil {
			return nil, fmt.Errorf("list requests: %w", err)
		}
		out = append(out, r)
	}
	return out, rows.Err()
}
