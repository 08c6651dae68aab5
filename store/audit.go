package store

import (
	"context"
	"fmt"
	"time"
)

// AuditEntry is one step in a request's history.
type AuditEntry struct {
	ID        int64
	RequestID string
	At        time.Time
	// Actor is a Slack user ID, or "waleave" for the bot's own steps.
	Actor  string
	Action string
	Detail string
	// GatewayStatus is the gateway's HTTP status for gateway steps (0 when
	// there was none).
	GatewayStatus int
}

const insertAuditSQL = `INSERT INTO audit (request_id, at, actor, action, detail, gateway_status) VALUES (?, ?, ?, ?, ?, ?)`

// addAudit appends e in tx, with the statement prepared at Open.
func (s *core) addAudit(ctx context.Context, tx dbTx, e AuditEntry) error {
	_, err := tx.StmtContext(ctx, s.stmtInsertAudit).ExecContext(ctx,
		e.RequestID, ms(e.At), e.Actor, e.Action, e.Detail, e.GatewayStatus)
	if err != nil {
		return fmt.Errorf("insert audit: %w", err)
	}
	return nil
}

// AddAudit appends one entry to a request's history.
func (s *Requests) AddAudit(ctx context.Context, e AuditEntry) error {
	return s.inTx(ctx, func(tx dbTx) error { return s.addAudit(ctx, tx, e) })
}

// Audit returns a request's history, oldest first, starting with its
// creation (from the request row).
func (s *Requests) Audit(ctx context.Context, requestID string) ([]AuditEntry, error) {
	r, err := s.Request(ctx, requestID)
	if err != nil {
		return nil, err
	}
	rows, err := s.queryRows(ctx, `SELECT id, request_id, at, actor, action, detail, gateway_status FROM audit WHERE request_id = ? ORDER BY id`, requestID)
	if err != nil {
		return nil, fmt.Errorf("list audit: %w", err)
	}
	defer rows.Close()
	// The request row is its own first entry; it names the number that
	// leaves unless that is the one number of a single-number bot.
	detail := r.GroupJID
	if r.Number != DefaultNumber {
		detail += " from number " + r.Number
	}
	out := []AuditEntry{{RequestID: r.ID, At: r.CreatedAt, Actor: r.RequesterID, Action: "requested", Detail: detail}}
	for rows.Next() {
		var e AuditEntry
		var at int64
		if err := rows.Scan(&e.ID, &e.RequestID, &at, &e.Actor, &e.Action, &e.Detail, &e.GatewayStatus); err != nil {
			return nil, fmt.Errorf("list audit: %w", err)
		}
		e.At = fromMS(at)
		out = append(out, e)
	}
	return out, rows.Err()
}
