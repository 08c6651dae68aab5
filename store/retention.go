package store

import (
	"context"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/waleave/waleave/leave"
)

// pruneBatch is how many requests one pruning transaction deletes. A
// batch (500 requests and their audit rows) commits in milliseconds, so
// the new requests and clicks queued behind it on SQLite's one writer
// wait about as long as behind a burst of confirmations.
const pruneBatch = 500

// Prune deletes, in batches of pruneBatch requests, each its own
// transaction, the requests that ended (finished_at set, in an ended
// state) before before, with their audit entries. A request whose Slack
// outbox lease is still held at now is left for a later run. It stops
// when nothing more is due or when ctx ends, and returns how many
// requests it deleted (those of committed batches) with ctx's error in
// the second case. On SQLite the pages freed are then given back to the
// file system (see reclaim).
//
// River's own rows need no pruning here: its job cleaner deletes
// finished jobs after a day (discarded ones after a week).
func (s *Requests) Prune(ctx context.Context, before, now time.Time) (int, error) {
	// Only requests in a final state are pruned: pending, confirmed
	// (scheduled) and running requests are kept however old they are.
	ended := slices.DeleteFunc(leave.States(), func(st leave.State) bool { return !st.Final() })
	states, err := stateList(ended)
	if err != nil {
		return 0, err
	}
	// The partial index requests_finished (migration 0011) finds them
	// without reading the history that is kept (174 ms an idle run at
	// 100,000 requests through requests_state). Any 500 will do: no
	// ORDER BY, which would sort every request due on a first run.
	// Written out, not bound, as in ListRequests: a generic plan
	// (PostgreSQL's, after a few runs) would read the whole table.
	// The groups of a bulk request go with it (it ends after them), so
	// its children are never counted or deleted on their own.
	pick := fmt.Sprintf(`SELECT id FROM requests WHERE state IN (%s) AND finished_at < %d AND finished_at > 0 AND outbox_lease < %d AND parent_id = '' LIMIT %d`,
		states, ms(before), ms(now), pruneBatch)
	total := 0
	for {
		if err := ctx.Err(); err != nil {
			return total, err
		}
		n := 0
		err := s.inTx(ctx, func(tx dbTx) error {
			rows, err := tx.QueryContext(ctx, pick)
			if err != nil {
				return err
			}
			var ids []any
			for rows.Next() {
				var id string
				if err := rows.Scan(&id); err != nil {
					rows.Close()
					return err
				}
				ids = append(ids, id)
			}
			rows.Close()
			if err := rows.Err(); err != nil {
				return err
			}
			if len(ids) == 0 {
				return nil
			}
			in := strings.TrimSuffix(strings.Repeat("?, ", len(ids)), ", ")
			if _, err := tx.exec(ctx, `DELETE FROM audit WHERE request_id IN (SELECT id FROM requests WHERE parent_id IN (`+in+`) AND parent_id <> '')`, ids...); err != nil {
				return err
			}
			if _, err := tx.exec(ctx, `DELETE FROM requests WHERE parent_id IN (`+in+`) AND parent_id <> ''`, ids...); err != nil {
				return err
			}
			if _, err := tx.exec(ctx, `DELETE FROM audit WHERE request_id IN (`+in+`)`, ids...); err != nil {
				return err
			}
			res, err := tx.exec(ctx, `DELETE FROM requests WHERE id IN (`+in+`)`, ids...)
			if err != nil {
				return err
			}
			d, err := res.RowsAffected()
			n = int(d)
			return err
		})
		if err != nil {
			return total, fmt.Errorf("prune: %w", err)
		}
		total += n
		if n == 0 {
			break
		}
	}
	if total > 0 {
		if err := s.reclaim(ctx); err != nil {
			return total, err
		}
	}
	return total, nil
}

// reclaimPages is how many free pages one incremental vacuum step gives
// back (4 MB of 4 KB pages): a step holds the writer for milliseconds.
const reclaimPages = 1000

// reclaim gives the pages that pruning freed back to the file system, in
// steps of reclaimPages, while the bot runs (SQLite only; PostgreSQL's
// autovacuum makes deleted rows' space reusable on its own). It works on
// databases created with auto_vacuum=INCREMENTAL (every database created
// since retention exists, see openSQLite). An older database (auto_vacuum
// NONE) keeps its freed pages on its free list, where new rows reuse
// them: its file stops growing but does not shrink until a VACUUM.
func (s *core) reclaim(ctx context.Context) error {
	if s.dialect != SQLite {
		return nil
	}
	var mode int
	if err := s.write.QueryRowContext(ctx, `PRAGMA auto_vacuum`).Scan(&mode); err != nil {
		return fmt.Errorf("reclaim: %w", err)
	}
	if mode != 2 { // 2: incremental
		return nil
	}
	for last := -1; ; {
		var free int
		if err := s.write.QueryRowContext(ctx, `PRAGMA freelist_count`).Scan(&free); err != nil {
			return fmt.Errorf("reclaim: %w", err)
		}
		if free == 0 || free == last {
			break // done, or a step that freed nothing (no endless loop)
		}
		last = free
		if _, err := s.write.ExecContext(ctx, fmt.Sprintf(`PRAGMA incremental_vacuum(%d)`, reclaimPages)); err != nil {
			return fmt.Errorf("reclaim: %w", err)
		}
	}
	// The truncated pages leave the file at the next checkpoint.
	s.ended()
	return nil
}

// stateList is states as SQL string literals ('done', 'failed'), for
// queries that must be planned with their values (see ListRequests).
// Only the known states are accepted, so nothing else reaches the SQL.
func stateList(states []leave.State) (string, error) {
	known := leave.States()
	out := make([]string, 0, len(states))
	for _, st := range states {
		if !slices.Contains(known, st) {
			return "", fmt.Errorf("unknown state %q", st)
		}
		out = append(out, "'"+string(st)+"'")
	}
	return strings.Join(out, ", "), nil
}
