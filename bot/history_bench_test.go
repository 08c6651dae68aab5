package bot

import (
	"context"
	"os"
	"strconv"
	"sync/atomic"
	"testing"
	"time"

	"github.com/waleave/waleave/store"
	"github.com/waleave/waleave/store/storetest"
)

// BenchmarkAckHistory is BenchmarkCommandParallel's and
// BenchmarkClickParallel's waleave paths on an empty SQLite database and
// on one holding a history of ended requests (WALEAVE_BENCH_HISTORY,
// 100,000 unless set; the requester and the group are among the
// history's), in one run: the ratio is what counts on a shared machine.
func BenchmarkAckHistory(b *testing.B) {
	size := 100_000
	if n, err := strconv.Atoi(os.Getenv("WALEAVE_BENCH_HISTORY")); err == nil && n >= 0 {
		size = n
	}
	for _, n := range []int{0, size} {
		b.Run("history="+strconv.Itoa(n), func(b *testing.B) {
			tb, h := benchBot(b)
			ctx := context.Background()
			if err := storetest.SeedHistory(ctx, tb.db.JobPool(), tb.db.Dialect() == store.PostgreSQL, n, time.Now()); err != nil {
				b.Fatal(err)
			}
			b.Run("command", func(b *testing.B) {
				b.SetParallelism(32)
				b.RunParallel(func(pb *testing.PB) {
					for pb.Next() {
						serve(b, h, signedRequest("/slack/commands", commandForm("U0BENCH1")))
					}
				})
			})
			b.Run("click", func(b *testing.B) {
				ids := seedPending(b, tb, b.N)
				var next atomic.Int64
				b.SetParallelism(32)
				b.ResetTimer()
				b.RunParallel(func(pb *testing.PB) {
					for pb.Next() {
						serve(b, h, signedRequest("/slack/interactions", clickForm(ids[next.Add(1)-1])))
					}
				})
			})
		})
	}
}
