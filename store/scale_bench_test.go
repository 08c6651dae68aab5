package store_test

import (
	"context"
	"fmt"
	"strconv"
	"testing"
	"time"

	"github.com/waleave/waleave/leave"
	"github.com/waleave/waleave/store"
	"github.com/waleave/waleave/store/storetest"
)

// scaleNumbers are the numbers BenchmarkDirectoryScale's directory is
// spread over.
var scaleNumbers = []string{"default", "sales", "support", "ops"}

// seedScaleDirectory gives the numbers 10,000 distinct groups: group i
// belongs to number i%4, and the first 1,000 to the next number too (a
// group two numbers are in), 11,000 rows in all.
func seedScaleDirectory(b *testing.B, ctx context.Context, db *store.DB) {
	b.Helper()
	per := make([][]store.DirectoryEntry, len(scaleNumbers))
	for i := range 10_000 {
		e := store.DirectoryEntry{JID: fmt.Sprintf("%d@g.us", 120363406289000000+i), Subject: fmt.Sprintf("Group %05d", i)}
		k := i % len(scaleNumbers)
		per[k] = append(per[k], e)
		if i < 1000 {
			per[(k+1)%len(scaleNumbers)] = append(per[(k+1)%len(scaleNumbers)], e)
		}
	}
	for k, n := range scaleNumbers {
		if err := db.Directory().ReplaceNumberDirectory(ctx, n, per[k], time.Now()); err != nil {
			b.Fatal(err)
		}
	}
}

// dbBytes is the database's size: SQLite's pages (the WAL checkpointed
// first), PostgreSQL's pg_database_size.
func dbBytes(b *testing.B, ctx context.Context, db *store.DB) int64 {
	b.Helper()
	q := `SELECT pg_database_size(current_database())`
	if db.Dialect() != store.PostgreSQL {
		if _, err := db.Jobs().JobPool().ExecContext(ctx, `PRAGMA wal_checkpoint(TRUNCATE)`); err != nil {
			b.Fatal(err)
		}
		q = `SELECT page_count * page_size FROM pragma_page_count(), pragma_page_size()`
	}
	var n int64
	if err := db.Jobs().JobPool().QueryRowContext(ctx, q).Scan(&n); err != nil {
		b.Fatal(err)
	}
	return n
}

// BenchmarkDirectoryScale runs the reads that grow with a workspace's
// size — the Home tab's four queries, the group picker's directory read,
// `groups <filter>`'s reads for each number — with a directory of 10,000
// groups across four numbers, on an empty history and on
// WALEAVE_BENCH_HISTORY ended requests (100 channels), in one run, and
// reports the database's size ("bytes"; per request is the difference
// over the history). WALEAVE_TEST_POSTGRES adds PostgreSQL.
func BenchmarkDirectoryScale(b *testing.B) {
	for _, d := range storetest.Benchmarked() {
		for _, size := range []int{0, benchHistory()} {
			b.Run(d.Name+"/history="+strconv.Itoa(size), func(b *testing.B) {
				ctx := context.Background()
				db, err := store.Open(ctx, d.DSN(b))
				if err != nil {
					b.Fatal(err)
				}
				defer db.Close()
				empty := dbBytes(b, ctx, db)
				if size > 0 { // (a recursive CTE yields one row even for none)
					if err := db.Requests().SeedHistory(ctx, size, time.Now()); err != nil {
						b.Fatal(err)
					}
				}
				seedScaleDirectory(b, ctx, db)
				b.Run("size", func(b *testing.B) {
					var n int64
					for b.Loop() {
						n = dbBytes(b, ctx, db)
					}
					b.ReportMetric(float64(n), "bytes")
					if size > 0 {
						b.ReportMetric(float64(n-empty)/float64(size), "bytes/request")
					}
				})
				b.Run("home", func(b *testing.B) { // bot/home.go's four lists
					for b.Loop() {
						for _, f := range []store.Filter{
							{RequesterID: "U0BENCH1", Limit: 5},
							{States: []leave.State{leave.Pending}, Limit: 50},
							{States: []leave.State{leave.Confirmed}, Limit: 20},
							{States: []leave.State{leave.Done, leave.Failed}, Limit: 5},
						} {
							if _, err := db.Requests().ListRequests(ctx, f); err != nil {
								b.Fatal(err)
							}
						}
					}
				})
				b.Run("options", func(b *testing.B) { // the group picker reads every number's directory
					for b.Loop() {
						es, err := db.Directory().NumbersDirectory(ctx)
						if err != nil || len(es) != 11_000 {
							b.Fatal(len(es), err)
						}
					}
				})
				b.Run("groups", func(b *testing.B) { // `groups <filter>` with several numbers
					for b.Loop() {
						for _, n := range scaleNumbers {
							if _, err := db.Directory().NumberDirectoryRefreshed(ctx, n); err != nil {
								b.Fatal(err)
							}
							if _, err := db.Directory().NumbersDirectory(ctx, n); err != nil {
								b.Fatal(err)
							}
						}
					}
				})
			})
		}
	}
}
