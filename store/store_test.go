package store_test

import (
	"context"
	"database/sql"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/waleave/waleave/leave"
	"github.com/waleave/waleave/store"
	"github.com/waleave/waleave/store/storetest"
)

// mustOpen opens the store at dsn and closes it when tb ends.
func mustOpen(tb testing.TB, dsn string) *store.DB {
	tb.Helper()
	db, err := store.Open(context.Background(), dsn)
	require.NoError(tb, err)
	tb.Cleanup(func() { db.Close() })
	return db
}

// replicas opens the store at dsn twice, as two replicas do, on
// PostgreSQL. A SQLite database has one process (see Open): there the
// "replicas" are two handles on one store, whose goroutines still race.
func replicas(tb testing.TB, dsn string) (a, b *store.DB) {
	tb.Helper()
	a = mustOpen(tb, dsn)
	if strings.HasPrefix(dsn, "sqlite:") {
		return a, a
	}
	return a, mustOpen(tb, dsn)
}

var t0 = time.Date(2026, 11, 23, 9, 0, 0, 0, time.UTC)

func newRequest(tb testing.TB, db *store.DB) *store.Request {
	tb.Helper()
	r := &store.Request{ChannelID: "C1", RequesterID: "U1", GroupJID: "120363406289005073@g.us", Goodbye: "bye", CreatedAt: t0, ExpiresAt: t0.Add(24 * time.Hour)}
	require.NoError(tb, db.Requests().CreateRequest(context.Background(), r, nil))
	return r
}

func TestOpen_RejectsUnknownScheme(t *testing.T) {
	_, err := store.Open(context.Background(), "mysql://x")
	require.Error(t, err)
}

func TestOpen_MigratesOnceAndReopens(t *testing.T) {
	storetest.Each(t, func(t *testing.T, dsn string) {
		db, err := store.Open(context.Background(), dsn)
		require.NoError(t, err)
		r := newRequest(t, db)
		require.NoError(t, db.Close())
		db, err = store.Open(context.Background(), dsn)
		require.NoError(t, err)
		defer db.Close()
		got, err := db.Requests().Request(context.Background(), r.ID)
		require.NoError(t, err)
		require.Equal(t, leave.Pending, got.State)
		require.NoError(t, db.Ping(context.Background()))
	})
}

func TestCreateRequest_RoundTripsAndAudits(t *testing.T) {
	storetest.Each(t, func(t *testing.T, dsn string) {
		ctx := context.Background()
		db := mustOpen(t, dsn)
		r := newRequest(t, db)
		got, err := db.Requests().Request(ctx, r.ID)
		require.NoError(t, err)
		require.Equal(t, "C1", got.ChannelID)
		require.Equal(t, "bye", got.Goodbye)
		require.True(t, got.ExpiresAt.Equal(t0.Add(24*time.Hour)))
		require.Equal(t, 1, got.CardVersion)
		require.Equal(t, 0, got.CardPostedVersion)
		audit, err := db.Requests().Audit(ctx, r.ID)
		require.NoError(t, err)
		require.Len(t, audit, 1)
		require.Equal(t, "requested", audit[0].Action)
		require.Equal(t, "U1", audit[0].Actor)

		_, err = db.Requests().Request(ctx, "nope")
		require.ErrorIs(t, err, store.ErrNotFound)
	})
}

func TestCreateRequest_EnqueueFailureRollsBack(t *testing.T) {
	storetest.Each(t, func(t *testing.T, dsn string) {
		ctx := context.Background()
		db := mustOpen(t, dsn)
		r := &store.Request{ChannelID: "C1", RequesterID: "U1", GroupJID: "1@g.us", CreatedAt: t0, ExpiresAt: t0.Add(time.Hour)}
		boom := errors.New("boom")
		err := db.Requests().CreateRequest(ctx, r, func(context.Context, *sql.Tx) error { return boom })
		require.ErrorIs(t, err, boom)
		_, err = db.Requests().Request(ctx, r.ID)
		require.ErrorIs(t, err, store.ErrNotFound)
	})
}

