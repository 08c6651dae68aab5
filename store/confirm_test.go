package store_test

import (
	"context"
	"database/sql"
	"errors"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/waleave/waleave/leave"
	"github.com/waleave/waleave/store"
	"github.com/waleave/waleave/store/storetest"
)

// testCardTS is the ts of the cards confirmAll posts.
const testCardTS = "1700000000.000100"

// confirmAll confirms each ID from its own goroutine, all at once, and
// returns each caller's error. Each click comes from its request's card,
// which is posted first if need be (db is where; an ID not there is
// clicked on a card in C1).
func confirmAll(db *store.DB, c *store.Confirmer, ids []string, now time.Time) []error {
	cards := make([]store.Card, len(ids))
	for i, id := range ids {
		cards[i] = store.Card{ChannelID: "C1", TS: testCardTS, Version: 1}
		r, err := db.Requests().Request(context.Background(), id)
		if err != nil {
			continue
		}
		if r.CardTS == "" {
			if err := db.Outbox().CardPosted(context.Background(), id, testCardTS, r.CardVersion); err != nil {
				panic(err)
			}
		}
		cards[i] = store.Card{ChannelID: r.ChannelID, TS: testCardTS, Version: r.CardVersion}
	}
	errs := make([]error, len(ids))
	var wg sync.WaitGroup
	for i, id := range ids {
		wg.Add(1)
		go func() {
			defer wg.Done()
			_, errs[i] = c.Confirm(context.Background(), id, "U2", cards[i], now)
		}()
	}
	wg.Wait()
	return errs
}

func TestConfirmer_SharesTransactionsAndEnqueuesEachOnce(t *testing.T) {
	storetest.Each(t, func(t *testing.T, dsn string) {
		ctx := context.Background()
		db := mustOpen(t, dsn)
		var mu sync.Mutex
		enqueued := map[string]int{}
		calls := 0
		c := db.Requests().NewConfirmer(func(ctx context.Context, tx *sql.Tx, confirmed []store.Confirmation) error {
			mu.Lock()
			defer mu.Unlock()
			calls++
			for _, c := range confirmed {
				enqueued[c.RequestID]++
			}
			return nil
		})
		var ids []string
		for range 200 {
			ids = append(ids, newRequest(t, db).ID)
		}
		// Every request is clicked twice at once: one click confirms it,
		// the other is told it is already decided.
		clicks := append(append([]string{}, ids...), ids...)
		errs := confirmAll(db, c, clicks, t0.Add(time.Minute))
		conflicts := map[string]int{}
		for i, err := range errs {
			switch {
			case err == nil:
			case errors.Is(err, store.ErrConflict):
				conflicts[clicks[i]]++
			default:
				t.Fatalf("click %d: %v", i, err)
			}
		}
		for _, id := range ids {
			require.Equal(t, 1, enqueued[id], "request %s enqueued once", id)
			require.Equal(t, 1, conflicts[id], "request %s: the second click is refused", id)
			got, err := db.Requests().Request(ctx, id)
			require.NoError(t, err)
			require.Equal(t, leave.Confirmed, got.State)
			require.Equal(t, "U2", got.ConfirmedBy)
			require.Equal(t, 2, got.CardVersion)
			audit, err := db.Requests().Audit(ctx, id)
			require.NoError(t, err)
			require.Len(t, audit, 2)
			require.Equal(t, "confirmed", audit[1].Action)
		}
		require.Less(t, calls, len(ids), "concurrent clicks share transactions")
	})
}

func TestConfirmer_RefusalsDoNotFailOthers(t *testing.T) {
	storetest.Each(t, func(t *testing.T, dsn string) {
		ctx := context.Background()
		db := mustOpen(t, dsn)
		c := db.Requests().NewConfirmer(func(context.Context, *sql.Tx, []store.Confirmation) error { return nil })
		fresh := newRequest(t, db)
		late := &store.Request{ChannelID: "C1", RequesterID: "U1", GroupJID: "120363406289005073@g.us", CreatedAt: t0, ExpiresAt: t0.Add(time.Second)}
		require.NoError(t, db.Requests().CreateRequest(ctx, late, nil))
		errs := confirmAll(db, c, []string{fresh.ID, late.ID, "R000000000000000"}, t0.Add(time.Minute))
		require.NoError(t, errs[0])
		require.ErrorIs(t, errs[1], store.ErrExpired)
		require.ErrorIs(t, errs[2], store.ErrNotFound)
		got, err := db.Requests().Request(ctx, late.ID)
		require.NoError(t, err)
		require.Equal(t, leave.Pending, got.State, "an expired request is left for the sweep")
	})
}

func TestConfirmer_FailedEnqueueRollsBackOnlyItsRequest(t *testing.T) {
	storetest.Each(t, func(t *testing.T, dsn string) {
		ctx := context.Background()
		db := mustOpen(t, dsn)
		var bad string
		c := db.Requests().NewConfirmer(func(ctx context.Context, tx *sql.Tx, confirmed []store.Confirmation) error {
			for _, c := range confirmed {
				if c.RequestID == bad {
					return errors.New("queue is full")
				}
			}
			return nil
		})
		var ids []string
		for range 50 {
			ids = append(ids, newRequest(t, db).ID)
		}
		bad = ids[17]
		errs := confirmAll(db, c, ids, t0.Add(time.Minute))
		for i, id := range ids {
			got, err := db.Requests().Request(ctx, id)
			require.NoError(t, err)
			if id == bad {
				require.Error(t, errs[i])
				require.Equal(t, leave.Pending, got.State, "a click whose job failed is not confirmed")
				continue
			}
			require.NoError(t, errs[i])
			require.Equal(t, leave.Confirmed, got.State)
		}
	})
}

