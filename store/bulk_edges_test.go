package store_test

import (
	"context"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/waleave/waleave/leave"
	"github.com/waleave/waleave/store"
	"github.com/waleave/waleave/store/storetest"
)

// These tests each kill mutants of the bulk code that the other bulk
// tests let live (a WHERE term dropped, a check removed): every query of
// one bulk request's groups must leave another's alone, and Stop, Cancel
// and retention must touch only what they say.

// actionsOf lists the audit actions of request id, oldest first.
func actionsOf(t *testing.T, db *store.DB, id string) []string {
	t.Helper()
	audit, err := db.Requests().Audit(context.Background(), id)
	require.NoError(t, err)
	var out []string
	for _, e := range audit {
		out = append(out, e.Action+" by "+e.Actor)
	}
	return out
}

func stateOf(t *testing.T, db *store.DB, id string) *store.Request {
	t.Helper()
	r, err := db.Requests().Request(context.Background(), id)
	require.NoError(t, err)
	return r
}

// Two bulk requests at once: confirming, stopping and ending one touches
// none of the other's groups, and each group's history says who
// confirmed and who stopped it.
func TestBulk_TwoRequestsKeepTheirGroupsApart(t *testing.T) {
	storetest.Each(t, func(t *testing.T, dsn string) {
		ctx := context.Background()
		db := mustOpen(t, dsn)
		a, ac := newBulk(t, db, 2)
		b, bc := newBulk(t, db, 2)

		got := confirmBulk(t, db, a, "U2")
		require.Len(t, got, 2, "a's groups only")
		for _, c := range bc {
			require.Equal(t, leave.Pending, stateOf(t, db, c.ID).State, "b is not confirmed")
		}
		require.Len(t, confirmBulk(t, db, b, "U4"), 2)
		for _, c := range ac {
			require.Equal(t, "U2", stateOf(t, db, c.ID).ConfirmedBy, "confirmed once, by a's confirmer")
			require.Equal(t, []string{"requested by U1", "confirmed by U2"}, actionsOf(t, db, c.ID))
		}

		finishChild(t, db, ac[0].ID, leave.OutcomeLeft, t0.Add(2*time.Minute))
		_, err := db.Requests().Stop(ctx, a.ID, "U3", t0.Add(3*time.Minute))
		require.NoError(t, err)
		stopped := stateOf(t, db, ac[1].ID)
		require.Equal(t, leave.Cancelled, stopped.State)
		require.Equal(t, "U3", stopped.CancelledBy, "the group's history says who stopped it")
		require.Equal(t, []string{"requested by U1", "confirmed by U2", "stopped by U3"}, actionsOf(t, db, ac[1].ID))
		for _, c := range bc {
			require.Equal(t, leave.Confirmed, stateOf(t, db, c.ID).State, "b's groups go on")
			require.Equal(t, []string{"requested by U1", "confirmed by U4"}, actionsOf(t, db, c.ID))
		}
		require.Equal(t, leave.Done, stateOf(t, db, a.ID).State, "a ended with its last group, whatever b's are doing")
		require.Equal(t, leave.Confirmed, stateOf(t, db, b.ID).State)
	})
}

// Stop is for a confirmed bulk request only; Cancel is not for a
// confirmed bulk request (its groups may be under way).
func TestBulk_StopAndCancelRefuseWhatIsNotTheirs(t *testing.T) {
	storetest.Each(t, func(t *testing.T, dsn string) {
		ctx := context.Background()
		db := mustOpen(t, dsn)

		p, pc := newBulk(t, db, 2)
		_, err := db.Requests().Stop(ctx, p.ID, "U3", t0.Add(time.Minute))
		require.ErrorIs(t, err, store.ErrConflict, "a pending bulk request is cancelled, not stopped")
		r := stateOf(t, db, p.ID)
		require.Equal(t, leave.Pending, r.State)
		require.Empty(t, r.CancelledBy)
		for _, c := range pc {
			require.Equal(t, leave.Pending, stateOf(t, db, c.ID).State)
		}

		single := &store.Request{ChannelID: "C1", RequesterID: "U1", GroupJID: "120363406289005999@g.us",
			CreatedAt: t0, ExpiresAt: t0.Add(24 * time.Hour)}
		require.NoError(t, db.Requests().CreateRequest(ctx, single, nil))
		confirmBulk(t, db, single, "U2")
		_, err = db.Requests().Stop(ctx, single.ID, "U3", t0.Add(time.Minute))
		require.ErrorIs(t, err, store.ErrConflict, "only a bulk request is stopped")
		r = stateOf(t, db, single.ID)
		require.Equal(t, leave.Confirmed, r.State)
		require.Empty(t, r.CancelledBy)

		confirmBulk(t, db, p, "U2")
		_, err = db.Requests().Cancel(ctx, p.ID, "U1", t0.Add(2*time.Minute))
		require.ErrorIs(t, err, store.ErrConflict, "a confirmed bulk request is stopped, not cancelled")
		require.Equal(t, leave.Confirmed, stateOf(t, db, p.ID).State)
		for _, c := range pc {
			require.Equal(t, leave.Confirmed, stateOf(t, db, c.ID).State)
		}
	})
}

