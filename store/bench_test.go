// Benchmarks of request persistence: serial (a commit each) and
// concurrent (group commit).
package store_test

import (
	"context"
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
			if err := db.CreateRequest(context.Background(), r, nil); err != nil {
				b.Fatal(err)
			}
		}
	})
}
func BenchmarkCreateSerial(b *testing.B) {
	db := mustOpen(b, storetest.SQLite(b))
	for b.Loop() {
		r := &store.Request{ChannelID: "C1", RequesterID: "U1", GroupJID: "1@g.us", CreatedAt: time.Now(), ExpiresAt: time.Now().Add(time.Hour)}
		if err := db.CreateRequest(context.Background(), r, nil); err != nil {
			b.Fatal(err)
		}
	}
}
