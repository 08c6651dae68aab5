package store

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"
)

// errSingleProcess refuses the replica methods on SQLite, where there
// are no other replicas (see SingleProcess).
var errSingleProcess = errors.New("replicas share only a PostgreSQL database")

// errSharedDatabase refuses ReclaimAll on a database replicas share.
var errSharedDatabase = errors.New("reclaim all: the database is shared by replicas")

// Heartbeat records that the replica whose River client ID is id is alive,
// by the database's clock: replicas compare their heartbeats with each
// other's, and the database's clock is the one they share.
func (s *Jobs) Heartbeat(ctx context.Context, id string) error {
	if s.singleProcess() {
		return errSingleProcess
	}
	_, err := s.write.ExecContext(ctx, `INSERT INTO replicas (id, seen_at) VALUES ($1, `+pgNowMillis+`)
		ON CONFLICT (id) DO UPDATE SET seen_at = excluded.seen_at`, id)
	if err != nil {
		return fmt.Errorf("heartbeat: %w", err)
	}
	return nil
}

// ReplicaGone marks the replica as dead at once, so that the others take
// back what it leaves (ReclaimFromDead) without waiting for its heartbeat
// to go stale: its outbox leases at their next look, a job it leaves
// running (a stop that ran out of time) once that run's time is up.
func (s *Jobs) ReplicaGone(ctx context.Context, id string) error {
	if s.singleProcess() {
		return errSingleProcess
	}
	if _, err := s.write.ExecContext(ctx, `UPDATE replicas SET seen_at = 0 WHERE id = $1`, id); err != nil {
		return fmt.Errorf("mark replica gone: %w", err)
	}
	return nil
}

// ReclaimFromDead takes back what replicas whose last heartbeat is older
// than staleAfter left behind. It gives back their outbox leases at once
// (a poster extends its lease before each send, so one that was only
// paused finds it gone and does not send), makes runnable again the River
// jobs of kind they were running once each run started more than
// runTimeout ago, and forgets those replicas when none of their runs is
// left. It returns how many jobs it requeued.
//
// runTimeout is the job's own timeout: a replica that only seems dead
// (paused, or cut off from the database) has given up its run by then,
// so the job never runs in two places at once.
//
// Only replicas that ever wrote a heartbeat count: a job running on a
// client that never did (an older version, during a rolling upgrade) is
// left to River's rescuer, since nothing says that client is dead.
func (s *Jobs) ReclaimFromDead(ctx context.Context, kind string, staleAfter, runTimeout time.Duration) (int64, error) {
	if s.singleProcess() {
		return 0, errSingleProcess
	}
	var n int64
	err := s.write.QueryRowContext(ctx, `WITH dead AS (
			SELECT id FROM replicas WHERE seen_at < `+pgNowMillis+` - $1
		), requeued AS (
			UPDATE river_job SET state = 'available', scheduled_at = now()
			WHERE state = 'running' AND kind = $2 AND attempted_at < now() - make_interval(secs => $3)
				AND attempted_by[array_length(attempted_by, 1)] IN (SELECT id FROM dead)
			RETURNING 1
		), released AS (
			UPDATE requests SET outbox_lease = 0 WHERE outbox_lease > 0 AND outbox_owner IN (SELECT id FROM dead)
		), forgotten AS (
			DELETE FROM replicas WHERE id IN (SELECT id FROM dead) AND NOT EXISTS (
				SELECT 1 FROM river_job WHERE state = 'running' AND kind = $2
					AND attempted_by[array_length(attempted_by, 1)] = replicas.id
					AND attempted_at >= now() - make_interval(secs => $3))
		)
		SELECT count(*) FROM requeued`, staleAfter.Milliseconds(), kind, runTimeout.Seconds()).Scan(&n)
	if err != nil {
		return 0, fmt.Errorf("reclaim from dead replicas: %w", err)
	}
	return n, nil
}

// pgNowMillis is PostgreSQL's clock in unix milliseconds.
const pgNowMillis = `(extract(epoch from clock_timestamp()) * 1000)::bigint`

// ReclaimAll takes back, at start-up, everything a dead process left in
// progress: River jobs marked running, River's leader row (without
// which the new process would wait for it to expire before running
// periodic jobs), outbox leases and leave-run claims. Only for a
// single-process database (SQLite): on a shared one, other replicas hold
// live ones (see ReclaimFromDead).
func (s *Jobs) ReclaimAll(ctx context.Context) error {
	if !s.singleProcess() {
		return errSharedDatabase
	}
	if _, err := s.JobPool().ExecContext(ctx, `UPDATE river_job SET state = 'available' WHERE state = 'running'`); err != nil {
		return fmt.Errorf("requeue orphaned jobs: %w", err)
	}
	if _, err := s.JobPool().ExecContext(ctx, `DELETE FROM river_leader`); err != nil {
		return fmt.Errorf("clear stale leader: %w", err)
	}
	return s.releaseLeases(ctx)
}

// JobPool is the pool River uses. On SQLite it is a pool of its own;
// River's InsertTx on the store's transactions works because both pools
// share the file. On PostgreSQL it is the store's pool.
func (s *Jobs) JobPool() *sql.DB { return s.jobs }

// ListenerPool is where River takes its LISTEN connection from on
// PostgreSQL, so that a job inserted by any replica wakes the others at
// once instead of at their next poll. It is nil on SQLite, which has no
// LISTEN/NOTIFY.
func (s *Jobs) ListenerPool() *pgxpool.Pool { return s.listen }
