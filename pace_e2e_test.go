package main

import (
	"context"
	"fmt"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/waleave/waleave/fake"
	"github.com/waleave/waleave/store"
	"github.com/waleave/waleave/store/storetest"
	"github.com/waleave/waleave/whatsapp"
)

// The gateway clients against a gateway that enforces the provider's
// documented rate exactly (fake.Provider.EnforceRates): many callers at
// once, in one process or in two replicas sharing the database's bucket,
// get no 429, and the calls reach the gateway at 95 % of the rate or
// more, as the gateway's own arrival stamps show (the old margin, 0.9,
// fails that; a bucket that lets the full rate or a burst of two through
// gets 429s). RyzeAPI's window is a
// minute, too long for a test: its rate is checked by
// TestLimiterConfiguration and measured by BenchmarkBulkPace.

func TestPace_NoTooManyRequestsAtTheDocumentedRate(t *testing.T) {
	t.Parallel()
	cases := []struct {
		provider string
		op       string  // the call made, as the fake names it
		rate     float64 // its documented (or stand-in) rate a second
		calls    int
	}{
		{"greenapi", "leaveGroup", 10, 41},
		{"wawp", "groups/leave", fake.WawpRate, 21},
	}
	for _, tc := range cases {
		for _, shared := range []string{"", "sqlite", "postgres"} {
			name := tc.provider + "/in-process"
			if shared != "" {
				name = tc.provider + "/shared-" + shared
			}
			t.Run(name, func(t *testing.T) {
				t.Parallel()
				gw := fake.NewProvider(t, tc.provider)
				gw.EnforceRates()
				clients := paceClients(t, gw, shared)
				var wg sync.WaitGroup
				for i := range tc.calls {
					wg.Go(func() {
						ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
						defer cancel()
						jid := fmt.Sprintf("1203634062890%05d@g.us", i)
						_, err := clients[i%len(clients)].Leave(ctx, jid)
						require.NoError(t, err)
					})
				}
				wg.Wait()
				require.Zero(t, gw.Limited(), "calls answered 429")
				var at []time.Time
				for _, c := range gw.Calls("leave") {
					require.Equal(t, tc.op, c.Op)
					at = append(at, c.At)
				}
				require.Len(t, at, tc.calls)
				slices.SortFunc(at, time.Time.Compare)
				// The typical gap between arrivals, not the run's average:
				// a call that woke too late for its slot leaves the slot
				// unused (that is the point), which the average of a
				// short run on a busy machine would count against the
				// pace. BenchmarkBulkPace measures the average.
				gaps := make([]time.Duration, 0, len(at)-1)
				for i := 1; i < len(at); i++ {
					gaps = append(gaps, at[i].Sub(at[i-1]))
				}
				slices.Sort(gaps)
				perSecond := 1 / gaps[len(gaps)/2].Seconds()
				t.Logf("%d calls, median gap %s: %.3f/s, %.1f %% of %g/s; average %.3f/s", len(at), gaps[len(gaps)/2], perSecond, 100*perSecond/tc.rate, tc.rate,
					float64(len(at)-1)/at[len(at)-1].Sub(at[0]).Seconds())
				require.GreaterOrEqual(t, perSecond, 0.95*tc.rate, "calls a second")
			})
		}
	}
}

// paceClients is one client for gw, or, with shared naming a database,
// two that take their slots from one bucket in it, as two replicas do
// (on SQLite, two clients on one handle: a SQLite database has one
// process).
func paceClients(t *testing.T, gw *fake.Provider, shared string) []whatsapp.Gateway {
	t.Helper()
	cfg := whatsapp.Config{BaseURL: gw.URL, Instance: "1101000001", Token: testWAToken}
	var dbs []*store.DB
	switch shared {
	case "":
		c, err := whatsapp.New(gw.Name(), cfg, nil)
		require.NoError(t, err)
		return []whatsapp.Gateway{c}
	case "sqlite":
		db, err := store.Open(context.Background(), storetest.SQLite(t))
		require.NoError(t, err)
		t.Cleanup(func() { db.Close() })
		dbs = []*store.DB{db, db}
	default:
		dsn := storetest.Postgres(t)
		for range 2 {
			db, err := store.Open(context.Background(), dsn)
			require.NoError(t, err)
			t.Cleanup(func() { db.Close() })
			dbs = append(dbs, db)
		}
	}
	var out []whatsapp.Gateway
	for _, db := range dbs {
		cfg.Limiter = db.Jobs()
		c, err := whatsapp.New(gw.Name(), cfg, nil)
		require.NoError(t, err)
		out = append(out, c)
	}
	return out
}
