package store_test

import (
	"context"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/waleave/waleave/store"
	"github.com/waleave/waleave/store/storetest"
)

// TestWaitRate_SharedAcrossProcesses takes tokens from one bucket through
// two store handles (two replicas) at once: together they get no more
// than the rate allows. The assertion is a lower bound on the time taken,
// which a slow machine only makes easier to meet.
func TestWaitRate_SharedAcrossProcesses(t *testing.T) {
	storetest.Each(t, func(t *testing.T, dsn string) {
		a, b := replicas(t, dsn)
		const perSecond, burst, calls = 40.0, 2, 22
		start := time.Now()
		var wg sync.WaitGroup
		errs := make(chan error, calls)
		for i := range calls {
			wg.Add(1)
			go func() {
				defer wg.Done()
				errs <- []*store.DB{a, b}[i%2].Jobs().WaitRate(context.Background(), "greenapi/leaveGroup", perSecond, burst)
			}()
		}
		wg.Wait()
		close(errs)
		for err := range errs {
			require.NoError(t, err)
		}
		// The burst goes at once; the other 20 need a token each, one
		// every 25 ms: at least 500 ms in all.
		require.GreaterOrEqual(t, time.Since(start), time.Duration(float64(calls-burst)/perSecond*float64(time.Second))-20*time.Millisecond)
	})
}

func TestWaitRate_KeysAreIndependentAndWaitsEndWithContext(t *testing.T) {
	storetest.Each(t, func(t *testing.T, dsn string) {
		db := mustOpen(t, dsn)
		ctx := context.Background()
		require.NoError(t, db.Jobs().WaitRate(ctx, "a", 0.1, 1))
		// "a" is now empty for ten seconds; "b" is not.
		require.NoError(t, db.Jobs().WaitRate(ctx, "b", 0.1, 1))
		short, cancel := context.WithTimeout(ctx, 5*time.Second)
		defer cancel()
		start := time.Now()
		require.ErrorIs(t, db.Jobs().WaitRate(short, "a", 0.1, 1), context.DeadlineExceeded)
		require.Less(t, time.Since(start), 4*time.Second, "a token due after the deadline is not waited for")
		require.Error(t, db.Jobs().WaitRate(ctx, "c", 0, 1), "a zero rate is refused")
	})
}