func TestConfirm_OnceUnderConcurrency(t *testing.T) {
	storetest.Each(t, func(t *testing.T, dsn string) {
		ctx := context.Background()
		db := mustOpen(t, dsn)
		r := newRequest(t, db)
		var ok, conflict, enqueued atomic.Int32
		var wg sync.WaitGroup
		for i := 0; i < 20; i++ {
			wg.Add(1)
			go func() {
				defer wg.Done()
				_, err := confirm(ctx, db, r.ID, "U2", t0.Add(time.Minute), func(context.Context, *sql.Tx) error {
					enqueued.Add(1)
					return nil
				})
				switch {
				case err == nil:
					ok.Add(1)
				case errors.Is(err, store.ErrConflict):
					conflict.Add(1)
				default:
					t.Errorf("confirm: %v", err)
				}
			}()
		}
		wg.Wait()
		require.EqualValues(t, 1, ok.Load())
		require.EqualValues(t, 19, conflict.Load())
		require.EqualValues(t, 1, enqueued.Load())
		got, err := db.Requests().Request(ctx, r.ID)
		require.NoError(t, err)
		require.Equal(t, leave.Confirmed, got.State)
		require.Equal(t, "U2", got.ConfirmedBy)
		require.Equal(t, 2, got.CardVersion, "the confirmation bumps the card once")
	})
}

func TestConfirm_RefusesExpired(t *testing.T) {
	storetest.Each(t, func(t *testing.T, dsn string) {
		ctx := context.Background()
		db := mustOpen(t, dsn)
		r := newRequest(t, db)
		_, err := confirm(ctx, db, r.ID, "U2", t0.Add(25*time.Hour), nil)
		require.ErrorIs(t, err, store.ErrExpired)
		got, _ := db.Requests().Request(ctx, r.ID)
		require.Equal(t, leave.Pending, got.State)
	})
}

func TestLifecycle_ConfirmStartFinish(t *testing.T) {
	storetest.Each(t, func(t *testing.T, dsn string) {
		ctx := context.Background()
		db := mustOpen(t, dsn)
		r := newRequest(t, db)
		_, err := confirm(ctx, db, r.ID, "U2", t0, nil)
		require.NoError(t, err)
		got, err := db.Requests().ClaimRun(ctx, r.ID, t0, time.Minute)
		require.NoError(t, err)
		require.Equal(t, leave.Running, got.State)
		claim := got.RunUntil
		require.False(t, claim.IsZero())
		require.NoError(t, db.Requests().ClaimGoodbye(ctx, r.ID, t0))
		require.NoError(t, db.Requests().Progress(ctx, r.ID, 1, "retrying", "429", 429, t0))

		// The run's claim keeps a second run out until it ends.
		_, err = db.Requests().ClaimRun(ctx, r.ID, t0, time.Minute)
		var busy *store.BusyError
		require.ErrorAs(t, err, &busy)
		require.ErrorIs(t, err, store.ErrBusy)
		require.Greater(t, busy.Left, 50*time.Second, "says how long the claim has left")
		if !db.SingleProcess() {
			// Replicas' clocks do not decide: one an hour ahead still waits.
			_, err = db.Requests().ClaimRun(ctx, r.ID, t0.Add(time.Hour), time.Minute)
			require.ErrorIs(t, err, store.ErrBusy)
		}
		require.NoError(t, db.Requests().EndRun(ctx, r.ID, claim.Add(time.Second)), "another run's claim is not ended")
		_, err = db.Requests().ClaimRun(ctx, r.ID, t0, time.Minute)
		require.ErrorIs(t, err, store.ErrBusy)
		require.NoError(t, db.Requests().EndRun(ctx, r.ID, claim))
		got, err = db.Requests().ClaimRun(ctx, r.ID, t0, time.Minute)
		require.NoError(t, err, "an ended run's claim does not hold")
		require.Equal(t, 1, got.Attempts, "a run records no try; a failure does")
		require.NoError(t, db.Requests().EndRun(ctx, r.ID, got.RunUntil))
		require.ErrorIs(t, db.Requests().ClaimGoodbye(ctx, r.ID, t0), store.ErrConflict, "claimed once")
		require.NoError(t, db.Requests().SetGoodbyeState(ctx, r.ID, store.GoodbyeSent, "M1", "", 200, t0))
		got, _ = db.Requests().Request(ctx, r.ID)
		require.Zero(t, got.Attempts, "the goodbye is done: the leave starts with no failed tries")
		got, err = db.Requests().Finish(ctx, r.ID, store.Outcome{Code: "left", WasAdmin: true, Status: 200}, t0)
		require.NoError(t, err)
		require.Equal(t, leave.Done, got.State)
		require.True(t, got.WasAdmin)
		require.True(t, got.ReplyNeeded)
		require.Equal(t, store.GoodbyeSent, got.GoodbyeState)
		_, err = db.Requests().Cancel(ctx, r.ID, "U1", t0)
		require.ErrorIs(t, err, store.ErrConflict)

		audit, err := db.Requests().Audit(ctx, r.ID)
		require.NoError(t, err)
		var actions []string
		for _, e := range audit {
			actions = append(actions, e.Action)
		}
		require.Equal(t, []string{"requested", "confirmed", "attempt", "goodbye sending", "retry", "attempt", "goodbye sent", "done"}, actions)
	})
}

