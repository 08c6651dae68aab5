package store

import (
	"context"
	"fmt"
	"time"

	"github.com/waleave/waleave/leave"
)

// Due lists the requests that the periodic sweep must act on at now.
type Due struct {
	// Expire: pending past their expiry.
	Expire []*Request
	// Remind: pending, not yet reminded, created before remindBefore.
	Remind []*Request
	// OpsRemind: confirmed scheduled leaves running within the lead time
	// whose ops-channel reminder has not been posted.
	OpsRemind []*Request
}

// DueWork returns what is due at now: expiries, requester reminders for
// requests created before remindBefore, and ops reminders for scheduled
// leaves that run before now+lead.
func (s *Requests) DueWork(ctx context.Context, now, remindBefore time.Time, lead time.Duration) (Due, error) {
	var d Due
	var err error
	// The states are written out, not bound (as in ListRequests): with a
	// long history a generic plan of "state = $1 ... ORDER BY
	// created_at" on PostgreSQL may read every request through
	// requests_created, every sweep.
	if d.Expire, err = s.queryRequests(ctx, `state = '`+string(leave.Pending)+`' AND expires_at <= ?`, ms(now)); err != nil {
		return d, err
	}
	if d.Remind, err = s.queryRequests(ctx, `state = '`+string(leave.Pending)+`' AND reminded_at = 0 AND created_at <= ? AND expires_at > ?`, ms(remindBefore), ms(now)); err != nil {
		return d, err
	}
	if d.OpsRemind, err = s.queryRequests(ctx, `state = '`+string(leave.Confirmed)+`' AND run_at > 0 AND ops_reminded_at = 0 AND run_at <= ?`, ms(now.Add(lead))); err != nil {
		return d, err
	}
	return d, nil
}

func (s *core) queryRequests(ctx context.Context, where string, args ...any) ([]*Request, error) {
	// The groups of a bulk request are reminded, expired and scheduled
	// through their parent.
	rows, err := s.queryRows(ctx, `SELECT `+requestColumns+` FROM requests WHERE `+where+` AND parent_id = '' ORDER BY created_at LIMIT 500`, args...)
	if err != nil {
		return nil, fmt.Errorf("query requests: %w", err)
	}
	defer rows.Close()
	var out []*Request
	for rows.Next() {
		r, err := scanRequest(rows)
		if err != nil {
			return nil, fmt.Errorf("query requests: %w", err)
		}
		out = append(out, r)
	}
	return out, rows.Err()
}

// UnmarkReminded undoes MarkReminded when the reminder could not be
// posted, so the next sweep tries again.
func (s *Requests) UnmarkReminded(ctx context.Context, id string) error {
	_, err := s.exec(ctx, `UPDATE requests SET reminded_at = 0 WHERE id = ?`, id)
	if err != nil {
		return fmt.Errorf("unmark reminded: %w", err)
	}
	return nil
}

// MarkOpsReminded records, once, that the ops channel was reminded of a
// scheduled leave; it reports false when another sweep already did.
func (s *Requests) MarkOpsReminded(ctx context.Context, id string, now time.Time) (bool, error) {
	var done bool
	err := s.inTx(ctx, func(tx dbTx) error {
		res, err := tx.exec(ctx, `UPDATE requests SET ops_reminded_at = ? WHERE id = ? AND ops_reminded_at = 0`, ms(now), id)
		if err != nil {
			return fmt.Errorf("mark ops reminded: %w", err)
		}
		if n, err := res.RowsAffected(); err != nil || n == 0 {
			return err
		}
		done = true
		return s.addAudit(ctx, tx, AuditEntry{RequestID: id, At: now, Actor: "waleave", Action: "ops reminded"})
	})
	return done, err
}

// UnmarkOpsReminded undoes MarkOpsReminded after a failed post.
func (s *Requests) UnmarkOpsReminded(ctx context.Context, id string) error {
	_, err := s.exec(ctx, `UPDATE requests SET ops_reminded_at = 0 WHERE id = ?`, id)
	if err != nil {
		return fmt.Errorf("unmark ops reminded: %w", err)
	}
	return nil
}
