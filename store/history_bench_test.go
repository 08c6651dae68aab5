package store_test

import (
	"context"
	"os"
	"strconv"
	"testing"
	"time"

	"github.com/waleave/waleave/leave"
	"github.com/waleave/waleave/store"
	"github.com/waleave/waleave/store/storetest"
)

// benchHistory is the history BenchmarkHistory seeds:
// WALEAVE_BENCH_HISTORY requests, 100,000 unless set.
func benchHistory() int {
	if n, err := strconv.Atoi(os.Getenv("WALEAVE_BENCH_HISTORY")); err == nil && n >= 0 {
		return n
	}
	return 100_000
}

// BenchmarkHistory runs what a person waits for (a new request and a
// confirmation's writes, status, a group's history, the digest's
// queries, start-up) on an empty database and on one with a long history
// of ended requests (each with three audit rows), on SQLite and, with
// WALEAVE_TEST_POSTGRES, PostgreSQL. Compare empty with history within
// one run: the machine is shared, so only ratios mean anything.
func BenchmarkHistory(b *testing.B) {
	for _, d := range storetest.Benchmarked() {
		for _, size := range []int{0, benchHistory()} {
			b.Run(d.Name+"/history="+strconv.Itoa(size), func(b *testing.B) {
				ctx := context.Background()
				dsn := d.DSN(b)
				db, err := store.Open(ctx, dsn)
				if err != nil {
					b.Fatal(err)
				}
				now := time.Now()
				if err := db.Requests().SeedHistory(ctx, size, now); err != nil {
					b.Fatal(err)
				}
				newReq := func() *store.Request {
					return &store.Request{ChannelID: "C0BENCH", RequesterID: "U0BENCH1", GroupJID: "120363406289005073@g.us",
						CreatedAt: time.Now(), ExpiresAt: time.Now().Add(time.Hour)}
				}
				// A few requests waiting, as on a working day.
				for range 5 {
					if err := db.Requests().CreateRequest(ctx, newReq(), nil); err != nil {
						b.Fatal(err)
					}
				}
				b.Run("create", func(b *testing.B) {
					for b.Loop() {
						if err := db.Requests().CreateRequest(ctx, newReq(), nil); err != nil {
							b.Fatal(err)
						}
					}
				})
				b.Run("confirm", func(b *testing.B) {
					for b.Loop() {
						b.StopTimer()
						r := newReq()
						if err := db.Requests().CreateRequest(ctx, r, nil); err != nil {
							b.Fatal(err)
						}
						b.StartTimer()
						if _, err := confirm(ctx, db, r.ID, "U2", time.Now(), nil); err != nil {
							b.Fatal(err)
						}
					}
				})
				b.Run("status", func(b *testing.B) { // /wa-leave status: mine, and what waits
					for b.Loop() {
						if _, err := db.Requests().ListRequests(ctx, store.Filter{RequesterID: "U0BENCH1", Limit: 10}); err != nil {
							b.Fatal(err)
						}
						if _, err := db.Requests().ListRequests(ctx, store.Filter{States: []leave.State{leave.Pending}, Limit: 20}); err != nil {
							b.Fatal(err)
						}
					}
				})
				b.Run("history", func(b *testing.B) { // /wa-leave status <group>, then one request's audit
					for b.Loop() {
						rs, err := db.Requests().ListRequests(ctx, store.Filter{GroupJID: "120363406289005073@g.us", Limit: 10})
						if err != nil || len(rs) == 0 {
							b.Fatal(err)
						}
						if _, err := db.Requests().Audit(ctx, rs[len(rs)-1].ID); err != nil {
							b.Fatal(err)
						}
					}
				})
				b.Run("digest", func(b *testing.B) { // bot.Digest's three queries
					for b.Loop() {
						for _, f := range []store.Filter{
							{States: []leave.State{leave.Pending}},
							{States: []leave.State{leave.Failed}, FinishedSince: now.Add(-7 * 24 * time.Hour)},
							{States: []leave.State{leave.Confirmed}},
						} {
							if _, err := db.Requests().ListRequests(ctx, f); err != nil {
								b.Fatal(err)
							}
						}
					}
				})
				b.Run("recent", func(b *testing.B) { // a status by name looks in the last 500 requests
					for b.Loop() {
						if _, err := db.Requests().ListRequests(ctx, store.Filter{Limit: 500}); err != nil {
							b.Fatal(err)
						}
					}
				})
				b.Run("prune-idle", func(b *testing.B) { // a retention run with nothing to delete
					for b.Loop() {
						if _, err := db.Requests().Prune(ctx, now.Add(-3*365*24*time.Hour), now); err != nil {
							b.Fatal(err)
						}
					}
				})
				db.Close()
				b.Run("startup", func(b *testing.B) { // open and migrate
					for b.Loop() {
						db, err := store.Open(ctx, dsn)
						if err != nil {
							b.Fatal(err)
						}
						db.Close()
					}
				})
			})
		}
	}
}
