// Benchmarks of request persistence: serial (a commit each) and
// concurrent (group commit).
package store_test

import (
	"context"
	"database/sql"
	"testing"
	"time"

	"github.com/waleave/waleave/store"
	"github.com/waleave/waleave/store/storetest"
)

func BenchmarkCreateParallel(b *testing.B) {
	db := mustOpen(b, storetest.SQLite(b))
	b.SetParallelism(32)
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			r := &store.Request{ChannelID: "C1", RequesterID: "U1", GroupJID: "1@g.us", CreatedAt: time.Now(), ExpiresAt: time.Now().Add(time.Hour)}
			if err := db.Requests().CreateRequest(context.Background(), r, nil); err != nil {
				b.Fatal(err)
			}
		}
	})
}
func BenchmarkCreateSerial(b *testing.B) {
	db := mustOpen(b, storetest.SQLite(b))
	for b.Loop() {
		r := &store.Request{ChannelID: "C1", RequesterID: "U1", GroupJID: "1@g.us", CreatedAt: time.Now(), ExpiresAt: time.Now().Add(time.Hour)}
		if err := db.Requests().CreateRequest(context.Background(), r, nil); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkConfirmParallel is a click's write alone: concurrent
// confirmations of distinct pending requests through a Confirmer, with
// no job to enqueue, so the store's share of a click (allocations, CPU in
// a profile) is visible. Its ns/op is a latency, not the writer's
// capacity: callers woken by a commit wait to be scheduled, so only a
// few of the 64 are queued at the writer at once.
func BenchmarkConfirmParallel(b *testing.B) {
	db := mustOpen(b, storetest.SQLite(b))
	ctx := context.Background()
	now := time.Now()
	ids := make(chan string, b.N)
	for range b.N {
		r := &store.Request{ChannelID: "C1", RequesterID: "U1", GroupJID: "1@g.us", CreatedAt: now, ExpiresAt: now.Add(time.Hour)}
		if err := db.Requests().CreateRequest(ctx, r, nil); err != nil {
			b.Fatal(err)
		}
		if err := db.Outbox().CardPosted(ctx, r.ID, "1700000000.000100", r.CardVersion); err != nil {
			b.Fatal(err)
		}
		ids <- r.ID
	}
	close(ids)
	c := db.Requests().NewConfirmer(func(context.Context, *sql.Tx, []store.Confirmation) error { return nil })
	b.ReportAllocs()
	b.SetParallelism(32)
	b.ResetTimer()
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			if _, err := c.Confirm(ctx, <-ids, "U2", store.Card{ChannelID: "C1", TS: "1700000000.000100", Version: 1}, now); err != nil {
				b.Fatal(err)
			}
		}
	})
}
