package store

import (
	"context"
	"fmt"
	"time"
)

// WaitRate waits until a call of kind key may go out under a limit of
// perSecond calls a second with bursts of up to burst, counted across
// every process that uses the database: replicas sharing a PostgreSQL
// database together stay within a gateway's documented rate, where
// limiters in each process would each allow the whole rate. It takes
// one token from the key's bucket, refilled at perSecond, waiting (and
// trying again) while the bucket is empty, and returns ctx's error if
// ctx ends first.
func (s *Jobs) WaitRate(ctx context.Context, key string, perSecond float64, burst int) error {
	if perSecond <= 0 || burst < 1 {
		return fmt.Errorf("rate %s: perSecond and burst must be positive", key)
	}
	for {
		wait, err := s.takeToken(ctx, key, perSecond, float64(burst), time.Now())
		if err != nil || wait == 0 {
			return err
		}
		// Like rate.Limiter.Wait: a token due after the deadline is not
		// waited for.
		if d, ok := ctx.Deadline(); ok && time.Until(d) < wait {
			return fmt.Errorf("rate %s: next token in %s, after the deadline: %w", key, wait.Round(time.Millisecond), context.DeadlineExceeded)
		}
		t := time.NewTimer(wait)
		select {
		case <-t.C:
		case <-ctx.Done():
			t.Stop()
			return ctx.Err()
		}
	}
}

// takeToken takes a token from the bucket, or says how long until one is
// due. The row is locked for the read-modify-write, so concurrent takers
// (in other processes too) see each other's tokens go.
func (s *core) takeToken(ctx context.Context, key string, perSecond, burst float64, at time.Time) (time.Duration, error) {
	var wait time.Duration
	err := s.inTx(ctx, func(tx dbTx) error {
		now := at.UnixMilli()
		if _, err := tx.exec(ctx, `INSERT INTO rate_buckets (key, tokens, at) VALUES (?, ?, ?) ON CONFLICT (key) DO NOTHING`, key, burst, now); err != nil {
			return err
		}
		var tokens float64
		var at int64
		if err := tx.queryRow(ctx, `SELECT tokens, at FROM rate_buckets WHERE key = ?`+tx.dialect.forUpdate(), key).Scan(&tokens, &at); err != nil {
			return err
		}
		// A clock that went back (another replica's, or ours) must not
		// take tokens away.
		elapsed := max(float64(now-at), 0) / 1000
		tokens = min(burst, tokens+elapsed*perSecond)
		if tokens >= 1 {
			tokens--
		} else {
			wait = time.Duration((1 - tokens) / perSecond * float64(time.Second))
			wait = max(wait, time.Millisecond)
		}
		_, err := tx.exec(ctx, `UPDATE rate_buckets SET tokens = ?, at = ? WHERE key = ?`, tokens, max(now, at), key)
		return err
	})
	if err != nil {
		return 0, fmt.Errorf("rate %s: %w", key, err)
	}
	return wait, nil
}
