package store_test

import (
	"context"
	"database/sql"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/waleave/waleave/store"
	"github.com/waleave/waleave/store/storetest"
)

// TestScan_RecordsEachCheckOnce checks a scan's life in the store on each
// database: its groups in order, each result recorded once (a check
// repeated after a crash does not overwrite it), the tries, the message,
// and an end that happens once.
func TestScan_RecordsEachCheckOnce(t *testing.T) {
	storetest.Each(t, func(t *testing.T, dsn string) {
		ctx := context.Background()
		full := mustOpen(t, dsn)
		db := full.Scans()
		sc := &store.Scan{ChannelID: "C1", RequesterID: "U1", Idle: 180 * 24 * time.Hour, Cutoff: t0.Add(-180 * 24 * time.Hour),
			Filter: "acme", Command: "bulk --stale 180d acme", UserName: "ann", CreatedAt: t0}
		enqueued := false
		require.NoError(t, db.CreateScan(ctx, sc, []store.ScanGroup{{JID: "2@g.us", Subject: "B"}, {JID: "1@g.us", Subject: "A"}}, func(context.Context, *sql.Tx) error {
			enqueued = true
			return nil
		}))
		require.True(t, enqueued)
		got, err := db.Scan(ctx, sc.ID)
		require.NoError(t, err)
		assert.Equal(t, store.ScanScanning, got.State)
		assert.Equal(t, 180*24*time.Hour, got.Idle)
		assert.True(t, got.Cutoff.Equal(sc.Cutoff))
		assert.Equal(t, -1, got.ShownChecked)
		assert.Equal(t, "acme", got.Filter)
		assert.Equal(t, "bulk --stale 180d acme", got.Command)
		assert.Equal(t, "ann", got.UserName)

		last := t0.Add(-200 * 24 * time.Hour)
		require.NoError(t, db.RecordScanResult(ctx, sc.ID, 0, store.ScanStale, last, "", t0))
		require.NoError(t, db.RecordScanResult(ctx, sc.ID, 0, store.ScanRecent, t0, "", t0), "a second answer is ignored")
		tries, err := db.ScanTried(ctx, sc.ID, 1)
		require.NoError(t, err)
		assert.Equal(t, 1, tries)
		tries, err = db.ScanTried(ctx, sc.ID, 1)
		require.NoError(t, err)
		assert.Equal(t, 2, tries)
		groups, err := db.ScanGroups(ctx, sc.ID)
		require.NoError(t, err)
		require.Len(t, groups, 2)
		assert.Equal(t, "2@g.us", groups[0].JID)
		assert.Equal(t, store.ScanStale, groups[0].Result)
		assert.True(t, groups[0].LastActivity.Equal(last))
		assert.Equal(t, store.ScanUnchecked, groups[1].Result)
		assert.Equal(t, 2, groups[1].Tries)

		require.NoError(t, db.ScanPostUnderWay(ctx, sc.ID, t0))
		require.NoError(t, db.ScanPosted(ctx, sc.ID, "1.000001"))
		require.NoError(t, db.ScanPosted(ctx, sc.ID, "2.000002"), "the first post stands")
		require.NoError(t, db.ScanShown(ctx, sc.ID, 1, t0))
		got, err = db.Scan(ctx, sc.ID)
		require.NoError(t, err)
		assert.Equal(t, "1.000001", got.MessageTS)
		assert.True(t, got.PostingAt.IsZero())
		assert.Equal(t, 1, got.ShownChecked)

		ended, err := db.EndScan(ctx, sc.ID, store.ScanDone, "", "", t0)
		require.NoError(t, err)
		assert.True(t, ended)
		ended, err = db.EndScan(ctx, sc.ID, store.ScanFailed, "", "late", t0)
		require.NoError(t, err)
		assert.False(t, ended, "a scan ends once")
		_, err = db.Scan(ctx, "nope")
		assert.ErrorIs(t, err, store.ErrScanNotFound)

		// Retention removes ended scans with their groups, not running ones.
		running := &store.Scan{ChannelID: "C1", RequesterID: "U1", Idle: time.Hour, CreatedAt: t0}
		require.NoError(t, db.CreateScan(ctx, running, []store.ScanGroup{{JID: "3@g.us"}}, nil))
		_, err = full.Requests().Prune(ctx, t0.Add(time.Hour), t0.Add(time.Hour))
		require.NoError(t, err)
		_, err = db.Scan(ctx, sc.ID)
		assert.ErrorIs(t, err, store.ErrScanNotFound)
		groups, err = db.ScanGroups(ctx, sc.ID)
		require.NoError(t, err)
		assert.Empty(t, groups)
		_, err = db.Scan(ctx, running.ID)
		assert.NoError(t, err)
	})
}
