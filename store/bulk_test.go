package store_test

import (
	"context"
	"database/sql"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/waleave/waleave/leave"
	"github.com/waleave/waleave/store"
	"github.com/waleave/waleave/store/storetest"
)

// newBulk records a pending bulk request of n groups.
func newBulk(tb testing.TB, db *store.DB, n int) (*store.Request, []*store.Request) {
	tb.Helper()
	p := &store.Request{ChannelID: "C1", RequesterID: "U1", GroupSubject: "groups matching “acme”", Goodbye: "bye",
		CreatedAt: t0, ExpiresAt: t0.Add(24 * time.Hour)}
	var children []*store.Request
	for i := range n {
		children = append(children, &store.Request{GroupJID: fmt.Sprintf("1203634062890050%02d@g.us", i), GroupSubject: fmt.Sprintf("Acme %02d", i)})
	}
	require.NoError(tb, db.Requests().CreateBulk(context.Background(), p, children))
	return p, children
}

// confirmBulk confirms the bulk request p and returns the confirmations
// its transaction enqueued work for.
func confirmBulk(t *testing.T, db *store.DB, p *store.Request, by string) []store.Confirmation {
	t.Helper()
	var got []store.Confirmation
	c := db.Requests().NewConfirmer(func(_ context.Context, _ *sql.Tx, confirmed []store.Confirmation) error {
		got = append(got, confirmed...)
		return nil
	})
	_, err := c.Confirm(context.Background(), p.ID, by, store.Card{ChannelID: "C1", TS: "1.000001", Version: 1}, t0.Add(time.Minute))
	require.NoError(t, err)
	return got
}

func finishChild(t *testing.T, db *store.DB, id string, o leave.Outcome, now time.Time) {
	t.Helper()
	ctx := context.Background()
	_, err := db.Requests().ClaimRun(ctx, id, now, time.Minute)
	require.NoError(t, err)
	_, err = db.Requests().Finish(ctx, id, store.Outcome{Code: o}, now)
	require.NoError(t, err)
}

func TestBulk_ConfirmEndsWithTheLastGroup(t *testing.T) {
	storetest.Each(t, func(t *testing.T, dsn string) {
		ctx := context.Background()
		db := mustOpen(t, dsn)
		p, children := newBulk(t, db, 3)

		// Only the parent owes Slack anything: its card.
		owed, err := db.Outbox().Owed(ctx, t0, 100)
		require.NoError(t, err)
		require.Equal(t, []store.OwedRef{{ID: p.ID, ChannelID: "C1"}}, owed)
		// The groups are not listed on their own, and do not count as pending.
		list, err := db.Requests().ListRequests(ctx, store.Filter{})
		require.NoError(t, err)
		require.Len(t, list, 1)
		byUser, _, err := db.Requests().PendingCounts(ctx, "U1", "C1", t0)
		require.NoError(t, err)
		require.Equal(t, 1, byUser)

		got := confirmBulk(t, db, p, "U2")
		require.Len(t, got, 3, "one job per group, none for the parent")
		for _, c := range children {
			r, err := db.Requests().Request(ctx, c.ID)
			require.NoError(t, err)
			require.Equal(t, leave.Confirmed, r.State)
			require.Equal(t, "U2", r.ConfirmedBy)
			require.Equal(t, p.ID, r.ParentID)
			require.Equal(t, "bye", r.Goodbye)
		}

		finishChild(t, db, children[0].ID, leave.OutcomeLeft, t0.Add(2*time.Minute))
		finishChild(t, db, children[1].ID, leave.OutcomeOnlyAdmin, t0.Add(2*time.Minute))
		r, err := db.Requests().Request(ctx, p.ID)
		require.NoError(t, err)
		require.Equal(t, leave.Confirmed, r.State)
		require.False(t, r.ReplyNeeded)
		owed, err = db.Outbox().Owed(ctx, t0.Add(3*time.Minute), 100)
		require.NoError(t, err)
		require.Equal(t, []store.OwedRef{{ID: p.ID, ChannelID: "C1"}}, owed, "a group's end is the parent's card, not its own")

		finishChild(t, db, children[2].ID, leave.OutcomeLeft, t0.Add(3*time.Minute))
		r, err = db.Requests().Request(ctx, p.ID)
		require.NoError(t, err)
		require.Equal(t, leave.Failed, r.State, "a group failed")
		require.True(t, r.ReplyNeeded, "the summary is owed")
		kids, err := db.Requests().Children(ctx, p.ID)
		require.NoError(t, err)
		require.Len(t, kids, 3)
		for _, k := range kids {
			require.False(t, k.ReplyNeeded)
		}
	})
}

