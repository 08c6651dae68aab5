package store_test

import (
	"context"
	"database/sql"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/waleave/waleave/store"
	"github.com/waleave/waleave/store/storetest"
)

// Every committed change that leaves a card or reply owed to Slack tells
// OnOwed's functions (the poster's wake-up), and nothing else does: the
// bot no longer wakes the poster at each call site.
func TestOnOwed_EveryChangeThatOwesSlackTells(t *testing.T) {
	storetest.Each(t, func(t *testing.T, dsn string) {
		ctx := context.Background()
		db := mustOpen(t, dsn)
		var told atomic.Int32
		db.Outbox().OnOwed(func() { told.Add(1) })
		expect := func(n int32, what string) {
			t.Helper()
			require.Equal(t, n, told.Swap(0), what)
		}

		r := newRequest(t, db)
		expect(1, "a new request: its card")
		ok, err := db.Requests().SetDetails(ctx, r.ID, store.Details{State: store.DetailsOK, Size: 3}, t0)
		require.NoError(t, err)
		require.True(t, ok)
		expect(1, "group details: the card shows them")
		ok, err = db.Requests().SetDetails(ctx, r.ID, store.Details{State: store.DetailsOK, Size: 4}, t0)
		require.NoError(t, err)
		require.False(t, ok)
		expect(0, "details not stored: nothing new")

		c := db.Requests().NewConfirmer(func(context.Context, *sql.Tx, []store.Confirmation) error { return nil })
		cur, err := db.Requests().Request(ctx, r.ID)
		require.NoError(t, err)
		card := store.Card{ChannelID: cur.ChannelID, TS: testCardTS, Version: cur.CardVersion}
		_, err = c.Confirm(ctx, r.ID, "U2", card, t0.Add(time.Minute))
		require.NoError(t, err)
		expect(1, "a confirmation (the path production takes)")
		_, err = c.Confirm(ctx, r.ID, "U2", card, t0.Add(time.Minute))
		require.ErrorIs(t, err, store.ErrConflict)
		expect(0, "a refused confirmation")

		_, err = db.Requests().ClaimRun(ctx, r.ID, t0.Add(2*time.Minute), time.Minute)
		require.NoError(t, err)
		expect(1, "running")
		require.NoError(t, db.Requests().Progress(ctx, r.ID, 1, "retrying", "", 503, t0.Add(2*time.Minute)))
		expect(1, "progress on the card")
		_, err = db.Requests().Finish(ctx, r.ID, store.Outcome{Code: "left"}, t0.Add(3*time.Minute))
		require.NoError(t, err)
		expect(1, "the outcome: card and reply")
		_, err = db.Requests().Cancel(ctx, r.ID, "U3", t0.Add(4*time.Minute))
		require.ErrorIs(t, err, store.ErrConflict)
		expect(0, "a refused change")

		other := newRequest(t, db)
		expect(1, "another request")
		_, err = db.Requests().Cancel(ctx, other.ID, "U3", t0.Add(time.Minute))
		require.NoError(t, err)
		expect(1, "a cancellation")
	})
}
