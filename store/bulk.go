package store

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/waleave/waleave/leave"
)

// Bulk requests (SPEC §9). A bulk request is a parent row (Kind
// leave.KindBulk) that holds what is decided once: the number, the
// goodbye, the card, the confirmation, reminders and expiry. Each of its
// groups is a child row (ParentID set), an ordinary request that its own
// leave job carries out exactly as a single request's. Children have no
// card and no thread reply: every child that ends bumps the parent's
// card (its progress), and the last one ends the parent, which then owes
// the thread its summary.

// CreateBulk records a pending bulk request and its groups in one
// transaction: parent is filled in as CreateRequest fills a request (its
// Kind becomes leave.KindBulk), and each child becomes a pending request
// of parent's, with parent's number, channel, requester, run time and
// expiry. A child's Goodbye, when empty, is parent's. The parent's
// delivery, if it names one, is recorded as CreateRequest records it.
func (s *Requests) CreateBulk(ctx context.Context, parent *Request, children []*Request) error {
	return s.CreateBulkThen(ctx, parent, children, nil)
}

// CreateBulkThen is CreateBulk with enqueue, when not nil, run in the
// same transaction (the end of the stale scan the request comes from).
func (s *Requests) CreateBulkThen(ctx context.Context, parent *Request, children []*Request, enqueue Enqueue) error {
	parent.Kind = leave.KindBulk
	parent.fillNew()
	for _, c := range children {
		if c.ID == "" {
			c.ID = NewID()
		}
		c.ParentID, c.Kind, c.State = parent.ID, leave.KindSingle, leave.Pending
		c.Number, c.TeamID, c.ChannelID, c.RequesterID = parent.Number, parent.TeamID, parent.ChannelID, parent.RequesterID
		c.CreatedAt, c.UpdatedAt, c.ExpiresAt, c.RunAt, c.TZ = parent.CreatedAt, parent.UpdatedAt, parent.ExpiresAt, parent.RunAt, parent.TZ
		if c.Goodbye == "" {
			c.Goodbye = parent.Goodbye
		}
		// No card of its own: nothing is ever owed to Slack for it.
		c.CardVersion, c.CardPostedVersion = 1, 1
	}
	err := s.inTx(ctx, func(tx dbTx) error {
		if err := s.insertDelivered(ctx, tx, parent); err != nil {
			return err
		}
		for _, c := range children {
			if err := s.insertRequest(ctx, tx, c); err != nil {
				return err
			}
		}
		if enqueue != nil {
			return enqueue(ctx, tx.Tx)
		}
		return nil
	})
	if err == nil {
		s.owed() // the parent's card
	}
	return err
}

// Every query of a bulk request's groups says parent_id <> '' too, so
// that SQLite, which cannot prove it of a bound value, reads them
// through the partial index requests_parent.

// Children returns the groups of the bulk request id, by group name
// (case-insensitive), then ID.
func (s *Requests) Children(ctx context.Context, id string) ([]*Request, error) {
	rows, err := s.queryRows(ctx, `SELECT `+requestColumns+` FROM requests WHERE parent_id = ? AND parent_id <> ''`, id)
	if err != nil {
		return nil, fmt.Errorf("list groups of %s: %w", id, err)
	}
	defer rows.Close()
	var out []*Request
	for rows.Next() {
		r, err := scanRequest(rows)
		if err != nil {
			return nil, fmt.Errorf("list groups of %s: %w", id, err)
		}
		out = append(out, r)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("list groups of %s: %w", id, err)
	}
	slices.SortFunc(out, func(a, b *Request) int {
		if c := strings.Compare(strings.ToLower(a.GroupSubject), strings.ToLower(b.GroupSubject)); c != 0 {
			return c
		}
		return strings.Compare(a.ID, b.ID)
	})
	return out, nil
}

// confirmChildren confirms the pending groups of the bulk request id,
// just confirmed by by, in the confirmation's transaction, and returns
// their confirmations (one job each).
func (s *core) confirmChildren(ctx context.Context, tx dbTx, id, by string, now time.Time) ([]Confirmation, *Request, error) {
	rows, err := tx.QueryContext(ctx, s.dialect.rebind(`UPDATE requests SET state = ?, updated_at = ?, confirmed_by = ?, confirmed_at = ?
		WHERE parent_id = ? AND parent_id <> '' AND state = ? RETURNING id, run_at`), leave.Confirmed, ms(now), by, ms(now), id, leave.Pending)
	if err != nil {
		return nil, nil, fmt.Errorf("confirm groups of %s: %w", id, err)
	}
	var out []Confirmation
	for rows.Next() {
		var c Confirmation
		var at int64
		if err := rows.Scan(&c.RequestID, &at); err != nil {
			rows.Close()
			return nil, nil, fmt.Errorf("confirm groups of %s: %w", id, err)
		}
		c.RunAt = fromMS(at)
		out = append(out, c)
	}
	rows.Close()
	if err := rows.Err(); err != nil {
		return nil, nil, fmt.Errorf("confirm groups of %s: %w", id, err)
	}
	if _, err := tx.exec(ctx, `INSERT INTO audit (request_id, at, actor, action, detail, gateway_status)
		SELECT id, ?, ?, 'confirmed', '', 0 FROM requests WHERE parent_id = ? AND parent_id <> '' AND state = ?`, ms(now), by, id, leave.Confirmed); err != nil {
		return nil, nil, fmt.Errorf("confirm groups of %s: %w", id, err)
	}
	return out, nil, nil
}