func TestCancelAndExpire(t *testing.T) {
	storetest.Each(t, func(t *testing.T, dsn string) {
		ctx := context.Background()
		db := mustOpen(t, dsn)
		r := newRequest(t, db)
		_, err := db.Requests().Expire(ctx, r.ID, t0.Add(time.Hour))
		require.ErrorIs(t, err, store.ErrConflict, "not yet past its TTL")
		got, err := db.Requests().Expire(ctx, r.ID, t0.Add(24*time.Hour))
		require.NoError(t, err)
		require.Equal(t, leave.Expired, got.State)

		r2 := newRequest(t, db)
		got, err = db.Requests().Cancel(ctx, r2.ID, "U1", t0)
		require.NoError(t, err)
		require.Equal(t, leave.Cancelled, got.State)
		_, err = confirm(ctx, db, r2.ID, "U2", t0, nil)
		require.ErrorIs(t, err, store.ErrConflict)
	})
}

func TestMarkReminded_Once(t *testing.T) {
	storetest.Each(t, func(t *testing.T, dsn string) {
		ctx := context.Background()
		db := mustOpen(t, dsn)
		r := newRequest(t, db)
		first, err := db.Requests().MarkReminded(ctx, r.ID, t0)
		require.NoError(t, err)
		second, err := db.Requests().MarkReminded(ctx, r.ID, t0)
		require.NoError(t, err)
		require.True(t, first)
		require.False(t, second)
	})
}

func TestOutbox_OwedLeaseAndPost(t *testing.T) {
	storetest.Each(t, func(t *testing.T, dsn string) {
		ctx := context.Background()
		db := mustOpen(t, dsn)
		r := newRequest(t, db)
		got, err := db.Outbox().Owed(ctx, t0, 10)
		require.NoError(t, err)
		require.Len(t, got, 1)
		ok, err := db.Outbox().Lease(ctx, r.ID, "replica-1", t0, t0.Add(30*time.Second))
		require.NoError(t, err)
		require.True(t, ok)
		ok, err = db.Outbox().Lease(ctx, r.ID, "replica-1", t0.Add(time.Second), t0.Add(31*time.Second))
		require.NoError(t, err)
		require.False(t, ok, "a leased row is not handed out twice")
		again, err := db.Outbox().Owed(ctx, t0.Add(time.Second), 10)
		require.NoError(t, err)
		require.Empty(t, again, "a leased row is not owed to other posters")
		require.Equal(t, r.ID, got[0].ID)
		require.Equal(t, "C1", got[0].ChannelID)
		require.NoError(t, db.Outbox().CardPosted(ctx, r.ID, "111.222", r.CardVersion))
		again, err = db.Outbox().Owed(ctx, t0.Add(time.Minute), 10)
		require.NoError(t, err)
		require.Empty(t, again, "a posted card owes nothing")

		_, err = db.Requests().Cancel(ctx, r.ID, "U1", t0)
		require.NoError(t, err)
		again, err = db.Outbox().Owed(ctx, t0.Add(time.Minute), 10)
		require.NoError(t, err)
		require.Len(t, again, 1, "a state change makes the card owed again")
		posted, err := db.Requests().Request(ctx, r.ID)
		require.NoError(t, err)
		require.Equal(t, "111.222", posted.CardTS)

		require.NoError(t, db.Outbox().RetryOutboxAt(ctx, r.ID, t0.Add(2*time.Minute)))
		again, err = db.Outbox().Owed(ctx, t0.Add(time.Minute), 10)
		require.NoError(t, err)
		require.Empty(t, again, "not before its retry time")
	})
}

