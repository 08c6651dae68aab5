package store_test

import (
	"context"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/waleave/waleave/store"
	"github.com/waleave/waleave/store/storetest"
)

func TestReplaceDirectory_ReplacesAndRecordsTheTime(t *testing.T) {
	storetest.Each(t, func(t *testing.T, dsn string) {
		ctx := context.Background()
		db := mustOpen(t, dsn)
		at, err := db.Directory().DirectoryRefreshed(ctx)
		require.NoError(t, err)
		require.True(t, at.IsZero(), "never listed")

		require.NoError(t, db.Directory().ReplaceDirectory(ctx, []store.DirectoryEntry{
			{JID: "1@g.us", Subject: "b"}, {JID: "2@g.us", Subject: "A"}, {JID: "2@g.us", Subject: "A"},
		}, t0))
		got, err := db.Directory().Directory(ctx)
		require.NoError(t, err)
		require.Equal(t, []store.DirectoryEntry{{Number: "default", JID: "2@g.us", Subject: "A", LastSeen: t0}, {Number: "default", JID: "1@g.us", Subject: "b", LastSeen: t0}}, got)

		require.NoError(t, db.Directory().ReplaceDirectory(ctx, []store.DirectoryEntry{{JID: "1@g.us", Subject: "b2"}}, t0))
		got, err = db.Directory().Directory(ctx)
		require.NoError(t, err)
		require.Equal(t, []store.DirectoryEntry{{Number: "default", JID: "1@g.us", Subject: "b2", LastSeen: t0}}, got, "groups no longer listed drop out")
		at, err = db.Directory().DirectoryRefreshed(ctx)
		require.NoError(t, err)
		require.True(t, at.Equal(t0))

		e, ok, err := db.Directory().DirectoryGroup(ctx, "1@g.us")
		require.NoError(t, err)
		require.True(t, ok)
		require.Equal(t, "b2", e.Subject)
		require.NoError(t, db.Directory().RemoveFromDirectory(ctx, "1@g.us"))
		_, ok, err = db.Directory().DirectoryGroup(ctx, "1@g.us")
		require.NoError(t, err)
		require.False(t, ok)
	})
}

func TestTakePick_OnceForOfferedGroupsWhileFresh(t *testing.T) {
	storetest.Each(t, func(t *testing.T, dsn string) {
		ctx := context.Background()
		db := mustOpen(t, dsn)
		p := store.Pick{UserID: "U1", ChannelID: "C1", Command: `{"goodbye":"bye"}`, Candidates: []string{"1@g.us", "2@g.us"}, CreatedAt: t0}
		require.NoError(t, db.Requests().SavePick(ctx, p))

		_, err := db.Requests().TakePick(ctx, "U1", "C1", "3@g.us", t0)
		require.ErrorIs(t, err, store.ErrNotFound, "not offered")
		_, err = db.Requests().TakePick(ctx, "U2", "C1", "1@g.us", t0)
		require.ErrorIs(t, err, store.ErrNotFound, "someone else's")

		got, err := db.Requests().TakePick(ctx, "U1", "C1", "2@g.us", t0)
		require.NoError(t, err)
		require.Equal(t, p.Command, got.Command)
		require.Equal(t, p.Candidates, got.Candidates)
		_, err = db.Requests().TakePick(ctx, "U1", "C1", "2@g.us", t0)
		require.ErrorIs(t, err, store.ErrNotFound, "taken once")

		require.NoError(t, db.Requests().SavePick(ctx, p))
		_, err = db.Requests().TakePick(ctx, "U1", "C1", "1@g.us", t0.Add(time.Second))
		require.ErrorIs(t, err, store.ErrNotFound, "too old")
	})
}

func TestSetDetails_OnlyWhilePendingAndNotYetKnown(t *testing.T) {
	storetest.Each(t, func(t *testing.T, dsn string) {
		ctx := context.Background()
		db := mustOpen(t, dsn)
		r := newRequest(t, db)
		ok, err := db.Requests().SetDetails(ctx, r.ID, store.Details{State: store.DetailsUnavailable}, t0)
		require.NoError(t, err)
		require.True(t, ok)
		ok, err = db.Requests().SetDetails(ctx, r.ID, store.Details{State: store.DetailsOK, Subject: "Ops", Size: 3, IsAdmin: true, OnlyAdmin: true, Successors: []string{"7@c.us"}}, t0)
		require.NoError(t, err)
		require.True(t, ok, "a late answer replaces unavailable")
		got, err := db.Requests().Request(ctx, r.ID)
		require.NoError(t, err)
		require.Equal(t, "Ops", got.GroupSubject)
		require.Equal(t, []string{"7@c.us"}, got.Successors)
		require.True(t, got.OnlyAdmin)
		require.Equal(t, 3, got.CardVersion, "each change is owed to the card")

		ok, err = db.Requests().SetDetails(ctx, r.ID, store.Details{State: store.DetailsPartial}, t0)
		require.NoError(t, err)
		require.False(t, ok, "known details are not overwritten")

		_, err = db.Requests().SetSuccessor(ctx, r.ID, "8@c.us", "U1", t0)
		require.ErrorIs(t, err, store.ErrNotOffered)
		got, err = db.Requests().SetSuccessor(ctx, r.ID, "7@c.us", "U1", t0)
		require.NoError(t, err)
		require.Equal(t, "7@c.us", got.Successor)
		require.NoError(t, db.Requests().SetPromoted(ctx, r.ID, "7@c.us", "", 200, t0))
		require.NoError(t, db.Requests().SetInviteLink(ctx, r.ID, "https://chat.whatsapp.com/X", t0))
		got, err = db.Requests().Request(ctx, r.ID)
		require.NoError(t, err)
		require.False(t, got.PromotedAt.IsZero())
		require.Equal(t, "https://chat.whatsapp.com/X", got.InviteLink)
	})
}
