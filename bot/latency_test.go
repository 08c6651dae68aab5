package bot

import (
	"context"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/waleave/waleave/fake"
	"github.com/waleave/waleave/store"
	"github.com/waleave/waleave/whatsapp"
)

// timingGateway records when each leave call arrives.
type timingGateway struct {
	fake.Gateway
	mu  sync.Mutex
	at  map[string]time.Time
	hit chan struct{}
}

func (g *timingGateway) Leave(ctx context.Context, jid string) (whatsapp.LeaveResult, error) {
	g.mu.Lock()
	g.at[jid] = time.Now()
	g.mu.Unlock()
	g.hit <- struct{}{}
	return whatsapp.LeaveResult{}, nil
}

// BenchmarkClickToLeave measures how long a confirmed request waits before
// the gateway's leave call, over 200 sequential clicks on SQLite with the
// real River client: River finds new jobs by polling there, so this is
// the poll interval's cost. It reports p50 and p99 in milliseconds.
func BenchmarkClickToLeave(b *testing.B) {
	tb := newTestBot(&testing.T{}, Options{AllowedUsers: []string{"U0BENCH1"}})
	defer tb.db.Close()
	gw := &timingGateway{at: map[string]time.Time{}, hit: make(chan struct{}, 1)}
	tb.numbers[0].Gateway = gw
	tb.opts.Now = time.Now
	ctx := context.Background()
	if err := tb.Start(ctx); err != nil {
		b.Fatal(err)
	}
	defer func() {
		sctx, cancel := context.WithTimeout(ctx, 10*time.Second)
		defer cancel()
		_ = tb.Stop(sctx)
	}()
	var lat []time.Duration
	b.ResetTimer()
	for i := 0; b.Loop(); i++ {
		for range 200 {
			jid := "1203634062890" + time.Now().Format("150405.000000")[7:] + "@g.us"
			r := &store.Request{ChannelID: "C0BENCH", RequesterID: "U0BENCH1", GroupJID: jid, CreatedAt: time.Now(), ExpiresAt: time.Now().Add(time.Hour)}
			if err := tb.db.Requests().CreateRequest(ctx, r, nil); err != nil {
				b.Fatal(err)
			}
			start := time.Now()
			tb.Interaction(ctx, click("U0BENCH1", "C0BENCH", "leave_confirm", r.ID))
			select {
			case <-gw.hit:
			case <-time.After(10 * time.Second):
				b.Fatal("leave not called within 10s")
			}
			gw.mu.Lock()
			lat = append(lat, gw.at[jid].Sub(start))
			gw.mu.Unlock()
		}
	}
	slices.Sort(lat)
	b.ReportMetric(float64(lat[len(lat)/2].Microseconds())/1000, "p50-ms")
	b.ReportMetric(float64(lat[len(lat)*99/100].Microseconds())/1000, "p99-ms")
}
