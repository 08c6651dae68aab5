package bot

import (
	"context"
	"io"
	"log/slog"
	"net/http"
	"os"
	"slices"
	"strconv"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/slack-go/slack"

	"github.com/waleave/waleave/fake"
	"github.com/waleave/waleave/store"
	"github.com/waleave/waleave/store/storetest"
)

// benchBotOn is benchBot on the database at dsn (newTestBot's bot, but
// on either dialect).
func benchBotOn(b *testing.B, dsn string) (*testBot, http.Handler) {
	ctx := context.Background()
	db, err := store.Open(ctx, dsn)
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { db.Close() })
	rec := fake.NewSlack(&testing.T{})
	api := slack.New("xoxb-test", slack.OptionAPIURL(rec.APIURL()))
	opts := Options{AllowedUsers: []string{"U0BENCH1"}, Now: time.Now}
	gw := &fake.Gateway{}
	bot, err := New(ctx, slog.New(slog.NewTextHandler(io.Discard, nil)), db, api, gw, nil, opts)
	if err != nil {
		b.Fatal(err)
	}
	bot.ctx, bot.cancel = context.WithCancel(ctx)
	b.Cleanup(func() { bot.cancel(); bot.background.Wait() })
	bot.home.Store(&workspace{team: "T1"})
	tb := &testBot{Bot: bot, db: db, slack: rec, gw: gw, clock: newClock(t0)}
	return tb, Routes(slog.New(slog.NewTextHandler(io.Discard, nil)), bot, benchSecret, false, db.Ping, prometheus.NewRegistry())
}

// timed runs b.N requests from 32 goroutines per core and reports req/s
// and the 99th percentile of one request's time (µs).
func timed(b *testing.B, req func(i int64) *http.Request, h http.Handler) {
	var (
		mu    sync.Mutex
		all   []time.Duration
		next  atomic.Int64
		start = time.Now()
	)
	b.SetParallelism(32)
	b.ResetTimer()
	b.RunParallel(func(pb *testing.PB) {
		var mine []time.Duration
		for pb.Next() {
			r := req(next.Add(1) - 1)
			t := time.Now()
			serve(b, h, r)
			mine = append(mine, time.Since(t))
		}
		mu.Lock()
		all = append(all, mine...)
		mu.Unlock()
	})
	elapsed := time.Since(start)
	b.StopTimer()
	slices.Sort(all)
	if len(all) > 0 {
		b.ReportMetric(float64(all[len(all)*99/100].Microseconds()), "p99-µs")
		b.ReportMetric(float64(len(all))/elapsed.Seconds(), "req/s")
	}
}

// BenchmarkAckHistory is BenchmarkCommandParallel's and
// BenchmarkClickParallel's waleave paths on an empty database and on one
// holding a history of ended requests (WALEAVE_BENCH_HISTORY, 100,000
// unless set; the requester and the group are among the history's), in
// one run, on SQLite and, with WALEAVE_TEST_POSTGRES, PostgreSQL: the
// ratio is what counts on a shared machine. Each reports req/s and p99.
func BenchmarkAckHistory(b *testing.B) {
	size := 100_000
	if n, err := strconv.Atoi(os.Getenv("WALEAVE_BENCH_HISTORY")); err == nil && n >= 0 {
		size = n
	}
	for _, d := range storetest.Benchmarked() {
		for _, n := range []int{0, size} {
			b.Run(d.Name+"/history="+strconv.Itoa(n), func(b *testing.B) {
				tb, h := benchBotOn(b, d.DSN(b))
				ctx := context.Background()
				if n > 0 { // (a recursive CTE yields one row even for none)
					if err := storetest.SeedHistory(ctx, tb.db.Jobs().JobPool(), tb.db.Dialect() == store.PostgreSQL, n, time.Now()); err != nil {
						b.Fatal(err)
					}
					// The seed's pages go into the database now, not in a
					// checkpoint during the first requests measured.
					if tb.db.Dialect() != store.PostgreSQL {
						if _, err := tb.db.Jobs().JobPool().ExecContext(ctx, `PRAGMA wal_checkpoint(TRUNCATE)`); err != nil {
							b.Fatal(err)
						}
					}
				}
				b.Run("command", func(b *testing.B) {
					timed(b, func(int64) *http.Request { return signedRequest("/slack/commands", commandForm("U0BENCH1")) }, h)
				})
				b.Run("click", func(b *testing.B) {
					ids := seedPending(b, tb, b.N)
					timed(b, func(i int64) *http.Request { return signedRequest("/slack/interactions", clickForm(ids[i])) }, h)
				})
			})
		}
	}
}
