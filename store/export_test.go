package store

import (
	"context"
	"time"

	"github.com/waleave/waleave/store/storetest"
)

// Checkpoint copies the SQLite WAL into the database and empties it, so
// a test measures the database file's own size.
func (s *DB) Checkpoint(ctx context.Context) error {
	_, err := s.write.ExecContext(ctx, `PRAGMA wal_checkpoint(TRUNCATE)`)
	return err
}

// AutoVacuum is the SQLite database's auto_vacuum mode (0 none, 1 full,
// 2 incremental).
func (s *DB) AutoVacuum(ctx context.Context) (int, error) {
	var mode int
	err := s.write.QueryRowContext(ctx, `PRAGMA auto_vacuum`).Scan(&mode)
	return mode, err
}

// AuditRows counts the audit table's rows of a request, whether or not
// the request itself is still there.
func (s *Requests) AuditRows(ctx context.Context, requestID string) (int, error) {
	var n int
	err := s.queryRow(ctx, `SELECT COUNT(*) FROM audit WHERE request_id = ?`, requestID).Scan(&n)
	return n, err
}

// SeedHistory adds n ended requests with their audit (see
// storetest.SeedHistory).
func (s *Requests) SeedHistory(ctx context.Context, n int, now time.Time) error {
	return storetest.SeedHistory(ctx, s.write, s.dialect == PostgreSQL, n, now)
}
