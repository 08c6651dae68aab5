package store

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/waleave/waleave/leave"
)

// EnqueueMany adds the caller's writes for requests that a transaction
// has just confirmed (typically one River job each, inserted together),
// so that they commit or roll back with the confirmations.
type EnqueueMany func(ctx context.Context, tx *sql.Tx, confirmed []Confirmation) error

// Confirmation is what the work queued for a just-confirmed request needs
// to know. It is not the whole request: reading back a request's every
// column on each click cost more than the rest of the confirmation.
type Confirmation struct {
	RequestID string
	// RunAt is when a scheduled leave runs; zero means now.
	RunAt time.Time
}

// Confirmer confirms requests for concurrent callers in shared
// transactions: a burst of clicks costs a few commits and one enqueue per
// commit instead of one each, which is most of a click's cost. Each caller
// still waits for its own commit, so a confirmation it is told about is
// durable along with its job.
type Confirmer struct {
	s        *core
	enqueue  EnqueueMany
	confirms *groupCommit[confirmOp]
}

// confirmOp is one click waiting for the Confirmer's writer.
type confirmOp struct {
	id, by string
	from   Card
	now    time.Time
	done   chan confirmResult
}

// Card is the card a click came from: the message (its channel and ts)
// and the version of the request it showed (CardVersion when drawn).
type Card struct {
	ChannelID, TS string
	Version       int
}

type confirmResult struct {
	r   *Request // only for a refusal: the request as it is
	err error
}

// NewConfirmer starts a Confirmer whose transactions run enqueue. It
// runs until the DB is closed.
func (s *Requests) NewConfirmer(enqueue EnqueueMany) *Confirmer {
	c := &Confirmer{s: s.core, enqueue: enqueue}
	c.confirms = startGroupCommit(c.write)
	s.mu.Lock()
	s.confirmers = append(s.confirmers, c)
	s.mu.Unlock()
	return c
}

// Confirm moves a pending, unexpired request to confirmed and enqueues
// its work in the same transaction, returning nil once that has
// committed; concurrent callers share transactions. It is the only way a
// request is confirmed. A request past its expiry is refused with
// ErrExpired, one that is no longer pending with ErrConflict; both come
// with the request as it is, to say who decided it and how.
//
// The click must come from the request's own card, as from shows it: a
// click from another message or channel is refused with ErrWrongCard,
// one from a card drawn before the request last changed (a successor
// chosen, details arrived) with ErrStale, so nobody confirms something
// other than what they saw.
func (c *Confirmer) Confirm(ctx context.Context, id, by string, from Card, now time.Time) (*Request, error) {
	if from.TS == "" || from.ChannelID == "" {
		// Not from a message at all. (A card whose ts is not recorded
		// yet, because the click beat the outbox's write, is the message
		// clicked: the request has only the one card.)
		return nil, ErrWrongCard
	}
	op := confirmOp{id: id, by: by, from: from, now: now, done: make(chan confirmResult, 1)}
	if err := c.confirms.submit(ctx, op); err != nil {
		return nil, err
	}
	res, err := wait(ctx, op.done)
	if err != nil {
		return nil, err
	}
	return res.r, res.err
}