// A post under way is marked until it is recorded: the card's by
// CardPosted, the reply's by ReplyPosted, each leaving the other's mark.
func TestPostUnderWay(t *testing.T) {
	storetest.Each(t, func(t *testing.T, dsn string) {
		ctx := context.Background()
		db := mustOpen(t, dsn)
		r := newRequest(t, db)
		read := func() *store.Request {
			got, err := db.Requests().Request(ctx, r.ID)
			require.NoError(t, err)
			return got
		}
		require.True(t, read().CardPostingAt.IsZero())
		require.NoError(t, db.Outbox().PostUnderWay(ctx, r.ID, store.CardPost, t0))
		require.NoError(t, db.Outbox().PostUnderWay(ctx, r.ID, store.ReplyPost, t0.Add(time.Second)))
		got := read()
		require.Equal(t, t0, got.CardPostingAt)
		require.Equal(t, t0.Add(time.Second), got.ReplyPostingAt)

		require.NoError(t, db.Outbox().CardPosted(ctx, r.ID, "111.222", r.CardVersion))
		got = read()
		require.True(t, got.CardPostingAt.IsZero(), "recorded")
		require.Equal(t, t0.Add(time.Second), got.ReplyPostingAt, "the reply's post is still under way")
		require.NoError(t, db.Outbox().ReplyPosted(ctx, r.ID, "111.333"))
		require.True(t, read().ReplyPostingAt.IsZero(), "recorded")

		require.NoError(t, db.Outbox().PostUnderWay(ctx, r.ID, store.CardPost, t0))
		require.NoError(t, db.Outbox().PostUnderWay(ctx, r.ID, store.CardPost, time.Time{}))
		require.True(t, read().CardPostingAt.IsZero(), "a zero time clears the mark")
	})
}

func TestListRequests_Filters(t *testing.T) {
	storetest.Each(t, func(t *testing.T, dsn string) {
		ctx := context.Background()
		db := mustOpen(t, dsn)
		a := newRequest(t, db)
		b := newRequest(t, db)
		_, err := db.Requests().Cancel(ctx, b.ID, "U1", t0)
		require.NoError(t, err)
		got, err := db.Requests().ListRequests(ctx, store.Filter{States: []leave.State{leave.Pending}})
		require.NoError(t, err)
		require.Len(t, got, 1)
		require.Equal(t, a.ID, got[0].ID)
		got, err = db.Requests().ListRequests(ctx, store.Filter{RequesterID: "U1"})
		require.NoError(t, err)
		require.Len(t, got, 2)
		got, err = db.Requests().ListRequests(ctx, store.Filter{RequesterID: "U9"})
		require.NoError(t, err)
		require.Empty(t, got)
	})
}

// TestListRequests_SeveralStates: a list in several states (the Home
// tab's last done or failed) is the newest across them, in order, with
// the other filters applied to each.
func TestListRequests_SeveralStates(t *testing.T) {
	storetest.Each(t, func(t *testing.T, dsn string) {
		ctx := context.Background()
		db := mustOpen(t, dsn)
		var ids []string // U1's, oldest first; every other one cancelled
		for i := range 6 {
			for _, user := range []string{"U1", "U2"} {
				at := t0.Add(time.Duration(i) * time.Minute)
				r := &store.Request{ChannelID: "C1", RequesterID: user, GroupJID: "1@g.us", CreatedAt: at, ExpiresAt: at.Add(time.Hour)}
				require.NoError(t, db.Requests().CreateRequest(ctx, r, nil))
				if i%2 == 1 {
					_, err := db.Requests().Cancel(ctx, r.ID, user, at)
					require.NoError(t, err)
				}
				if user == "U1" {
					ids = append(ids, r.ID)
				}
			}
		}
		got, err := db.Requests().ListRequests(ctx, store.Filter{States: []leave.State{leave.Pending, leave.Cancelled}, RequesterID: "U1", Limit: 3})
		require.NoError(t, err)
		var gotIDs []string
		for _, r := range got {
			require.Equal(t, "U1", r.RequesterID)
			gotIDs = append(gotIDs, r.ID)
		}
		require.Equal(t, []string{ids[5], ids[4], ids[3]}, gotIDs, "the newest three across both states")
		got, err = db.Requests().ListRequests(ctx, store.Filter{States: []leave.State{leave.Cancelled, leave.Done}, Since: t0.Add(2 * time.Minute)})
		require.NoError(t, err)
		require.Len(t, got, 4, "U1's and U2's cancelled at minutes 3 and 5")
	})
}