// notStarted selects the groups of a bulk request whose work has not
// started: confirmed, or claimed by a run that has sent nothing yet
// (no goodbye claimed, no leave called, no successor promoted), such as
// one waiting for its turn under the gateway's rate. ClaimGoodbye and
// BeginLeave refuse a request that is no longer running, so such a run
// sends nothing once its group is stopped.
var notStarted = `(state = '` + string(leave.Confirmed) + `' OR (state = '` + string(leave.Running) +
	`' AND goodbye_state = '' AND leave_state = '' AND leave_unknown = 0 AND promoted_at = 0))`

// endChildren moves the groups of the bulk request id that are in one of
// from to the final state to, with an audit row each (actor, action).
func (s *core) endChildren(ctx context.Context, tx dbTx, id string, from []leave.State, to leave.State, actor, action string, now time.Time) error {
	in, err := stateList(from)
	if err != nil {
		return err
	}
	return s.endChildrenWhere(ctx, tx, id, `state IN (`+in+`)`, to, actor, action, now)
}

// endChildrenWhere is endChildren for the groups that where selects.
func (s *core) endChildrenWhere(ctx context.Context, tx dbTx, id, where string, to leave.State, actor, action string, now time.Time) error {
	if _, err := tx.exec(ctx, `INSERT INTO audit (request_id, at, actor, action, detail, gateway_status)
		SELECT id, ?, ?, ?, '', 0 FROM requests WHERE parent_id = ? AND parent_id <> '' AND `+where, ms(now), actor, action, id); err != nil {
		return fmt.Errorf("end groups of %s: %w", id, err)
	}
	cancelledBy := ""
	if to == leave.Cancelled {
		cancelledBy = actor
	}
	set := strings.Join(endSet("state = ?", "updated_at = ?", "finished_at = ?", "cancelled_by = ?"), ", ")
	if _, err := tx.exec(ctx, `UPDATE requests SET `+set+`, run_until = 0 WHERE parent_id = ? AND parent_id <> '' AND `+where,
		to, ms(now), ms(now), cancelledBy, id); err != nil {
		return fmt.Errorf("end groups of %s: %w", id, err)
	}
	return nil
}

// BulkCounts is how many groups of a bulk request are in each state.
type BulkCounts map[leave.State]int

// childCounts counts the groups of the bulk request id by state.
func childCounts(ctx context.Context, tx dbTx, id string) (BulkCounts, error) {
	rows, err := tx.QueryContext(ctx, tx.dialect.rebind(`SELECT state, COUNT(*) FROM requests WHERE parent_id = ? AND parent_id <> '' GROUP BY state`), id)
	if err != nil {
		return nil, fmt.Errorf("count groups of %s: %w", id, err)
	}
	defer rows.Close()
	n := BulkCounts{}
	for rows.Next() {
		var st leave.State
		var c int
		if err := rows.Scan(&st, &c); err != nil {
			return nil, fmt.Errorf("count groups of %s: %w", id, err)
		}
		n[st] = c
	}
	return n, rows.Err()
}

// childEnded follows a group of the bulk request parentID into a final
// state, in the same transaction: the parent's card owes its progress,
// and when no group is left to do the parent ends too and owes the
// thread its summary. The parent's row is locked first, so two groups
// ending at once on two replicas end the parent once.
func (s *core) childEnded(ctx context.Context, tx dbTx, parentID string, now time.Time) error {
	p, err := s.requestTx(ctx, tx, parentID, true)
	if errors.Is(err, ErrNotFound) {
		return nil
	}
	if err != nil {
		return err
	}
	return s.settleParent(ctx, tx, p, now)
}