// write confirms a batch in one transaction. Refusals (not found, not
// pending, expired) are answers for their own callers and do not stop
// the others; any other failure abandons the transaction and each click
// is retried in a transaction of its own, so it fails only its caller.
func (c *Confirmer) write(batch []confirmOp) {
	ctx, cancel := context.WithTimeout(context.Background(), batchTimeout)
	defer cancel()
	// Rows are locked in ID order, so that two replicas confirming
	// overlapping batches on PostgreSQL cannot deadlock.
	slices.SortFunc(batch, func(a, b confirmOp) int { return strings.Compare(a.id, b.id) })
	results := make([]confirmResult, len(batch))
	err := c.s.inTx(ctx, func(tx dbTx) error {
		var confirmed []Confirmation
		for i, op := range batch {
			confs, r, err := c.s.confirmInTx(ctx, tx, op.id, op.by, op.from, op.now)
			results[i] = confirmResult{r, err}
			switch {
			case err == nil:
				confirmed = append(confirmed, confs...)
			case errors.Is(err, ErrNotFound), errors.Is(err, ErrConflict), errors.Is(err, ErrExpired),
				errors.Is(err, ErrWrongCard), errors.Is(err, ErrStale):
			default:
				return err
			}
		}
		if len(confirmed) == 0 {
			return nil
		}
		return c.enqueue(ctx, tx.Tx, confirmed)
	})
	if err != nil && len(batch) > 1 {
		for _, op := range batch {
			c.write([]confirmOp{op})
		}
		return
	}
	if err == nil && slices.ContainsFunc(results, func(r confirmResult) bool { return r.err == nil }) {
		c.s.owed() // the confirmed cards
	}
	for i, op := range batch {
		if err != nil {
			results[i] = confirmResult{err: err}
		}
		op.done <- results[i]
	}
}

// confirmInTx is the confirmation itself, in two prepared statements: a
// conditional update that returns only the request's run_at (the one
// column its job needs), and the audit entry. Only when the update
// refuses is the row read, to say why; that request is returned. On
// PostgreSQL the update's row lock makes a concurrent confirmation of
// the same request wait, then find it no longer pending.
//
// A bulk request has no work of its own: its groups (children) are
// confirmed with it, and the confirmations returned are theirs, one job
// each.
func (s *core) confirmInTx(ctx context.Context, tx dbTx, id, by string, from Card, now time.Time) (confirmed []Confirmation, refused *Request, err error) {
	var at int64
	var kind leave.Kind
	err = tx.StmtContext(ctx, s.stmtConfirm).QueryRowContext(ctx,
		leave.Confirmed, ms(now), by, ms(now), id, leave.Pending, ms(now), from.ChannelID, from.TS, from.Version).Scan(&at, &kind)
	if errors.Is(err, sql.ErrNoRows) {
		refused, err = s.refusal(ctx, tx, id, from, now)
		return nil, refused, err
	}
	if err != nil {
		return nil, nil, fmt.Errorf("confirm request %s: %w", id, err)
	}
	if err := s.addAudit(ctx, tx, AuditEntry{RequestID: id, At: now, Actor: by, Action: "confirmed"}); err != nil {
		return nil, nil, err
	}
	if kind == leave.KindBulk {
		return s.confirmChildren(ctx, tx, id, by, now)
	}
	return []Confirmation{{RequestID: id, RunAt: fromMS(at)}}, nil, nil
}

// refusal says why a request could not be confirmed: it does not exist
// (ErrNotFound), the click came from elsewhere than its card
// (ErrWrongCard), it is no longer pending (ErrConflict), has expired
// (ErrExpired) or changed since the card was drawn (ErrStale); the
// request is returned as it is. A click from elsewhere is told nothing
// more about the request.
func (s *core) refusal(ctx context.Context, tx dbTx, id string, from Card, now time.Time) (*Request, error) {
	r, err := s.requestTx(ctx, tx, id, false)
	switch {
	case err != nil:
		return nil, err
	case !r.OnCard(from):
		return nil, ErrWrongCard
	case r.State != leave.Pending:
		return r, ErrConflict
	case !now.Before(r.ExpiresAt):
		return r, ErrExpired
	case r.CardVersion != from.Version:
		return r, ErrStale
	}
	// Pending, unexpired and as the card showed it, yet the update matched nothing: the two
	// statements see the same row and the same now, so this is a bug.
	return r, fmt.Errorf("confirm request %s: refused for no reason", id)
}

const confirmSQL = `UPDATE requests SET state = ?, updated_at = ?,
	card_version = card_version + 1, confirmed_by = ?, confirmed_at = ?
	WHERE id = ? AND state = ? AND expires_at > ?
	AND channel_id = ? AND card_ts IN (?, '') AND card_version = ?
	RETURNING run_at, kind`
