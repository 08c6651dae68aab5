package store

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"time"
)

// maxBatch bounds one group commit, so a huge burst still commits often.
const maxBatch = 256

// batchLinger is how long a busy writer waits for more operations to join
// a commit; it is small next to Slack's three seconds and next to the
// commit it saves.
const batchLinger = 500 * time.Microsecond

// batchTimeout bounds one batch's transaction, so that a stuck database
// (a lock held by a hung replica, say) fails the batch's callers instead
// of stopping the writer for good. Callers stop waiting much sooner
// (Slack's three seconds), but the writer serves everyone after them.
const batchTimeout = 10 * time.Second

// groupCommit collects operations from concurrent callers and hands them
// to write in batches, one transaction each. A database's cost for a
// small write is mostly per commit (on SQLite the WAL frames of every
// page touched; on PostgreSQL a WAL flush and a round trip), so under
// load many operations share it, while a lone operation on an idle writer
// is written at once, adding no latency. Each operation carries its own
// way of telling its caller the result.
type groupCommit[T any] struct {
	ops     chan T
	stopped chan struct{}
	// mu guards closed, so that an operation submitted after stop (a
	// handler outliving a timed-out shutdown) fails instead of panicking.
	mu     sync.RWMutex
	closed bool
}

// ErrClosed is returned for writes submitted after the DB was closed.
var ErrClosed = errors.New("store is closed")

// startGroupCommit starts the writer goroutine; stop ends it.
func startGroupCommit[T any](write func(batch []T)) *groupCommit[T] {
	g := &groupCommit[T]{ops: make(chan T, 1024), stopped: make(chan struct{})}
	go g.run(write)
	return g
}

// submit queues op, or gives up when ctx ends first.
func (g *groupCommit[T]) submit(ctx context.Context, op T) error {
	g.mu.RLock()
	defer g.mu.RUnlock()
	if g.closed {
		return ErrClosed
	}
	select {
	case g.ops <- op:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}

// stop writes what is queued and waits for the writer to end; later
// submissions fail with ErrClosed.
func (g *groupCommit[T]) stop() {
	g.mu.Lock()
	if !g.closed {
		g.closed = true
		close(g.ops)
	}
	g.mu.Unlock()
	<-g.stopped
}

func (g *groupCommit[T]) run(write func(batch []T)) {
	defer close(g.stopped)
	for op := range g.ops {
		batch := []T{op}
		// More waiting means a burst: give the operations still arriving
		// a moment to share this commit. An idle writer commits at once.
		var linger <-chan time.Time
		if len(g.ops) > 0 {
			linger = time.After(batchLinger)
		}
	fill:
		for len(batch) < maxBatch {
			select {
			case op, ok := <-g.ops:
				if !ok {
					break fill
				}
				batch = append(batch, op)
			default:
				if linger == nil {
					break fill
				}
				select {
				case op, ok := <-g.ops:
					if !ok {
						break fill
					}
					batch = append(batch, op)
				case <-linger:
					break fill
				}
			}
		}
		write(batch)
	}
}

// wait returns what the writer sent on done, or ctx's error when the
// caller stops waiting first (the write may still commit).
func wait[R any](ctx context.Context, done <-chan R) (R, error) {
	select {
	case r := <-done:
		return r, nil
	case <-ctx.Done():
		var zero R
		return zero, fmt.Errorf("%w: %w", ErrPending, ctx.Err())
	}
}

// createOp is one request waiting for the group-commit writer.
type createOp struct {
	r    *Request
	done chan error
}

// createBatched hands r to the group-commit writer and waits until the
// transaction holding it has committed: when it returns nil the request
// is durable.
func (s *core) createBatched(ctx context.Context, r *Request) error {
	op := createOp{r: r, done: make(chan error, 1)}
	if err := s.creates.submit(ctx, op); err != nil {
		return err
	}
	err, waitErr := wait(ctx, op.done)
	if waitErr != nil {
		return waitErr
	}
	return err
}

// writeCreates inserts the batch in one transaction. A repeated delivery
// (ErrRepeated) is an answer for its own caller and does not stop the
// others; if any insert fails otherwise the transaction is abandoned and
// each request is retried in its own transaction, so a bad request fails
// only its caller.
func (s *core) writeCreates(batch []createOp) {
	ctx, cancel := context.WithTimeout(context.Background(), batchTimeout)
	defer cancel()
	results := make([]error, len(batch))
	err := s.inTx(ctx, func(tx dbTx) error {
		for i, op := range batch {
			err := s.insertDelivered(ctx, tx, op.r)
			if errors.Is(err, ErrRepeated) {
				results[i] = err
				continue
			}
			if err != nil {
				return err
			}
		}
		return nil
	})
	if err == nil || len(batch) == 1 {
		for i, op := range batch {
			if err != nil {
				results[i] = err
			}
			op.done <- results[i]
		}
		return
	}
	for _, op := range batch {
		s.writeCreates([]createOp{op})
	}
}
