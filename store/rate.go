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
// limiters in each process would each allow the whole rate. It reserves
// a slot (ReserveRate) and sleeps until it, and returns ctx's error if
// ctx ends first.
func (s *Jobs) WaitRate(ctx context.Context, key string, perSecond float64, burst int) error {
	slot, err := s.ReserveRate(ctx, key, perSecond, burst)
	if err != nil {
		return err
	}
	t := time.NewTimer(time.Until(slot))
	defer t.Stop()
	select {
	case <-t.C:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}

// ReserveRate takes the next free slot of key's bucket (perSecond refill,
// bursts of up to burst) and returns when it is: now when a token is
// there, else the moment the bucket's debt is paid. Each caller gets its
// own slot, 1/perSecond after the one before, in one transaction: no two
// takers, in this process or another, can be let through at once, and
// waiting callers lose no time to each other's wake-ups (a taker that
// polled the bucket would find the token gone to whoever woke first, and
// the bucket idle while it slept). When the slot would be after ctx's
// deadline nothing is reserved and the error wraps
// context.DeadlineExceeded.
//
// The bucket's tokens go below zero while slots are reserved ahead; a
// process that only takes tokens that are there (TakeRate, and WaitRate
// before slots were reserved) reads that as a longer wait, so processes
// of both kinds can share a bucket during an upgrade.
func (s *Jobs) ReserveRate(ctx context.Context, key string, perSecond float64, burst int) (time.Time, error) {
	if perSecond <= 0 || burst < 1 {
		return time.Time{}, fmt.Errorf("rate %s: perSecond and burst must be positive", key)
	}
	deadline, hasDeadline := ctx.Deadline()
	var slot time.Time
	err := s.inTx(ctx, func(tx dbTx) error {
		now := time.Now()
		nowMS := now.UnixMilli()
		if _, err := tx.exec(ctx, `INSERT INTO rate_buckets (key, tokens, at) VALUES (?, ?, ?) ON CONFLICT (key) DO NOTHING`, key, float64(burst), nowMS); err != nil {
			return err
		}
		var tokens float64
		var at int64
		if err := tx.queryRow(ctx, `SELECT tokens, at FROM rate_buckets WHERE key = ?`+tx.dialect.forUpdate(), key).Scan(&tokens, &at); err != nil {
			return err
		}
		// A clock that went back (another replica's, or ours) must not
		// take tokens away, nor give them.
		base := max(nowMS, at)
		tokens = min(float64(burst), tokens+float64(base-at)/1000*perSecond) - 1
		slot = now
		if tokens < 0 {
			slot = time.UnixMilli(base).Add(time.Duration(-tokens / perSecond * float64(time.Second)))
		}
		if hasDeadline && slot.After(deadline) {
			return fmt.Errorf("next slot in %s, after the deadline: %w", time.Until(slot).Round(time.Millisecond), context.DeadlineExceeded)
		}
		_, err := tx.exec(ctx, `UPDATE rate_buckets SET tokens = ?, at = ? WHERE key = ?`, tokens, base, key)
		return err
	})
	if err != nil {
		return time.Time{}, fmt.Errorf("rate %s: %w", key, err)
	}
	return slot, nil
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
