package store

import (
	"context"
	"time"
)

// createOp is one request waiting for the group-commit writer.
type createOp struct {
	r    *Request
	done chan error
}

// maxBatch bounds one group commit, so a huge burst still commits often.
const maxBatch = 256

// batchLinger is how long a busy writer waits for more requests to join a
// commit; it is small next to Slack's three seconds and next to the
// commit it saves.
const batchLinger = 500 * time.Microsecond

// createBatched hands r to the group-commit writer and waits until the
// transaction holding it has committed: when it returns nil the request
// is durable.
func (s *DB) createBatched(ctx context.Context, r *Request) error {
	op := createOp{r: r, done: make(chan error, 1)}
	select {
	case s.creates <- op:
	case <-ctx.Done():
		return ctx.Err()
	}
	select {
	case err := <-op.done:
		return err
	case <-ctx.Done():
		// The write may still commit; the caller only stops waiting.
		return ctx.Err()
	}
}

// batchCreates is the group-commit writer: it takes whatever requests are
// waiting (at least one) and inserts them in one transaction. SQLite's
// cost is mostly per commit (the WAL frames of every page touched), so
// under load many requests share it; an idle writer commits a lone
// request at once, adding no latency. A failed insert is rolled back to
// its savepoint and fails only its own caller.
func (s *DB) batchCreates() {
	defer close(s.stopped)
	ctx := context.Background()
	for op := range s.creates {
		batch := []createOp{op}
		// More waiting means a burst: give the requests still arriving a
		// moment to share this commit. An idle writer commits at once.
		var linger <-chan time.Time
		if len(s.creates) > 0 {
			linger = time.After(batchLinger)
		}
	fill:
		for len(batch) < maxBatch {
			select {
			case op, ok := <-s.creates:
				if !ok {
					break fill
				}
				batch = append(batch, op)
			default:
				if linger == nil {
					break fill
				}
				select {
				case op, ok := <-s.creates:
					if !ok {
						break fill
					}
					batch = append(batch, op)
				case <-linger:
					break fill
				}
			}
		}
		errs := make([]error, len(batch))
		txErr := s.writeBatch(ctx, batch, errs)
		for i, op := range batch {
			if txErr != nil {
				op.done <- txErr
			} else {
				op.done <- errs[i]
			}
		}
	}
}

// writeBatch inserts the batch in one transaction. If any insert fails
// the transaction is abandoned and each request is retried in its own
// transaction, so a bad request fails only its caller.
func (s *DB) writeBatch(ctx context.Context, batch []createOp, errs []error) error {
	err := s.inTx(ctx, func(tx dbTx) error {
		for _, op := range batch {
			if err := s.insertRequest(ctx, tx, op.r); err != nil {
				return err
			}
		}
		return nil
	})
	if err == nil || len(batch) == 1 {
		return err
	}
	for i, op := range batch {
		errs[i] = s.inTx(ctx, func(tx dbTx) error { return s.insertRequest(ctx, tx, op.r) })
	}
	return nil
}
