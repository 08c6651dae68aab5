package store_test

import (
	"context"
	"database/sql"
	"errors"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/waleave/waleave/store"
	"github.com/waleave/waleave/store/storetest"
)

// TestFirstDelivery_ReplicasAgreeWithinTheWindow: a delivery handled by
// one replica is a repeat for the other until its window ends, then new
// again; pruning forgets only ended windows.
func TestFirstDelivery_ReplicasAgreeWithinTheWindow(t *testing.T) {
	storetest.Each(t, func(t *testing.T, dsn string) {
		ctx := context.Background()
		a, b := replicas(t, dsn)
		until := t0.Add(10 * time.Minute)
		first, err := a.Requests().FirstDelivery(ctx, "sig:abc", t0, until)
		require.NoError(t, err)
		require.True(t, first)
		again, err := b.Requests().FirstDelivery(ctx, "sig:abc", t0.Add(time.Minute), t0.Add(11*time.Minute))
		require.NoError(t, err)
		require.False(t, again, "a replay inside the window is a repeat, on any replica")
		other, err := b.Requests().FirstDelivery(ctx, "sig:def", t0, until)
		require.NoError(t, err)
		require.True(t, other)

		require.NoError(t, a.Requests().PruneDeliveries(ctx, t0.Add(5*time.Minute)))
		again, err = a.Requests().FirstDelivery(ctx, "sig:abc", t0.Add(5*time.Minute), until)
		require.NoError(t, err)
		require.False(t, again, "pruning keeps open windows")
		late, err := a.Requests().FirstDelivery(ctx, "sig:abc", until, until.Add(10*time.Minute))
		require.NoError(t, err)
		require.True(t, late, "after the window (even unpruned) it is new")
	})
}

// TestFirstDelivery_ConcurrentRepeatsOnce: the same delivery arriving many
// times at once (sharing commits) is first exactly once.
func TestFirstDelivery_ConcurrentRepeatsOnce(t *testing.T) {
	storetest.Each(t, func(t *testing.T, dsn string) {
		a, b := replicas(t, dsn)
		var firsts atomic.Int32
		var wg sync.WaitGroup
		for i := range 64 {
			wg.Go(func() {
				first, err := []*store.DB{a, b}[i%2].Requests().FirstDelivery(context.Background(), "env:same", t0, t0.Add(time.Minute))
				require.NoError(t, err)
				if first {
					firsts.Add(1)
				}
			})
		}
		wg.Wait()
		require.Equal(t, int32(1), firsts.Load())
	})
}

func TestTakeRate_RefusesWithoutWaitingAndRefills(t *testing.T) {
	storetest.Each(t, func(t *testing.T, dsn string) {
		ctx := context.Background()
		a, b := replicas(t, dsn)
		// Two a minute, shared by both replicas.
		take := func(db *store.DB, at time.Time) bool {
			ok, err := db.Requests().TakeRate(ctx, "requests/U1", 2.0/60, 2, at)
			require.NoError(t, err)
			return ok
		}
		require.True(t, take(a, t0))
		require.True(t, take(b, t0.Add(time.Second)))
		require.False(t, take(a, t0.Add(2*time.Second)), "the third in a minute")
		require.False(t, take(b, t0.Add(3*time.Second)))
		require.True(t, take(b, t0.Add(35*time.Second)), "a token is back after 30 s")
		ok, err := a.Requests().TakeRate(ctx, "requests/U2", 2.0/60, 2, t0)
		require.NoError(t, err)
		require.True(t, ok, "buckets are per key")
	})
}

func TestPendingCounts_PerPersonAndChannel(t *testing.T) {
	storetest.Each(t, func(t *testing.T, dsn string) {
		ctx := context.Background()
		db := mustOpen(t, dsn)
		add := func(user, channel string, expires time.Time) *store.Request {
			r := &store.Request{ChannelID: channel, RequesterID: user, GroupJID: "1@g.us", CreatedAt: t0, ExpiresAt: expires}
			require.NoError(t, db.Requests().CreateRequest(ctx, r, nil))
			return r
		}
		day := t0.Add(24 * time.Hour)
		add("U1", "C1", day)
		add("U1", "C2", day)
		add("U2", "C1", day)
		add("U1", "C1", t0.Add(time.Second)) // expired by now
		cancelled := add("U1", "C1", day)
		_, err := db.Requests().Cancel(ctx, cancelled.ID, "U1", t0)
		require.NoError(t, err)
		byUser, byChannel, err := db.Requests().PendingCounts(ctx, "U1", "C1", t0.Add(time.Minute))
		require.NoError(t, err)
		require.Equal(t, 2, byUser)
		require.Equal(t, 2, byChannel)
		byUser, byChannel, err = db.Requests().PendingCounts(ctx, "U9", "C9", t0.Add(time.Minute))
		require.NoError(t, err)
		require.Zero(t, byUser)
		require.Zero(t, byChannel)
	})
}

