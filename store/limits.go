package store

import (
	"context"
	"fmt"
	"time"

	"github.com/waleave/waleave/leave"
)

// PendingCounts counts the unexpired requests waiting for confirmation
// that user asked for, and those made in channel, for the limits on
// pending requests.
func (s *Requests) PendingCounts(ctx context.Context, user, channel string, now time.Time) (byUser, byChannel int, err error) {
	// Both counts in one pass over the pending rows (the state index).
	// The state is written out, not bound (see ListRequests): a generic
	// plan on PostgreSQL, guessing a quarter of a long history pending,
	// would read the whole table on every command.
	err = s.queryRow(ctx, `SELECT
		COALESCE(SUM(CASE WHEN requester_id = ? THEN 1 ELSE 0 END), 0),
		COALESCE(SUM(CASE WHEN channel_id = ? THEN 1 ELSE 0 END), 0)
		FROM requests WHERE state = '`+string(leave.Pending)+`' AND expires_at > ? AND (requester_id = ? OR channel_id = ?) AND parent_id = ''`,
		user, channel, ms(now), user, channel).Scan(&byUser, &byChannel)
	if err != nil {
		return 0, 0, fmt.Errorf("count pending requests: %w", err)
	}
	return byUser, byChannel, nil
}

// FirstDelivery records that the delivery named by key (a hash of a
// request's signature, or of a Socket Mode envelope ID) is being handled,
// and reports whether it is the first time within its window: a replay or
// a redelivery gets false until the window, ending at until, has passed.
// The table is shared, so replicas agree. Concurrent callers share
// transactions (group commit), since every command makes one.
func (s *Requests) FirstDelivery(ctx context.Context, key string, now, until time.Time) (bool, error) {
	op := deliveryOp{key: key, now: now, until: until, done: make(chan deliveryResult, 1)}
	if err := s.deliveries.submit(ctx, op); err != nil {
		return false, err
	}
	res, err := wait(ctx, op.done)
	if err != nil {
		return false, err
	}
	return res.first, res.err
}

// deliveryOp is one FirstDelivery waiting for its writer.
type deliveryOp struct {
	key        string
	now, until time.Time
	done       chan deliveryResult
}

type deliveryResult struct {
	first bool
	err   error
}

// writeDeliveries records a batch of deliveries in one transaction; a key
// twice in one batch is a repeat the second time, as it would be in two.
func (s *core) writeDeliveries(batch []deliveryOp) {
	ctx, cancel := context.WithTimeout(context.Background(), batchTimeout)
	defer cancel()
	results := make([]deliveryResult, len(batch))
	err := s.inTx(ctx, func(tx dbTx) error {
		for i, op := range batch {
			first, err := recordDelivery(ctx, tx, op.key, op.now, op.until)
			if err != nil {
				return err
			}
			results[i].first = first
		}
		return nil
	})
	for i, op := range batch {
		if err != nil {
			results[i] = deliveryResult{err: err}
		}
		op.done <- results[i]
	}
}

// recordDelivery records key in tx until until, reporting whether it is
// new: a row whose window has ended but that the sweep has not yet pruned
// counts as absent.
func recordDelivery(ctx context.Context, tx dbTx, key string, now, until time.Time) (bool, error) {
	res, err := tx.exec(ctx, `INSERT INTO seen_deliveries (key, expires_at) VALUES (?, ?)
		ON CONFLICT (key) DO UPDATE SET expires_at = excluded.expires_at
		WHERE seen_deliveries.expires_at <= ?`, key, ms(until), ms(now))
	if err != nil {
		return false, fmt.Errorf("record delivery: %w", err)
	}
	n, err := res.RowsAffected()
	if err != nil {
		return false, fmt.Errorf("record delivery: %w", err)
	}
	return n == 1, nil
}

// PruneDeliveries forgets deliveries whose window ended before now.
func (s *Requests) PruneDeliveries(ctx context.Context, now time.Time) error {
	if _, err := s.exec(ctx, `DELETE FROM seen_deliveries WHERE expires_at <= ?`, ms(now)); err != nil {
		return fmt.Errorf("prune deliveries: %w", err)
	}
	return nil
}

// TakeRate takes a token from key's bucket (perSecond refill, bursts of
// up to burst) if one is there, and reports whether it did; it never
// waits. Like WaitRate the bucket is shared by every process using the
// database, so replicas together allow the rate once.
func (s *Requests) TakeRate(ctx context.Context, key string, perSecond float64, burst int, now time.Time) (bool, error) {
	if perSecond <= 0 || burst < 1 {
		return false, fmt.Errorf("rate %s: perSecond and burst must be positive", key)
	}
	wait, err := s.takeToken(ctx, key, perSecond, float64(burst), now)
	return wait == 0 && err == nil, err
}
