package bot

import (
	"context"
	"encoding/json"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/waleave/waleave/store"
)

const benchSecret = "bench-secret"

// signedRequest builds a signed Slack request for path with the form body.
func signedRequest(path string, form url.Values) *http.Request {
	body := form.Encode()
	now := time.Now()
	req := httptest.NewRequest(http.MethodPost, path, strings.NewReader(body))
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	req.Header.Set("X-Slack-Request-Timestamp", strconv.FormatInt(now.Unix(), 10))
	req.Header.Set("X-Slack-Signature", Sign(benchSecret, now, []byte(body)))
	return req
}

// triggers numbers the commands commandForm makes: each real command has
// its own trigger_id, so no two are the same signed request (the second
// would be ignored as a replay).
var triggers atomic.Int64

func commandForm(user string) url.Values {
	return url.Values{"command": {"/wa-leave"}, "text": {"120363406289005073@g.us bye"}, "user_id": {user},
		"channel_id": {"C0BENCH"}, "team_id": {"T1"}, "response_url": {"https://hooks.slack.invalid/x"},
		"trigger_id": {"1.2." + strconv.FormatInt(triggers.Add(1), 10)}}
}

// floorHandler is the bare minimum a Slack endpoint does: verify and
// answer a fixed ephemeral message. The benchmarks below report the
// product's paths beside it, so the ratio is visible in one run.
func floorHandler() http.Handler {
	return VerifySlack(discardLog, benchSecret, time.Now)(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		_, _ = io.Copy(io.Discard, r.Body)
		w.Header().Set("Content-Type", "application/json")
		_, _ = w.Write([]byte(`{"response_type":"ephemeral","text":"ok"}`))
	}))
}

// benchBot is the bot the benchmarks drive. Its request limits are off
// (UserRate and MaxPending zero, as WALEAVE_USER_RATE=0 and
// WALEAVE_MAX_PENDING=0 in bench.env.example), so every command takes
// the whole path instead of a refusal.
func benchBot(b *testing.B) (*testBot, http.Handler) {
	tb := newTestBot(&testing.T{}, Options{AllowedUsers: []string{"U0BENCH1"}})
	b.Cleanup(func() { tb.db.Close() })
	tb.opts.Now = time.Now
	h := Routes(slog.New(slog.NewTextHandler(io.Discard, nil)), tb.Bot, benchSecret, false, tb.db.Ping, prometheus.NewRegistry())
	return tb, h
}

func serve(b *testing.B, h http.Handler, req *http.Request) {
	w := httptest.NewRecorder()
	h.ServeHTTP(w, req)
	if w.Code != 200 {
		b.Fatalf("status %d: %s", w.Code, w.Body.String())
	}
}

// BenchmarkCommand compares the whole command path (verify, parse,
// authorize, persist the request, answer) with the floor.
func BenchmarkCommand(b *testing.B) {
	b.Run("floor", func(b *testing.B) {
		h := floorHandler()
		b.ReportAllocs()
		for b.Loop() {
			serve(b, h, signedRequest("/slack/commands", commandForm("U0BENCH1")))
		}
	})
	b.Run("waleave", func(b *testing.B) {
		tb, h := benchBot(b)
		b.ReportAllocs()
		for b.Loop() {
			serve(b, h, signedRequest("/slack/commands", commandForm("U0BENCH1")))
		}
		b.StopTimer()
		n, err := tb.db.Requests().ListRequests(context.Background(), store.Filter{Limit: 1})
		if err != nil || len(n) == 0 {
			b.Fatal("no request was persisted")
		}
	})
}

// BenchmarkClick compares the confirm path (verify, decode, authorize,
// change state and insert the River job in one transaction) with the
// floor, each click on a distinct pending request.
func BenchmarkClick(b *testing.B) {
	b.Run("floor", func(b *testing.B) {
		h := floorHandler()
		b.ReportAllocs()
		for b.Loop() {
			serve(b, h, signedRequest("/slack/interactions", clickForm("R1")))
		}
	})
	b.Run("waleave", func(b *testing.B) {
		tb, h := benchBot(b)
		ctx := context.Background()
		ids := make([]string, 0, 4096)
		b.ReportAllocs()
		for b.Loop() {
			b.StopTimer()
			if len(ids) == 0 {
				for range 1000 {
					r := &store.Request{ChannelID: "C0BENCH", RequesterID: "U0BENCH1", GroupJID: "120363406289005073@g.us", CreatedAt: time.Now(), ExpiresAt: time.Now().Add(time.Hour)}
					if err := tb.db.Requests().CreateRequest(ctx, r, nil); err != nil {
						b.Fatal(err)
					}
					ids = append(ids, r.ID)
				}
			}
			id := ids[len(ids)-1]
			ids = ids[:len(ids)-1]
			req := signedRequest("/slack/interactions", clickForm(id))
			b.StartTimer()
			serve(b, h, req)
		}
	})
}