func TestCreateRequest_ConcurrentCallsAllPersisted(t *testing.T) {
	storetest.Each(t, func(t *testing.T, dsn string) {
		ctx := context.Background()
		db := mustOpen(t, dsn)
		var wg sync.WaitGroup
		errs := make(chan error, 200)
		for i := 0; i < 200; i++ {
			wg.Add(1)
			go func(i int) {
				defer wg.Done()
				r := &store.Request{ChannelID: "C1", RequesterID: "U1", GroupJID: "1@g.us", CreatedAt: t0, ExpiresAt: t0.Add(time.Hour)}
				if i%50 == 0 {
					r.ID = "RDUPLICATE" // all but the first of these must fail, alone
				}
				errs <- db.Requests().CreateRequest(ctx, r, nil)
			}(i)
		}
		wg.Wait()
		close(errs)
		failed := 0
		for err := range errs {
			if err != nil {
				failed++
			}
		}
		require.Equal(t, 3, failed, "only the duplicate IDs fail")
		all, err := db.Requests().ListRequests(ctx, store.Filter{})
		require.NoError(t, err)
		require.Len(t, all, 197)
	})
}

func TestNewID_OrderedAndUnique(t *testing.T) {
	seen := map[string]bool{}
	prev := ""
	for i := 0; i < 2000; i++ {
		id := store.NewID()
		require.Len(t, id, 16)
		require.False(t, seen[id], "duplicate %s", id)
		seen[id] = true
		if i%200 == 0 {
			time.Sleep(2 * time.Millisecond)
			next := store.NewID()
			require.Greater(t, next, prev, "IDs from a later millisecond sort later")
		}
		prev = id
	}
}

// TestOpen_ReplicasStartingTogetherMigrateOnce opens one new PostgreSQL
// database from several stores at once, as replicas of a fresh
// deployment do: the migration lock lets each find the schema whole.
func TestOpen_ReplicasStartingTogetherMigrateOnce(t *testing.T) {
	dsn := storetest.Postgres(t)
	var wg sync.WaitGroup
	dbs := make([]*store.DB, 4)
	errs := make([]error, len(dbs))
	for i := range dbs {
		wg.Add(1)
		go func() {
			defer wg.Done()
			dbs[i], errs[i] = store.Open(context.Background(), dsn)
		}()
	}
	wg.Wait()
	for i, db := range dbs {
		require.NoError(t, errs[i])
		t.Cleanup(func() { db.Close() })
	}
	r := newRequest(t, dbs[0])
	got, err := dbs[3].Requests().Request(context.Background(), r.ID)
	require.NoError(t, err)
	require.Equal(t, r.ID, got.ID)
}

// TestConfirm_OnceAcrossReplicas confirms one request through two stores
// on the same database, as two replicas handling a double click do.
func TestConfirm_OnceAcrossReplicas(t *testing.T) {
	storetest.Each(t, func(t *testing.T, dsn string) {
		ctx := context.Background()
		a, b := replicas(t, dsn)
		r := newRequest(t, a)
		var ok, conflict, enqueued atomic.Int32
		var wg sync.WaitGroup
		for i := 0; i < 20; i++ {
			wg.Add(1)
			go func() {
				defer wg.Done()
				db := []*store.DB{a, b}[i%2]
				_, err := confirm(ctx, db, r.ID, "U2", t0.Add(time.Minute), func(context.Context, *sql.Tx) error {
					enqueued.Add(1)
					return nil
				})
				switch {
				case err == nil:
					ok.Add(1)
				case errors.Is(err, store.ErrConflict):
					conflict.Add(1)
				default:
					t.Errorf("confirm: %v", err)
				}
			}()
		}
		wg.Wait()
		require.EqualValues(t, 1, ok.Load())
		require.EqualValues(t, 19, conflict.Load())
		require.EqualValues(t, 1, enqueued.Load())
	})
}