// A group sent no goodbye (--no-goodbye) has started once its leave call
// is under way, or its outcome unknown: Stop leaves it to finish.
func TestBulk_StopLeavesALeaveCallUnderWay(t *testing.T) {
	storetest.Each(t, func(t *testing.T, dsn string) {
		ctx := context.Background()
		db := mustOpen(t, dsn)
		p := &store.Request{ChannelID: "C1", RequesterID: "U1", GroupSubject: "groups matching “acme”",
			CreatedAt: t0, ExpiresAt: t0.Add(24 * time.Hour)}
		var children []*store.Request
		for _, jid := range []string{"120363406289005001@g.us", "120363406289005002@g.us", "120363406289005003@g.us"} {
			children = append(children, &store.Request{GroupJID: jid})
		}
		require.NoError(t, db.Requests().CreateBulk(ctx, p, children))
		confirmBulk(t, db, p, "U2")
		at := t0.Add(2 * time.Minute)
		for _, c := range children[:2] {
			_, err := db.Requests().ClaimRun(ctx, c.ID, at, time.Minute)
			require.NoError(t, err)
			require.NoError(t, db.Requests().BeginLeave(ctx, c.ID, at))
		}
		// children[1]'s answer was lost: it may have left.
		require.NoError(t, db.Requests().SetLeaveUnknown(ctx, children[1].ID, "timeout", at))

		_, err := db.Requests().Stop(ctx, p.ID, "U3", t0.Add(3*time.Minute))
		require.NoError(t, err)
		require.Equal(t, leave.Running, stateOf(t, db, children[0].ID).State, "its leave call is under way")
		require.Equal(t, leave.Running, stateOf(t, db, children[1].ID).State, "it may have left")
		require.Equal(t, leave.Cancelled, stateOf(t, db, children[2].ID).State)
		require.Equal(t, leave.Confirmed, stateOf(t, db, p.ID).State)
	})
}

// Each group that ends owes the parent's card its progress, even after
// the card was posted.
func TestBulk_GroupEndingBumpsThePostedCard(t *testing.T) {
	storetest.Each(t, func(t *testing.T, dsn string) {
		ctx := context.Background()
		db := mustOpen(t, dsn)
		p, children := newBulk(t, db, 2)
		confirmBulk(t, db, p, "U2")
		r := stateOf(t, db, p.ID)
		require.NoError(t, db.Outbox().CardPosted(ctx, p.ID, "1.000001", r.CardVersion))
		owed, err := db.Outbox().Owed(ctx, t0.Add(2*time.Minute), 100)
		require.NoError(t, err)
		require.Empty(t, owed)

		finishChild(t, db, children[0].ID, leave.OutcomeLeft, t0.Add(2*time.Minute))
		owed, err = db.Outbox().Owed(ctx, t0.Add(3*time.Minute), 100)
		require.NoError(t, err)
		require.Equal(t, []store.OwedRef{{ID: p.ID, ChannelID: "C1"}}, owed, "the card shows one group done")
	})
}

// A scheduled bulk request's groups run at its time.
func TestBulk_ScheduledGroupsRunAtTheParentsTime(t *testing.T) {
	storetest.Each(t, func(t *testing.T, dsn string) {
		ctx := context.Background()
		db := mustOpen(t, dsn)
		runAt := t0.Add(5 * time.Hour)
		p := &store.Request{ChannelID: "C1", RequesterID: "U1", CreatedAt: t0, ExpiresAt: runAt, RunAt: runAt, TZ: "Europe/Berlin"}
		children := []*store.Request{{GroupJID: "120363406289005001@g.us"}, {GroupJID: "120363406289005002@g.us"}}
		require.NoError(t, db.Requests().CreateBulk(ctx, p, children))
		got := confirmBulk(t, db, p, "U2")
		require.Len(t, got, 2)
		for _, c := range got {
			require.True(t, c.RunAt.Equal(runAt), "job at %v, want %v", c.RunAt, runAt)
			require.True(t, stateOf(t, db, c.RequestID).RunAt.Equal(runAt))
		}
	})
}