func TestBulk_StopCancelsWhatHasNotStarted(t *testing.T) {
	storetest.Each(t, func(t *testing.T, dsn string) {
		ctx := context.Background()
		db := mustOpen(t, dsn)
		p, children := newBulk(t, db, 4)
		confirmBulk(t, db, p, "U2")
		finishChild(t, db, children[0].ID, leave.OutcomeLeft, t0.Add(2*time.Minute))
		// children[1] is under way: its goodbye is claimed.
		_, err := db.Requests().ClaimRun(ctx, children[1].ID, t0.Add(2*time.Minute), time.Minute)
		require.NoError(t, err)
		require.NoError(t, db.Requests().ClaimGoodbye(ctx, children[1].ID, t0.Add(2*time.Minute)))
		// children[2]'s run has sent nothing yet (it waits for the
		// gateway's rate): it has not started.
		_, err = db.Requests().ClaimRun(ctx, children[2].ID, t0.Add(2*time.Minute), time.Minute)
		require.NoError(t, err)

		r, err := db.Requests().Stop(ctx, p.ID, "U3", t0.Add(3*time.Minute))
		require.NoError(t, err)
		require.Equal(t, leave.Confirmed, r.State, "a group is under way")
		require.Equal(t, "U3", r.CancelledBy)
		for _, c := range children[2:] {
			k, err := db.Requests().Request(ctx, c.ID)
			require.NoError(t, err)
			require.Equal(t, leave.Cancelled, k.State)
			_, err = db.Requests().ClaimRun(ctx, c.ID, t0.Add(4*time.Minute), time.Minute)
			require.ErrorIs(t, err, store.ErrConflict, "its job finds nothing to do")
		}
		// The run that was waiting sends nothing.
		require.ErrorIs(t, db.Requests().ClaimGoodbye(ctx, children[2].ID, t0.Add(4*time.Minute)), store.ErrConflict)
		require.ErrorIs(t, db.Requests().BeginLeave(ctx, children[2].ID, t0.Add(4*time.Minute)), store.ErrConflict)
		require.NoError(t, db.Requests().BeginLeave(ctx, children[1].ID, t0.Add(4*time.Minute)), "the one under way finishes")
		_, err = db.Requests().Stop(ctx, p.ID, "U3", t0.Add(3*time.Minute))
		require.ErrorIs(t, err, store.ErrConflict)

		_, err = db.Requests().Finish(ctx, children[1].ID, store.Outcome{Code: leave.OutcomeLeft}, t0.Add(5*time.Minute))
		require.NoError(t, err)
		r, err = db.Requests().Request(ctx, p.ID)
		require.NoError(t, err)
		require.Equal(t, leave.Done, r.State, "no group failed")
		require.True(t, r.ReplyNeeded)
	})
}

func TestBulk_CancelAndExpireEndTheGroups(t *testing.T) {
	storetest.Each(t, func(t *testing.T, dsn string) {
		ctx := context.Background()
		db := mustOpen(t, dsn)
		p, children := newBulk(t, db, 2)
		_, err := db.Requests().Cancel(ctx, p.ID, "U1", t0.Add(time.Minute))
		require.NoError(t, err)
		for _, c := range children {
			k, err := db.Requests().Request(ctx, c.ID)
			require.NoError(t, err)
			require.Equal(t, leave.Cancelled, k.State)
		}
		q, qc := newBulk(t, db, 2)
		_, err = db.Requests().Expire(ctx, q.ID, t0.Add(25*time.Hour))
		require.NoError(t, err)
		for _, c := range qc {
			k, err := db.Requests().Request(ctx, c.ID)
			require.NoError(t, err)
			require.Equal(t, leave.Expired, k.State)
		}
		due, err := db.Requests().DueWork(ctx, t0.Add(30*time.Hour), t0.Add(30*time.Hour), time.Hour)
		require.NoError(t, err)
		require.Empty(t, due.Expire)
	})
}