func TestConfirmer_ConfirmsAcrossReplicasOnce(t *testing.T) {
	storetest.Each(t, func(t *testing.T, dsn string) {
		a, b := replicas(t, dsn)
		var mu sync.Mutex
		enqueued := map[string]int{}
		enqueue := func(ctx context.Context, tx *sql.Tx, confirmed []store.Confirmation) error {
			mu.Lock()
			defer mu.Unlock()
			for _, c := range confirmed {
				enqueued[c.RequestID]++
			}
			return nil
		}
		ca, cb := a.Requests().NewConfirmer(enqueue), b.Requests().NewConfirmer(enqueue)
		var ids []string
		for range 100 {
			ids = append(ids, newRequest(t, a).ID)
		}
		// Both replicas confirm every request at once, in opposite orders:
		// overlapping batches must neither deadlock nor confirm twice.
		var rev []string
		for i := len(ids) - 1; i >= 0; i-- {
			rev = append(rev, ids[i])
		}
		var wg sync.WaitGroup
		var errsA, errsB []error
		wg.Add(2)
		go func() { defer wg.Done(); errsA = confirmAll(a, ca, ids, t0.Add(time.Minute)) }()
		go func() { defer wg.Done(); errsB = confirmAll(b, cb, rev, t0.Add(time.Minute)) }()
		wg.Wait()
		for _, err := range append(errsA, errsB...) {
			if err != nil {
				require.ErrorIs(t, err, store.ErrConflict)
			}
		}
		for _, id := range ids {
			require.Equal(t, 1, enqueued[id], "request %s enqueued once", id)
		}
	})
}

func TestWritesAfterClose_FailInsteadOfPanicking(t *testing.T) {
	ctx := context.Background()
	db, err := store.Open(ctx, "sqlite:"+t.TempDir()+"/w.db")
	require.NoError(t, err)
	c := db.Requests().NewConfirmer(func(context.Context, *sql.Tx, []store.Confirmation) error { return nil })
	r := newRequest(t, db)
	require.NoError(t, db.Close())

	_, err = c.Confirm(ctx, r.ID, "U2", store.Card{ChannelID: "C1", TS: testCardTS, Version: 1}, t0.Add(time.Minute))
	require.ErrorIs(t, err, store.ErrClosed)
	err = db.Requests().CreateRequest(ctx, &store.Request{ChannelID: "C1", RequesterID: "U1", GroupJID: "1@g.us", CreatedAt: t0, ExpiresAt: t0.Add(time.Hour)}, nil)
	require.ErrorIs(t, err, store.ErrClosed)
}

func TestConfirmer_HandsTheJobItsRunTime(t *testing.T) {
	storetest.Each(t, func(t *testing.T, dsn string) {
		db := mustOpen(t, dsn)
		runAt := t0.Add(3 * time.Hour)
		scheduled := &store.Request{ChannelID: "C1", RequesterID: "U1", GroupJID: "1@g.us", CreatedAt: t0, ExpiresAt: t0.Add(24 * time.Hour), RunAt: runAt}
		require.NoError(t, db.Requests().CreateRequest(context.Background(), scheduled, nil))
		now := newRequest(t, db)
		got := map[string]time.Time{}
		c := db.Requests().NewConfirmer(func(_ context.Context, _ *sql.Tx, confirmed []store.Confirmation) error {
			for _, c := range confirmed {
				got[c.RequestID] = c.RunAt
			}
			return nil
		})
		for _, err := range confirmAll(db, c, []string{scheduled.ID, now.ID}, t0.Add(time.Minute)) {
			require.NoError(t, err)
		}
		require.True(t, runAt.Equal(got[scheduled.ID]), "scheduled: %v", got[scheduled.ID])
		require.Contains(t, got, now.ID)
		require.True(t, got[now.ID].IsZero(), "unscheduled: %v", got[now.ID])
	})
}

// A request expires at its ExpiresAt, as the sweep sees it: a click at
// that instant is refused, one a millisecond (the stored precision)
// before it is taken, by both ways of confirming.
func TestConfirm_ExpiryBoundary(t *testing.T) {
	storetest.Each(t, func(t *testing.T, dsn string) {
		ctx := context.Background()
		db := mustOpen(t, dsn)
		c := db.Requests().NewConfirmer(func(context.Context, *sql.Tx, []store.Confirmation) error { return nil })
		confirmers := map[string]func(id string, now time.Time) error{
			"Confirm": func(id string, now time.Time) error {
				_, err := confirm(ctx, db, id, "U2", now, nil)
				return err
			},
			"Confirmer": func(id string, now time.Time) error { return confirmAll(db, c, []string{id}, now)[0] },
		}
		for name, confirm := range confirmers {
			at, before := newRequest(t, db), newRequest(t, db)
			require.ErrorIs(t, confirm(at.ID, at.ExpiresAt), store.ErrExpired, "%s at the expiry", name)
			require.NoError(t, confirm(before.ID, before.ExpiresAt.Add(-time.Millisecond)), "%s just before it", name)
		}
	})
}