func TestOutbox_ExtendOnlyWhileHeld(t *testing.T) {
	storetest.Each(t, func(t *testing.T, dsn string) {
		ctx := context.Background()
		db := mustOpen(t, dsn)
		r := newRequest(t, db)
		held := t0.Add(45 * time.Second)
		ok, err := db.Outbox().Lease(ctx, r.ID, "replica-1", t0, held)
		require.NoError(t, err)
		require.True(t, ok)
		ok, err = db.Outbox().Extend(ctx, r.ID, held, held.Add(time.Minute))
		require.NoError(t, err)
		require.True(t, ok, "the holder extends its lease")
		held = held.Add(time.Minute)

		// The lease runs out and another poster takes the row.
		ok, err = db.Outbox().Lease(ctx, r.ID, "replica-1", held.Add(time.Second), held.Add(time.Minute))
		require.NoError(t, err)
		require.True(t, ok)
		ok, err = db.Outbox().Extend(ctx, r.ID, held, held.Add(2*time.Minute))
		require.NoError(t, err)
		require.False(t, ok, "a lost lease cannot be extended")

		// Version 2 is still owed after version 1 is posted, yet no other
		// poster may take the row: posting keeps the lease.
		_, err = db.Requests().Cancel(ctx, r.ID, "U1", t0)
		require.NoError(t, err)
		require.NoError(t, db.Outbox().CardPosted(ctx, r.ID, "1.2", 1))
		again, err := db.Outbox().Owed(ctx, held.Add(2*time.Second), 10)
		require.NoError(t, err)
		require.Empty(t, again, "posting keeps the lease until the poster releases it")

		ok, err = db.Outbox().Extend(ctx, r.ID, held.Add(time.Minute), time.Time{})
		require.NoError(t, err)
		require.True(t, ok, "the holder releases its lease")
		again, err = db.Outbox().Owed(ctx, held.Add(2*time.Second), 10)
		require.NoError(t, err)
		require.Len(t, again, 1, "a released row is owed again at once")
	})
}

// TestOpen_SQLiteIsOneProcess opens one SQLite database twice: the
// second open is refused while the first is open (the bot takes back what
// the database shows in progress at start-up, which would be the first's
// live work), and succeeds once it is closed.
func TestOpen_SQLiteIsOneProcess(t *testing.T) {
	dsn := storetest.SQLite(t)
	first, err := store.Open(context.Background(), dsn)
	require.NoError(t, err)
	_, err = store.Open(context.Background(), dsn)
	require.ErrorIs(t, err, store.ErrInUse)
	require.Contains(t, err.Error(), strings.TrimPrefix(dsn, "sqlite:"), "the error names the database")

	require.NoError(t, first.Close())
	again, err := store.Open(context.Background(), dsn)
	require.NoError(t, err)
	require.NoError(t, again.Close())
}

// Two spellings of one database, a symbolic link among them, share one
// lock.
func TestOpen_SQLiteLockFollowsSymlinks(t *testing.T) {
	dir := t.TempDir()
	real := filepath.Join(dir, "real.db")
	first, err := store.Open(context.Background(), "sqlite:"+real)
	require.NoError(t, err)
	defer first.Close()
	require.NoError(t, os.Symlink(real, filepath.Join(dir, "link.db")))
	_, err = store.Open(context.Background(), "sqlite:"+filepath.Join(dir, "link.db"))
	require.ErrorIs(t, err, store.ErrInUse)
}