// TestConfirmer_OnlyFromTheCardAsShown: a click confirms only from the
// request's own card (channel and message) and only at the version that
// card showed; a refusal from elsewhere says nothing about the request.
func TestConfirmer_OnlyFromTheCardAsShown(t *testing.T) {
	storetest.Each(t, func(t *testing.T, dsn string) {
		ctx := context.Background()
		db := mustOpen(t, dsn)
		c := db.Requests().NewConfirmer(func(context.Context, *sql.Tx, []store.Confirmation) error { return nil })
		r := &store.Request{ChannelID: "C1", RequesterID: "U1", GroupJID: "1@g.us", CreatedAt: t0, ExpiresAt: t0.Add(time.Hour)}
		require.NoError(t, db.Requests().CreateRequest(ctx, r, nil))
		now := t0.Add(time.Minute)
		_, err := c.Confirm(ctx, r.ID, "U2", store.Card{ChannelID: "C1", TS: "", Version: 1}, now)
		require.ErrorIs(t, err, store.ErrWrongCard, "not from a message")
		require.NoError(t, db.Outbox().CardPosted(ctx, r.ID, "111.222", 1))

		got, err := c.Confirm(ctx, r.ID, "U2", store.Card{ChannelID: "C9", TS: "111.222", Version: 1}, now)
		require.ErrorIs(t, err, store.ErrWrongCard, "another channel")
		require.Nil(t, got)
		_, err = c.Confirm(ctx, r.ID, "U2", store.Card{ChannelID: "C1", TS: "999.000", Version: 1}, now)
		require.ErrorIs(t, err, store.ErrWrongCard, "another message")

		_, err = db.Requests().SetDetails(ctx, r.ID, store.Details{State: store.DetailsOK, Size: 3}, now)
		require.NoError(t, err)
		_, err = c.Confirm(ctx, r.ID, "U2", store.Card{ChannelID: "C1", TS: "111.222", Version: 1}, now)
		require.ErrorIs(t, err, store.ErrStale, "the card was drawn before the details")
		_, err = c.Confirm(ctx, r.ID, "U2", store.Card{ChannelID: "C1", TS: "111.222", Version: 2}, now)
		require.NoError(t, err)

		// A click that beats the outbox's record of the card's ts.
		early := &store.Request{ChannelID: "C1", RequesterID: "U1", GroupJID: "1@g.us", CreatedAt: t0, ExpiresAt: t0.Add(time.Hour)}
		require.NoError(t, db.Requests().CreateRequest(ctx, early, nil))
		_, err = c.Confirm(ctx, early.ID, "U2", store.Card{ChannelID: "C9", TS: "333.444", Version: 1}, now)
		require.ErrorIs(t, err, store.ErrWrongCard)
		_, err = c.Confirm(ctx, early.ID, "U2", store.Card{ChannelID: "C1", TS: "333.444", Version: 1}, now)
		require.NoError(t, err)
	})
}

// TestCreateRequest_DeliveryRecordedWithTheRequest: requests naming one
// delivery, created at once (sharing a commit) or later within the
// window, make one request; the others are ErrRepeated.
func TestCreateRequest_DeliveryRecordedWithTheRequest(t *testing.T) {
	storetest.Each(t, func(t *testing.T, dsn string) {
		ctx := context.Background()
		a, b := replicas(t, dsn)
		var made, repeated atomic.Int32
		var wg sync.WaitGroup
		for i := range 16 {
			wg.Go(func() {
				r := &store.Request{ChannelID: "C1", RequesterID: "U1", GroupJID: "1@g.us", CreatedAt: t0, ExpiresAt: t0.Add(time.Hour),
					Delivery: "sig:one", DeliveryUntil: t0.Add(10 * time.Minute)}
				switch err := []*store.DB{a, b}[i%2].Requests().CreateRequest(ctx, r, nil); {
				case err == nil:
					made.Add(1)
				case errors.Is(err, store.ErrRepeated):
					repeated.Add(1)
				default:
					t.Error(err)
				}
			})
		}
		wg.Wait()
		require.Equal(t, int32(1), made.Load())
		require.Equal(t, int32(15), repeated.Load())
		reqs, err := a.Requests().ListRequests(ctx, store.Filter{})
		require.NoError(t, err)
		require.Len(t, reqs, 1)
		first, err := b.Requests().FirstDelivery(ctx, "sig:one", t0.Add(time.Minute), t0.Add(11*time.Minute))
		require.NoError(t, err)
		require.False(t, first, "the delivery is recorded for FirstDelivery too")
		// With an enqueue (its own transaction) too.
		r := &store.Request{ChannelID: "C1", RequesterID: "U1", GroupJID: "1@g.us", CreatedAt: t0, ExpiresAt: t0.Add(time.Hour),
			Delivery: "sig:one", DeliveryUntil: t0.Add(10 * time.Minute)}
		require.ErrorIs(t, a.Requests().CreateRequest(ctx, r, func(context.Context, *sql.Tx) error { return nil }), store.ErrRepeated)
	})
}