func TestBulk_SweepSeesOnlyTheParent(t *testing.T) {
	storetest.Each(t, func(t *testing.T, dsn string) {
		ctx := context.Background()
		db := mustOpen(t, dsn)
		p, _ := newBulk(t, db, 3)
		due, err := db.Requests().DueWork(ctx, t0.Add(25*time.Hour), t0.Add(2*time.Hour), time.Hour)
		require.NoError(t, err)
		require.Len(t, due.Expire, 1)
		require.Equal(t, p.ID, due.Expire[0].ID)
	})
}

func TestBulk_RetentionDeletesTheParentWithItsGroups(t *testing.T) {
	storetest.Each(t, func(t *testing.T, dsn string) {
		ctx := context.Background()
		db := mustOpen(t, dsn)
		p, children := newBulk(t, db, 3)
		confirmBulk(t, db, p, "U2")
		for _, c := range children {
			finishChild(t, db, c.ID, leave.OutcomeLeft, t0.Add(2*time.Minute))
		}
		n, err := db.Requests().Prune(ctx, t0.Add(48*time.Hour), t0.Add(48*time.Hour))
		require.NoError(t, err)
		require.Equal(t, 1, n, "one request: the bulk one")
		for _, id := range []string{p.ID, children[0].ID, children[2].ID} {
			_, err := db.Requests().Request(ctx, id)
			require.ErrorIs(t, err, store.ErrNotFound)
		}
	})
}

// Groups ending at once, on two replicas, end the parent exactly once.
func TestBulk_GroupsEndingAtOnceEndTheParentOnce(t *testing.T) {
	storetest.Each(t, func(t *testing.T, dsn string) {
		ctx := context.Background()
		a, b := replicas(t, dsn)
		p, children := newBulk(t, a, 20)
		confirmBulk(t, a, p, "U2")
		var wg sync.WaitGroup
		for i, c := range children {
			db := a
			if i%2 == 1 {
				db = b
			}
			wg.Go(func() {
				_, err := db.Requests().ClaimRun(ctx, c.ID, t0.Add(time.Minute), time.Minute)
				if err == nil {
					_, err = db.Requests().Finish(ctx, c.ID, store.Outcome{Code: leave.OutcomeLeft}, t0.Add(2*time.Minute))
				}
				if err != nil {
					t.Error(err)
				}
			})
		}
		wg.Wait()
		r, err := a.Requests().Request(ctx, p.ID)
		require.NoError(t, err)
		require.Equal(t, leave.Done, r.State)
		audit, err := a.Requests().Audit(ctx, p.ID)
		require.NoError(t, err)
		ends := 0
		for _, e := range audit {
			if e.Action == string(leave.Done) {
				ends++
			}
		}
		require.Equal(t, 1, ends)
	})
}

func TestBulk_CardUpdatesKeepTheirPace(t *testing.T) {
	storetest.Each(t, func(t *testing.T, dsn string) {
		ctx := context.Background()
		a, b := replicas(t, dsn)
		p, _ := newBulk(t, a, 1)
		ok, _, err := a.Outbox().BeginCardUpdate(ctx, p.ID, t0, time.Second)
		require.NoError(t, err)
		require.True(t, ok)
		ok, next, err := b.Outbox().BeginCardUpdate(ctx, p.ID, t0.Add(400*time.Millisecond), time.Second)
		require.NoError(t, err)
		require.False(t, ok, "another replica within the second")
		require.Equal(t, t0.Add(time.Second), next)
		require.NoError(t, a.Outbox().CardUpdated(ctx, p.ID, t0.Add(500*time.Millisecond)))
		ok, next, err = b.Outbox().BeginCardUpdate(ctx, p.ID, t0.Add(time.Second), time.Second)
		require.NoError(t, err)
		require.False(t, ok, "a second after the answer, not the start")
		require.Equal(t, t0.Add(1500*time.Millisecond), next)
		ok, _, err = b.Outbox().BeginCardUpdate(ctx, p.ID, t0.Add(1500*time.Millisecond), time.Second)
		require.NoError(t, err)
		require.True(t, ok)
	})
}