// A request that ends forgets the members it offered as successor (other
// people's phone numbers) and its response_url, however it ends; the
// chosen successor stays.
func TestEnd_ForgetsOfferedMembersAndResponseURL(t *testing.T) {
	storetest.Each(t, func(t *testing.T, dsn string) {
		ctx := context.Background()
		db := mustOpen(t, dsn)
		open := func() *store.Request {
			r := &store.Request{ChannelID: "C1", RequesterID: "U1", GroupJID: "120363406289005073@g.us", ResponseURL: "https://hooks.slack.com/commands/T1/1/x",
				CreatedAt: t0, ExpiresAt: t0.Add(time.Hour)}
			require.NoError(t, db.Requests().CreateRequest(ctx, r, nil))
			ok, err := db.Requests().SetDetails(ctx, r.ID, store.Details{State: store.DetailsOK, OnlyAdmin: true, IsAdmin: true, Successors: []string{"79000000002@c.us", "79000000003@c.us"}}, t0)
			require.NoError(t, err)
			require.True(t, ok)
			_, err = db.Requests().SetSuccessor(ctx, r.ID, "79000000003@c.us", "U1", t0)
			require.NoError(t, err)
			return r
		}
		ends := map[string]func(id string) error{
			"cancelled": func(id string) error { _, err := db.Requests().Cancel(ctx, id, "U1", t0); return err },
			"expired":   func(id string) error { _, err := db.Requests().Expire(ctx, id, t0.Add(2*time.Hour)); return err },
			"undeliverable": func(id string) error {
				_, err := db.Requests().CancelUndeliverable(ctx, id, "slack refused the card", t0)
				return err
			},
			"done": func(id string) error {
				if _, err := confirm(ctx, db, id, "U2", t0, nil); err != nil {
					return err
				}
				if _, err := db.Requests().ClaimRun(ctx, id, t0, time.Minute); err != nil {
					return err
				}
				_, err := db.Requests().Finish(ctx, id, store.Outcome{Code: "left"}, t0)
				return err
			},
		}
		for name, end := range ends {
			r := open()
			got, err := db.Requests().Request(ctx, r.ID)
			require.NoError(t, err)
			require.Len(t, got.Successors, 2, "%s: offered while open", name)
			require.NotEmpty(t, got.ResponseURL)

			require.NoError(t, end(r.ID), name)
			got, err = db.Requests().Request(ctx, r.ID)
			require.NoError(t, err)
			require.Empty(t, got.Successors, name)
			require.Empty(t, got.ResponseURL, name)
			require.Equal(t, "79000000003@c.us", got.Successor, name)
		}
	})
}

// A leave call is recorded as under way before it is made, and its answer
// ends that: a retry after a known failure, an unknown outcome, or the
// request's end. What is left set after a crash is what the next run
// reads. The verification is stored with the outcome.
func TestLeaveState_UnderWayUntilAnswered(t *testing.T) {
	storetest.Each(t, func(t *testing.T, dsn string) {
		ctx := context.Background()
		db := mustOpen(t, dsn)
		r := newRequest(t, db)
		_, err := confirm(ctx, db, r.ID, "U2", t0, nil)
		require.NoError(t, err)
		_, err = db.Requests().ClaimRun(ctx, r.ID, t0, time.Minute)
		require.NoError(t, err)
		state := func() *store.Request {
			got, err := db.Requests().Request(ctx, r.ID)
			require.NoError(t, err)
			return got
		}

		require.NoError(t, db.Requests().BeginLeave(ctx, r.ID, t0))
		require.Equal(t, store.LeaveCalling, state().LeaveState, "a crash now is known afterwards")
		require.NoError(t, db.Requests().Progress(ctx, r.ID, 1, "retrying", "500", 500, t0))
		require.Empty(t, state().LeaveState, "a call that failed for sure is over")
		require.False(t, state().LeaveUnknown)

		require.NoError(t, db.Requests().BeginLeave(ctx, r.ID, t0))
		require.NoError(t, db.Requests().SetLeaveUnknown(ctx, r.ID, "lost", t0))
		require.Empty(t, state().LeaveState)
		require.True(t, state().LeaveUnknown)

		require.NoError(t, db.Requests().BeginLeave(ctx, r.ID, t0))
		got, err := db.Requests().Finish(ctx, r.ID, store.Outcome{Code: "left", Status: 200, Verification: store.Verified}, t0)
		require.NoError(t, err)
		require.Empty(t, got.LeaveState)
		require.Equal(t, store.Verified, got.Verification)

		audit, err := db.Requests().Audit(ctx, r.ID)
		require.NoError(t, err)
		var actions []string
		for _, e := range audit {
			actions = append(actions, e.Action)
		}
		require.Equal(t, []string{"requested", "confirmed", "attempt", "leave call started", "retry", "leave call started", "leave unknown", "leave call started", "done"}, actions)
	})
}
