package bot

import (
	"context"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/stretchr/testify/require"
)

// TestBurst_EveryCardPostedOnceAtSlacksPace fires a burst of commands in
// one channel at a Slack fake that enforces a per-channel rate (20/s here,
// Slack's 1/s scaled down): every command is acknowledged within a second,
// and every card arrives exactly once.
func TestBurst_EveryCardPostedOnceAtSlacksPace(t *testing.T) {
	const burst = 200
	tb := newTestBot(t, Options{AllowedUsers: []string{"U0BENCH1"}, ChannelRate: 20, PollInterval: 200 * time.Millisecond})
	tb.slack.LimitPosts(20)
	tb.opts.Now = time.Now

	ctx, cancel := context.WithCancel(context.Background())
	tb.ctx = ctx
	tb.outbox.start(ctx)
	defer func() { cancel(); tb.outbox.wait() }()

	h := Routes(slog.New(slog.NewTextHandler(io.Discard, nil)), tb.Bot, benchSecret, false, tb.db.Ping, prometheus.NewRegistry())
	app := httptest.NewServer(h)
	defer app.Close()

	var wg sync.WaitGroup
	var mu sync.Mutex
	var slowest time.Duration
	for i := 0; i < burst; i++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			req := signedRequest("/slack/commands", commandForm("U0BENCH1"))
			req.URL.Scheme, req.URL.Host, req.RequestURI = "http", strings.TrimPrefix(app.URL, "http://"), ""
			start := time.Now()
			resp, err := http.DefaultClient.Do(req)
			took := time.Since(start)
			if err != nil {
				t.Error(err)
				return
			}
			body, _ := io.ReadAll(resp.Body)
			resp.Body.Close()
			if resp.StatusCode != 200 || !strings.Contains(string(body), "recorded") {
				t.Errorf("ack %d: %s", resp.StatusCode, body)
			}
			mu.Lock()
			slowest = max(slowest, took)
			mu.Unlock()
		}()
	}
	wg.Wait()
	// One second in a normal build; the race detector's instrumentation
	// makes every request several times slower, so its bound is scaled.
	require.Less(t, slowest, raceFactor*time.Second, "every command is acknowledged within a second while cards drain")

	cards := func() map[string]int {
		seen := map[string]int{}
		for _, c := range tb.slack.Answered("chat.postMessage") {
			if id := requestIDIn(c.Form.Get("blocks")); id != "" {
				seen[id]++
			}
		}
		return seen
	}
	deadline := time.Now().Add(60 * time.Second)
	for len(cards()) < burst && time.Now().Before(deadline) {
		time.Sleep(100 * time.Millisecond)
	}
	seen := cards()
	require.Len(t, seen, burst, "every card arrives")
	t.Logf("%d cards, %d answered 429", len(seen), tb.slack.Limited())
	for id, n := range seen {
		require.Equal(t, 1, n, "card %s posted once", id)
	}
}

// requestIDIn finds the request ID carried by a card's buttons.
func requestIDIn(blocks string) string {
	i := strings.Index(blocks, `"action_id":"leave_confirm","value":"`)
	if i < 0 {
		return ""
	}
	rest := blocks[i+len(`"action_id":"leave_confirm","value":"`):]
	return rest[:strings.IndexByte(rest, '"')]
}
