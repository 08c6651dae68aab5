package bot

import (
	"context"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/waleave/waleave/store"
)

// TestPrune_KeepsTheWindow: the retention job deletes a request that was
// cancelled more than Retention ago and keeps one still pending from
// then; with Retention zero (WALEAVE_RETENTION=0) it deletes nothing.
func TestPrune_KeepsTheWindow(t *testing.T) {
	for _, keep := range []time.Duration{0, 30 * 24 * time.Hour} {
		tb := newTestBot(t, Options{Retention: keep})
		ctx := context.Background()
		cancelled := tb.pending(t, nil)
		_, err := tb.db.Requests().Cancel(ctx, cancelled.ID, "U0REQ1", tb.clock.Now())
		require.NoError(t, err)
		pending := tb.pending(t, func(r *store.Request) { r.ExpiresAt = r.CreatedAt.Add(365 * 24 * time.Hour) })
		tb.clock.Add(31 * 24 * time.Hour)

		require.NoError(t, tb.Prune(ctx))
		_, err = tb.db.Requests().Request(ctx, cancelled.ID)
		if keep == 0 {
			require.NoError(t, err, "WALEAVE_RETENTION=0 keeps everything")
		} else {
			require.ErrorIs(t, err, store.ErrNotFound)
		}
		_, err = tb.db.Requests().Request(ctx, pending.ID)
		require.NoError(t, err)
	}
}

// TestPeriodicJobs_RetentionOnlyWhenSet: the job is scheduled (on River's
// leader: once across replicas) only when a retention is set.
func TestPeriodicJobs_RetentionOnlyWhenSet(t *testing.T) {
	off := newTestBot(t, Options{})
	on := newTestBot(t, Options{Retention: time.Hour})
	require.Len(t, on.periodicJobs(), len(off.periodicJobs())+1)
}