// BenchmarkCommandParallel is the command path under concurrency, where
// requests share commits.
func BenchmarkCommandParallel(b *testing.B) {
	b.Run("floor", func(b *testing.B) {
		h := floorHandler()
		b.ReportAllocs()
		b.RunParallel(func(pb *testing.PB) {
			for pb.Next() {
				serve(b, h, signedRequest("/slack/commands", commandForm("U0BENCH1")))
			}
		})
	})
	b.Run("waleave", func(b *testing.B) {
		_, h := benchBot(b)
		b.ReportAllocs()
		b.SetParallelism(32)
		b.RunParallel(func(pb *testing.PB) {
			for pb.Next() {
				serve(b, h, signedRequest("/slack/commands", commandForm("U0BENCH1")))
			}
		})
	})
}

// BenchmarkClickParallel is the confirm path under concurrency, each click
// on a distinct pending request, beside the floor.
func BenchmarkClickParallel(b *testing.B) {
	b.Run("floor", func(b *testing.B) {
		h := floorHandler()
		b.ReportAllocs()
		b.RunParallel(func(pb *testing.PB) {
			for pb.Next() {
				serve(b, h, signedRequest("/slack/interactions", clickForm("R1")))
			}
		})
	})
	b.Run("waleave", func(b *testing.B) {
		tb, h := benchBot(b)
		ids := seedPending(b, tb, b.N)
		var next atomic.Int64
		b.ReportAllocs()
		b.SetParallelism(32)
		b.ResetTimer()
		b.RunParallel(func(pb *testing.PB) {
			for pb.Next() {
				serve(b, h, signedRequest("/slack/interactions", clickForm(ids[next.Add(1)-1])))
			}
		})
		b.StopTimer()
		var jobs int
		err := tb.db.Jobs().JobPool().QueryRow(`SELECT count(*) FROM river_job`).Scan(&jobs)
		if err != nil || jobs != b.N {
			b.Fatalf("%d clicks made %d jobs (%v)", b.N, jobs, err)
		}
	})
}

// clickForm is a leave_confirm click on request id, as Slack sends it.
func clickForm(id string) url.Values {
	p, _ := json.Marshal(map[string]any{
		"type": "block_actions", "team": map[string]any{"id": "T1"}, "user": map[string]any{"id": "U0BENCH1"},
		"container": map[string]any{"type": "message", "message_ts": "1.2", "channel_id": "C0BENCH"},
		"channel":   map[string]any{"id": "C0BENCH"},
		// The card as first drawn; its ts is not recorded (nothing posts
		// cards here), which a click from the request's channel passes.
		"actions": []map[string]any{{"type": "button", "block_id": "leave_actions.pending.v1", "action_id": "leave_confirm", "value": id}},
	})
	return url.Values{"payload": {string(p)}}
}

// seedPending records n pending requests, concurrently so they share
// commits, and returns their IDs.
func seedPending(b *testing.B, tb *testBot, n int) []string {
	ids := make([]string, n)
	var wg sync.WaitGroup
	errs := make(chan error, 1)
	sem := make(chan struct{}, 64)
	for i := range n {
		wg.Add(1)
		sem <- struct{}{}
		go func() {
			defer func() { <-sem; wg.Done() }()
			r := &store.Request{ChannelID: "C0BENCH", RequesterID: "U0BENCH1", GroupJID: "120363406289005073@g.us", CreatedAt: time.Now(), ExpiresAt: time.Now().Add(time.Hour)}
			if err := tb.db.Requests().CreateRequest(context.Background(), r, nil); err != nil {
				select {
				case errs <- err:
				default:
				}
			}
			ids[i] = r.ID
		}()
	}
	wg.Wait()
	select {
	case err := <-errs:
		b.Fatal(err)
	default:
	}
	return ids
}
