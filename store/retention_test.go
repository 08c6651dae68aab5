package store_test

import (
	"context"
	"os"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/waleave/waleave/leave"
	"github.com/waleave/waleave/store"
	"github.com/waleave/waleave/store/storetest"
)

// requestAt creates a pending request at created, expiring a day later.
func requestAt(tb testing.TB, db *store.DB, created time.Time, runAt time.Time) *store.Request {
	tb.Helper()
	r := &store.Request{ChannelID: "C1", RequesterID: "U1", GroupJID: "120363406289005073@g.us", Goodbye: "bye",
		CreatedAt: created, ExpiresAt: created.Add(24 * time.Hour), RunAt: runAt}
	require.NoError(tb, db.Requests().CreateRequest(context.Background(), r, nil))
	return r
}

// ended makes a request in each ended state (done, failed, cancelled,
// expired), all ended at end.
func ended(tb testing.TB, db *store.DB, end time.Time) []string {
	tb.Helper()
	ctx := context.Background()
	created := end.Add(-25 * time.Hour)
	var ids []string
	for _, code := range []leave.Outcome{leave.OutcomeLeft, leave.OutcomeQuota} { // done, failed
		r := requestAt(tb, db, created, time.Time{})
		_, err := confirm(ctx, db, r.ID, "U2", created, nil)
		require.NoError(tb, err)
		_, err = db.Requests().ClaimRun(ctx, r.ID, created, time.Minute)
		require.NoError(tb, err)
		_, err = db.Requests().Finish(ctx, r.ID, store.Outcome{Code: code}, end)
		require.NoError(tb, err)
		ids = append(ids, r.ID)
	}
	r := requestAt(tb, db, created, time.Time{})
	_, err := db.Requests().Cancel(ctx, r.ID, "U1", end)
	require.NoError(tb, err)
	ids = append(ids, r.ID)
	r = requestAt(tb, db, end.Add(-24*time.Hour), time.Time{})
	_, err = db.Requests().Expire(ctx, r.ID, end)
	require.NoError(tb, err)
	return append(ids, r.ID)
}

// TestPrune_DeletesExactlyTheEndedBeforeTheWindow: requests that ended
// before the cut-off go with their audit rows, in several batches, while
// new requests are being made; requests that ended after it, and old
// requests still pending, scheduled or running, stay with their audit.
func TestPrune_DeletesExactlyTheEndedBeforeTheWindow(t *testing.T) {
	storetest.Each(t, func(t *testing.T, dsn string) {
		ctx := context.Background()
		db := mustOpen(t, dsn)
		old := t0.Add(-400 * 24 * time.Hour)
		cut := t0.Add(-365 * 24 * time.Hour)

		var gone []string
		for range 130 { // 520 requests: more than one batch
			gone = append(gone, ended(t, db, old)...)
		}
		kept := ended(t, db, cut.Add(time.Minute))
		pending := requestAt(t, db, old, time.Time{})
		scheduled := requestAt(t, db, old, old.Add(2*24*time.Hour))
		_, err := confirm(ctx, db, scheduled.ID, "U2", old, nil)
		require.NoError(t, err)
		running := requestAt(t, db, old, time.Time{})
		_, err = confirm(ctx, db, running.ID, "U2", old, nil)
		require.NoError(t, err)
		_, err = db.Requests().ClaimRun(ctx, running.ID, old, time.Minute)
		require.NoError(t, err)
		kept = append(kept, pending.ID, scheduled.ID, running.ID)

		audits := map[string]int{}
		for _, id := range kept {
			n, err := db.Requests().AuditRows(ctx, id)
			require.NoError(t, err)
			if want, ok := audits[id]; ok {
				require.Equal(t, want, n, "audit rows of a kept request")
			}
			audits[id] = n
		}

		// Requests made while the pruning runs are all kept.
		var wg sync.WaitGroup
		made := make(chan string, 200)
		for range 4 {
			wg.Add(1)
			go func() {
				defer wg.Done()
				for range 50 {
					made <- requestAt(t, db, t0, time.Time{}).ID
				}
			}()
		}
		n, err := db.Requests().Prune(ctx, cut, t0)
		require.NoError(t, err)
		wg.Wait()
		close(made)
		for id := range made {
			kept = append(kept, id)
		}
		require.Equal(t, len(gone), n)

		for _, id := range gone {
			_, err := db.Requests().Request(ctx, id)
			require.ErrorIs(t, err, store.ErrNotFound)
			n, err := db.Requests().AuditRows(ctx, id)
			require.NoError(t, err)
			require.Zero(t, n, "audit rows of a pruned request")
		}
		for i, id := range kept {
			_, err := db.Requests().Request(ctx, id)
			require.NoError(t, err, "kept request %d of %d", i, len(kept))
			n, err := db.Requests().AuditRows(ctx, id)
			require.NoError(t, err)
			if want, ok := audits[id]; ok {
				require.Equal(t, want, n, "audit rows of a kept request")
			}
		}
		n, err = db.Requests().Prune(ctx, cut, t0)
		require.NoError(t, err)
		require.Zero(t, n, "a second run finds nothing")
	})
}

// TestPrune_SQLiteFileStopsGrowing: under a steady load (each round
// makes and ends as many requests as the window lets go), the SQLite
// file of a new database settles at one size instead of growing round
// after round: the pruned requests' pages are given back (incremental
// vacuum) or reused.
func TestPrune_SQLiteFileStopsGrowing(t *testing.T) {
	dsn := storetest.SQLite(t)
	path := strings.TrimPrefix(dsn, "sqlite:")
	ctx := context.Background()
	db := mustOpen(t, dsn)
	const perRound = 400
	day := 24 * time.Hour
	size := func() int64 {
		// Whatever the last checkpoint left aside, count both files.
		var total int64
		for _, p := range []string{path, path + "-wal"} {
			if fi, err := os.Stat(p); err == nil {
				total += fi.Size()
			}
		}
		return total
	}
	var sizes []int64
	for round := range 12 {
		end := t0.Add(time.Duration(round) * day)
		for range perRound / 4 {
			ended(t, db, end)
		}
		// A window of two rounds: from round 2 on, each round prunes
		// what round-2 made.
		_, err := db.Requests().Prune(ctx, end.Add(-2*day+time.Minute), end)
		require.NoError(t, err)
		require.NoError(t, db.Checkpoint(ctx))
		sizes = append(sizes, size())
	}
	t.Logf("sizes by round: %v", sizes)
	// Steady state from round 3: no round ends larger than the largest
	// before it by more than a page-rounding margin (5%).
	steady := sizes[3]
	for _, s := range sizes[4:] {
		require.LessOrEqual(t, s, steady+steady/20, "sizes by round: %v", sizes)
	}
}

// TestOpen_NewSQLiteDatabaseVacuumsIncrementally: a new database can
// give pages back without a VACUUM.
func TestOpen_NewSQLiteDatabaseVacuumsIncrementally(t *testing.T) {
	db := mustOpen(t, storetest.SQLite(t))
	mode, err := db.AutoVacuum(context.Background())
	require.NoError(t, err)
	require.Equal(t, 2, mode, "auto_vacuum=INCREMENTAL")
}