// settleParent bumps the bulk request p's card and, when every group has
// ended, ends p: failed when a group failed, cancelled when every group
// was stopped or cancelled before it started, done otherwise.
func (s *core) settleParent(ctx context.Context, tx dbTx, p *Request, now time.Time) error {
	if p.State.Final() {
		return nil
	}
	n, err := childCounts(ctx, tx, p.ID)
	if err != nil {
		return err
	}
	open, total := 0, 0
	for st, c := range n {
		total += c
		if !st.Final() {
			open += c
		}
	}
	if open > 0 {
		if _, err := tx.exec(ctx, `UPDATE requests SET card_version = card_version + 1, updated_at = ? WHERE id = ?`, ms(now), p.ID); err != nil {
			return fmt.Errorf("bump card of %s: %w", p.ID, err)
		}
		return nil
	}
	to := leave.Done
	switch {
	case n[leave.Failed] > 0:
		to = leave.Failed
	case n[leave.Done] == 0:
		to = leave.Cancelled
	}
	set := strings.Join(endSet("state = ?", "updated_at = ?", "finished_at = ?", "card_version = card_version + 1", "reply_needed = 1", "progress = ''"), ", ")
	if _, err := tx.exec(ctx, `UPDATE requests SET `+set+` WHERE id = ?`, to, ms(now), ms(now), p.ID); err != nil {
		return fmt.Errorf("end bulk request %s: %w", p.ID, err)
	}
	detail := fmt.Sprintf("%d groups: %d done, %d failed, %d stopped or cancelled", total, n[leave.Done], n[leave.Failed], n[leave.Cancelled]+n[leave.Expired])
	if err := s.addAudit(ctx, tx, AuditEntry{RequestID: p.ID, At: now, Actor: "waleave", Action: string(to), Detail: detail}); err != nil {
		return err
	}
	s.ended()
	return nil
}

// Stop stops the confirmed bulk request id (leave_stop): in one
// transaction each of its groups whose work has not started (see
// notStarted) is cancelled, by by, so its job sends nothing; groups
// under way finish. The request records who stopped it
// (CancelledBy) and ends when its last group does, at once when none is
// under way. A request that is not a confirmed bulk request is refused
// with ErrConflict and returned as it is.
func (s *Requests) Stop(ctx context.Context, id, by string, now time.Time) (*Request, error) {
	var out *Request
	err := s.inTx(ctx, func(tx dbTx) error {
		p, err := s.requestTx(ctx, tx, id, true)
		if err != nil {
			return err
		}
		out = p
		if p.Kind != leave.KindBulk || p.State != leave.Confirmed || p.CancelledBy != "" {
			return ErrConflict
		}
		if err := s.endChildrenWhere(ctx, tx, id, notStarted, leave.Cancelled, by, "stopped", now); err != nil {
			return err
		}
		if _, err := tx.exec(ctx, `UPDATE requests SET cancelled_by = ?, updated_at = ? WHERE id = ?`, by, ms(now), id); err != nil {
			return fmt.Errorf("stop %s: %w", id, err)
		}
		if err := s.addAudit(ctx, tx, AuditEntry{RequestID: id, At: now, Actor: by, Action: "stopped"}); err != nil {
			return err
		}
		if err := s.settleParent(ctx, tx, p, now); err != nil {
			return err
		}
		out, err = s.requestTx(ctx, tx, id, false)
		return err
	})
	if err == nil {
		s.owed()
	}
	return out, err
}

// BeginCardUpdate claims the next update of the card of request id at
// now, if the last one began at least every before: it records now as
// the card's last update and reports true. Otherwise it reports false
// and when the next update may begin. The check and the record are one
// statement, so posters on several replicas keep to the pace together.
func (s *Outbox) BeginCardUpdate(ctx context.Context, id string, now time.Time, every time.Duration) (ok bool, next time.Time, err error) {
	res, err := s.exec(ctx, `UPDATE requests SET card_updated_at = ? WHERE id = ? AND card_updated_at <= ?`, ms(now), id, ms(now.Add(-every)))
	if err != nil {
		return false, time.Time{}, fmt.Errorf("begin card update: %w", err)
	}
	if n, err := res.RowsAffected(); err != nil {
		return false, time.Time{}, fmt.Errorf("begin card update: %w", err)
	} else if n == 1 {
		return true, time.Time{}, nil
	}
	var last int64
	if err := s.queryRow(ctx, `SELECT card_updated_at FROM requests WHERE id = ?`, id).Scan(&last); err != nil {
		return false, time.Time{}, fmt.Errorf("begin card update: %w", err)
	}
	return false, fromMS(last).Add(every), nil
}

// CardUpdated records that an update of the card of request id was
// answered at at, so the pace counts from Slack's answer (a slow call
// does not bring the next update closer).
func (s *Outbox) CardUpdated(ctx context.Context, id string, at time.Time) error {
	// Rounded up to the millisecond stored, so that the next update is
	// never less than the interval after this one's answer.
	v := ms(at.Add(time.Millisecond - 1))
	if _, err := s.exec(ctx, `UPDATE requests SET card_updated_at = ? WHERE id = ? AND card_updated_at < ?`, v, id, v); err != nil {
		return fmt.Errorf("record card update: %w", err)
	}
	return nil
}