// A group's own history (/wa-leave history <group>) lists the bulk
// requests that left it.
func TestBulk_GroupHistoryListsBulkGroups(t *testing.T) {
	storetest.Each(t, func(t *testing.T, dsn string) {
		ctx := context.Background()
		db := mustOpen(t, dsn)
		_, children := newBulk(t, db, 2)
		list, err := db.Requests().ListRequests(ctx, store.Filter{GroupJID: children[1].GroupJID})
		require.NoError(t, err)
		require.Len(t, list, 1)
		require.Equal(t, children[1].ID, list[0].ID)
	})
}

// Retention deletes a bulk request's groups with their audit trails:
// nothing of a pruned group is left behind.
func TestBulk_RetentionLeavesNoGroupAudit(t *testing.T) {
	storetest.Each(t, func(t *testing.T, dsn string) {
		ctx := context.Background()
		db := mustOpen(t, dsn)
		p, children := newBulk(t, db, 2)
		confirmBulk(t, db, p, "U2")
		for _, c := range children {
			finishChild(t, db, c.ID, leave.OutcomeLeft, t0.Add(2*time.Minute))
		}
		_, err := db.Requests().Prune(ctx, t0.Add(48*time.Hour), t0.Add(48*time.Hour))
		require.NoError(t, err)
		for _, id := range []string{p.ID, children[0].ID, children[1].ID} {
			n, err := db.Requests().AuditRows(ctx, id)
			require.NoError(t, err)
			require.Zero(t, n, "audit rows of %s", id)
		}
	})
}

// The card lists its groups by name whatever their case.
func TestBulk_ChildrenByNameWhateverTheCase(t *testing.T) {
	storetest.Each(t, func(t *testing.T, dsn string) {
		ctx := context.Background()
		db := mustOpen(t, dsn)
		p := &store.Request{ChannelID: "C1", RequesterID: "U1", CreatedAt: t0, ExpiresAt: t0.Add(time.Hour)}
		children := []*store.Request{
			{GroupJID: "120363406289005001@g.us", GroupSubject: "Bravo"},
			{GroupJID: "120363406289005002@g.us", GroupSubject: "alpha"},
			{GroupJID: "120363406289005003@g.us", GroupSubject: "Charlie"},
		}
		require.NoError(t, db.Requests().CreateBulk(ctx, p, children))
		kids, err := db.Requests().Children(ctx, p.ID)
		require.NoError(t, err)
		var names []string
		for _, k := range kids {
			names = append(names, k.GroupSubject)
		}
		require.Equal(t, []string{"alpha", "Bravo", "Charlie"}, names)
	})
}

// The pace of card updates counts from Slack's answer, rounded up: an
// answer within a millisecond does not bring the next update closer.
func TestBulk_CardPaceRoundsTheAnswerUp(t *testing.T) {
	storetest.Each(t, func(t *testing.T, dsn string) {
		ctx := context.Background()
		db := mustOpen(t, dsn)
		p, _ := newBulk(t, db, 1)
		ok, _, err := db.Outbox().BeginCardUpdate(ctx, p.ID, t0, time.Second)
		require.NoError(t, err)
		require.True(t, ok)
		require.NoError(t, db.Outbox().CardUpdated(ctx, p.ID, t0.Add(500*time.Millisecond+300*time.Microsecond)))
		ok, next, err := db.Outbox().BeginCardUpdate(ctx, p.ID, t0.Add(1500*time.Millisecond), time.Second)
		require.NoError(t, err)
		require.False(t, ok, "less than a second after the answer")
		require.Equal(t, t0.Add(1501*time.Millisecond), next)
	})
}

// A group that ended long ago is kept while its bulk request is younger
// than the retention: it goes with the request, never on its own.
func TestBulk_RetentionKeepsAnEarlyGroupWithItsRequest(t *testing.T) {
	storetest.Each(t, func(t *testing.T, dsn string) {
		ctx := context.Background()
		db := mustOpen(t, dsn)
		p, children := newBulk(t, db, 2)
		confirmBulk(t, db, p, "U2")
		finishChild(t, db, children[0].ID, leave.OutcomeLeft, t0.Add(2*time.Minute))
		finishChild(t, db, children[1].ID, leave.OutcomeLeft, t0.Add(3*time.Hour))
		n, err := db.Requests().Prune(ctx, t0.Add(time.Hour), t0.Add(time.Hour))
		require.NoError(t, err)
		require.Zero(t, n)
		kids, err := db.Requests().Children(ctx, p.ID)
		require.NoError(t, err)
		require.Len(t, kids, 2, "the early group is still on the card")
	})
}
