package bot

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/gorilla/websocket"
	"github.com/prometheus/client_golang/prometheus"
	dto "github.com/prometheus/client_model/go"
	"github.com/slack-go/slack"
	"github.com/stretchr/testify/require"
)

// socketSlack fakes the two halves of Socket Mode: apps.connections.open
// on the Web API, and the WebSocket it points at. Each accepted WebSocket
// is handed to the test on conns.
type socketSlack struct {
	srv      *httptest.Server
	upgrader websocket.Upgrader
	conns    chan *socketConn

	mu    sync.Mutex
	opens []time.Time
	// refuse answers this many apps.connections.open calls with
	// invalid_auth, which makes slack-go give up.
	refuse int
}

func newSocketSlack(t *testing.T) *socketSlack {
	f := &socketSlack{conns: make(chan *socketConn, 16)}
	// slack-go dials with Origin https://api.slack.com, which the
	// upgrader's same-origin default would refuse.
	f.upgrader.CheckOrigin = func(*http.Request) bool { return true }
	mux := http.NewServeMux()
	mux.HandleFunc("POST /api/apps.connections.open", func(w http.ResponseWriter, r *http.Request) {
		f.mu.Lock()
		f.opens = append(f.opens, time.Now())
		refuse := f.refuse > 0
		if refuse {
			f.refuse--
		}
		f.mu.Unlock()
		w.Header().Set("Content-Type", "application/json")
		if refuse {
			fmt.Fprint(w, `{"ok":false,"error":"invalid_auth"}`)
			return
		}
		fmt.Fprintf(w, `{"ok":true,"url":"ws://%s/link"}`, r.Host)
	})
	mux.HandleFunc("GET /link", func(w http.ResponseWriter, r *http.Request) {
		ws, err := f.upgrader.Upgrade(w, r, nil)
		if err != nil {
			return
		}
		c := &socketConn{ws: ws, in: make(chan map[string]any, 16)}
		go c.read()
		t.Cleanup(func() { ws.Close() })
		f.conns <- c
	})
	f.srv = httptest.NewServer(mux)
	t.Cleanup(f.srv.Close)
	return f
}

func (f *socketSlack) openCount() int {
	f.mu.Lock()
	defer f.mu.Unlock()
	return len(f.opens)
}

func (f *socketSlack) openTimes() []time.Time {
	f.mu.Lock()
	defer f.mu.Unlock()
	return append([]time.Time(nil), f.opens...)
}

// next waits for the bot's next WebSocket.
func (f *socketSlack) next(t *testing.T) *socketConn {
	t.Helper()
	select {
	case c := <-f.conns:
		return c
	case <-time.After(5 * time.Second):
		t.Fatal("the bot did not connect")
		return nil
	}
}

// socketConn is the fake's end of one WebSocket.
type socketConn struct {
	ws  *websocket.Conn
	in  chan map[string]any
	wmu sync.Mutex
}

func (c *socketConn) read() {
	defer close(c.in)
	for {
		var m map[string]any
		if err := c.ws.ReadJSON(&m); err != nil {
			return
		}
		c.in <- m
	}
}

func (c *socketConn) send(t *testing.T, v any) {
	t.Helper()
	c.wmu.Lock()
	defer c.wmu.Unlock()
	require.NoError(t, c.ws.WriteJSON(v))
}

func (c *socketConn) hello(t *testing.T) {
	c.send(t, map[string]any{"type": "hello", "num_connections": 1, "debug_info": map[string]any{"host": "fake"}, "connection_info": map[string]any{"app_id": "A1"}})
}

// ack waits for the ack of one envelope.
func (c *socketConn) ack(t *testing.T, envelopeID string) map[string]any {
	t.Helper()
	timeout := time.After(5 * time.Second)
	for {
		select {
		case m, ok := <-c.in:
			require.True(t, ok, "connection closed before the ack of %s", envelopeID)
			if m["envelope_id"] == envelopeID {
				return m
			}
		case <-timeout:
			t.Fatalf("no ack for %s", envelopeID)
		}
	}
}

// fakeCore records what the transport hands to the bot.
type fakeCore struct {
	mu    sync.Mutex
	cmds  []slack.SlashCommand
	ics   []slack.InteractionCallback
	delay time.Duration
	done  int
}

func (c *fakeCore) Command(ctx context.Context, sc slack.SlashCommand) *slack.Msg {
	c.mu.Lock()
	c.cmds = append(c.cmds, sc)
	c.mu.Unlock()
	time.Sleep(c.delay)
	c.mu.Lock()
	c.done++
	c.mu.Unlock()
	return ephemeralMsg("got " + sc.Text)
}

func (c *fakeCore) Interaction(ctx context.Context, ic slack.InteractionCallback) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.ics = append(c.ics, ic)
}

func (c *fakeCore) Interact(ctx context.Context, ic slack.InteractionCallback) any {
	c.Interaction(ctx, ic)
	return nil
}

func (c *fakeCore) AppHomeOpened(team, enterprise, user string) {}

// runSocket starts a Socket against f and stops it at cleanup; the
// returned function stops it early and reports whether Run returned.
func runSocket(t *testing.T, f *socketSlack, core socketCore, opts SocketOptions) (*Socket, prometheus.Counter, func() bool) {
	t.Helper()
	api := slack.New("xoxb-test", slack.OptionAPIURL(f.srv.URL+"/api/"), slack.OptionAppLevelToken("xapp-test"))
	reconnects := prometheus.NewCounter(prometheus.CounterOpts{Name: "reconnects"})
	s := newSocket(slog.New(slog.NewTextHandler(io.Discard, nil)), core, api, reconnects, opts)
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { defer close(done); s.Run(ctx) }()
	stop := func() bool {
		cancel()
		select {
		case <-done:
			return true
		case <-time.After(5 * time.Second):
			return false
		}
	}
	t.Cleanup(func() { require.True(t, stop(), "Run did not return") })
	return s, reconnects, stop
}

func waitFor(t *testing.T, timeout time.Duration, cond func() bool, msg string) {
	t.Helper()
	deadline := time.Now().Add(timeout)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatal("timed out: " + msg)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

func TestSocket_AcksEachEnvelopeWithTheHTTPPayload(t *testing.T) {
	t.Parallel()
	f := newSocketSlack(t)
	core := &fakeCore{}
	s, _, _ := runSocket(t, f, core, SocketOptions{})
	c := f.next(t)
	require.Error(t, s.Ready(context.Background()), "not ready before hello")
	c.hello(t)
	waitFor(t, 2*time.Second, func() bool { return s.Ready(context.Background()) == nil }, "not ready after hello")

	c.send(t, map[string]any{"envelope_id": "E1", "type": "slash_commands", "accepts_response_payload": true,
		"payload": map[string]any{"command": "/wa-leave", "text": "help", "user_id": "U0REQ1", "channel_id": "C1", "team_id": "T1"}})
	ack := c.ack(t, "E1")
	want, err := json.Marshal(commandReply(ephemeralMsg("got help")))
	require.NoError(t, err)
	got, err := json.Marshal(ack["payload"])
	require.NoError(t, err)
	require.JSONEq(t, string(want), string(got), "the ack carries what POST /slack/commands would answer")

	c.send(t, map[string]any{"envelope_id": "E2", "type": "interactive", "accepts_response_payload": false,
		"payload": map[string]any{"type": "block_actions", "user": map[string]any{"id": "U0CNF2"},
			"actions": []map[string]any{{"action_id": "leave_confirm", "block_id": "b", "value": "R1", "type": "button"}}}})
	ack = c.ack(t, "E2")
	require.NotContains(t, ack, "payload", "a click is acked with an empty body, as over HTTP")
	core.mu.Lock()
	require.Len(t, core.ics, 1)
	require.Equal(t, "R1", core.ics[0].ActionCallback.BlockActions[0].Value)
	core.mu.Unlock()

	c.send(t, map[string]any{"envelope_id": "E3", "type": "events_api", "payload": map[string]any{"type": "event_callback", "event": map[string]any{"type": "app_mention"}}})
	c.ack(t, "E3")
}

func TestSocket_WatchdogReplacesASilentConnection(t *testing.T) {
	t.Parallel()
	f := newSocketSlack(t)
	s, reconnects, _ := runSocket(t, f, &fakeCore{}, SocketOptions{Silence: 300 * time.Millisecond, MinBackoff: 10 * time.Millisecond})
	// Hello, then nothing at all: no envelopes, no pings.
	f.next(t).hello(t)
	c := f.next(t)
	require.Equal(t, 2, f.openCount(), "a fresh apps.connections.open for the new connection")
	c.hello(t)
	waitFor(t, 2*time.Second, func() bool { return s.Ready(context.Background()) == nil }, "not ready after the new hello")
	var m dto.Metric
	require.NoError(t, reconnects.Write(&m))
	require.Equal(t, 1.0, m.GetCounter().GetValue(), "one reconnect counted")
}

func TestSocket_PingsCountAsLife(t *testing.T) {
	t.Parallel()
	f := newSocketSlack(t)
	s, _, _ := runSocket(t, f, &fakeCore{}, SocketOptions{Silence: 500 * time.Millisecond})
	c := f.next(t)
	c.hello(t)
	// A ping every 50 ms, as Slack pings an idle socket, and nothing else.
	stop := make(chan struct{})
	pinged := make(chan struct{})
	go func() {
		defer close(pinged)
		tick := time.NewTicker(50 * time.Millisecond)
		defer tick.Stop()
		for {
			select {
			case <-stop:
				return
			case <-tick.C:
				if c.ws.WriteControl(websocket.PingMessage, []byte("p"), time.Now().Add(time.Second)) != nil {
					return
				}
			}
		}
	}()
	time.Sleep(1500 * time.Millisecond)
	close(stop)
	<-pinged
	require.Equal(t, 1, f.openCount(), "an idle connection that Slack pings is kept")
	require.NoError(t, s.Ready(context.Background()))
}

func TestSocket_SupervisorBacksOffAfterFatalErrors(t *testing.T) {
	t.Parallel()
	f := newSocketSlack(t)
	f.refuse = 3
	s, _, _ := runSocket(t, f, &fakeCore{}, SocketOptions{MinBackoff: 50 * time.Millisecond, MaxBackoff: 100 * time.Millisecond})
	waitFor(t, 3*time.Second, func() bool { return f.openCount() >= 2 }, "no retry after invalid_auth")
	err := s.Ready(context.Background())
	require.ErrorContains(t, err, "invalid_auth", "readiness says why")
	f.next(t).hello(t)
	waitFor(t, 2*time.Second, func() bool { return s.Ready(context.Background()) == nil }, "not ready after recovery")

	opens := f.openTimes()
	require.Len(t, opens, 4)
	// Waits of 50, 100 and 100 ms: doubling, capped at MaxBackoff.
	for i, min := range []time.Duration{50, 100, 100} {
		gap := opens[i+1].Sub(opens[i])
		require.GreaterOrEqual(t, gap, min*time.Millisecond, "wait %d", i)
		require.Less(t, gap, min*time.Millisecond+time.Second, "wait %d", i)
	}
}

func TestSocket_ShutdownWaitsForHandlersInFlight(t *testing.T) {
	t.Parallel()
	f := newSocketSlack(t)
	core := &fakeCore{delay: 300 * time.Millisecond}
	_, _, stop := runSocket(t, f, core, SocketOptions{})
	c := f.next(t)
	c.hello(t)
	c.send(t, map[string]any{"envelope_id": "E1", "type": "slash_commands", "accepts_response_payload": true,
		"payload": map[string]any{"command": "/wa-leave", "text": "help", "user_id": "U0REQ1", "channel_id": "C1"}})
	waitFor(t, 2*time.Second, func() bool { core.mu.Lock(); defer core.mu.Unlock(); return len(core.cmds) == 1 }, "command not handled")
	require.True(t, stop(), "Run did not return")
	core.mu.Lock()
	require.Equal(t, 1, core.done, "Run returned before the handler finished")
	core.mu.Unlock()
	require.Equal(t, "got help", c.ack(t, "E1")["payload"].(map[string]any)["text"], "the command in flight is acked before the socket closes")
	timeout := time.After(2 * time.Second)
	for {
		select {
		case _, ok := <-c.in:
			if !ok {
				return
			}
		case <-timeout:
			t.Fatal("the connection stays open after Run returned")
		}
	}
}

// Slack closing every connection at once (asking to reconnect, or closing
// right after hello) does not make the bot reconnect in a tight loop:
// without a connection that lasts, the supervisor's backoff grows.
func TestSocket_ReconnectsBackOffWhenConnectionsDoNotLast(t *testing.T) {
	t.Parallel()
	for _, reason := range []string{"refresh_requested", "link_disabled", "close"} {
		t.Run(reason, func(t *testing.T) {
			f := newSocketSlack(t)
			stop := make(chan struct{})
			go func() {
				for {
					select {
					case c := <-f.conns:
						go func() {
							_ = c.ws.WriteJSON(map[string]any{"type": "hello", "num_connections": 1})
							if reason == "close" {
								_ = c.ws.Close()
								return
							}
							_ = c.ws.WriteJSON(map[string]any{"type": "disconnect", "reason": reason})
						}()
					case <-stop:
						return
					}
				}
			}()
			defer close(stop)
			runSocket(t, f, &fakeCore{}, SocketOptions{MinBackoff: 50 * time.Millisecond, MaxBackoff: 400 * time.Millisecond})
			time.Sleep(2 * time.Second)
			// Sessions 50, 100, 200, 400, 400 … ms apart, each with at most
			// two connection attempts: about a dozen in two seconds. An
			// immediate reconnect loop made thousands.
			require.Less(t, f.openCount(), 40)
			require.GreaterOrEqual(t, f.openCount(), 3, "it keeps trying")
		})
	}
}

// panickingCore panics on every command, as a bug in the bot would.
type panickingCore struct{ fakeCore }

func (*panickingCore) Command(context.Context, slack.SlashCommand) *slack.Msg { panic("a bug") }

// A handler that panics costs its envelope a bare ack, as a panicking
// HTTP handler costs a closed connection, not the whole process; the
// next envelope is served as usual.
func TestSocket_PanickingHandlerIsAckedAndSurvived(t *testing.T) {
	t.Parallel()
	f := newSocketSlack(t)
	runSocket(t, f, &panickingCore{}, SocketOptions{})
	c := f.next(t)
	c.hello(t)
	c.send(t, map[string]any{"type": "slash_commands", "envelope_id": "e1", "payload": map[string]any{"command": "/wa-leave", "text": "x"}})
	ack := c.ack(t, "e1")
	require.Nil(t, ack["payload"], "a bare ack")
	c.send(t, map[string]any{"type": "slash_commands", "envelope_id": "e2", "payload": map[string]any{"command": "/wa-leave", "text": "y"}})
	require.Equal(t, "e2", c.ack(t, "e2")["envelope_id"])
}

// An envelope slack-go cannot read reaches no handler, but is still
// acknowledged, so Slack does not send it again.
func TestSocket_UnreadableEnvelopeIsAcked(t *testing.T) {
	t.Parallel()
	f := newSocketSlack(t)
	core := &fakeCore{}
	runSocket(t, f, core, SocketOptions{})
	c := f.next(t)
	c.hello(t)
	c.send(t, map[string]any{"type": "slash_commands", "envelope_id": "e1", "payload": "not an object"})
	require.Equal(t, "e1", c.ack(t, "e1")["envelope_id"])
	core.mu.Lock()
	defer core.mu.Unlock()
	require.Empty(t, core.cmds, "no handler saw it")
}

// An envelope over maxEnvelopeBytes is not read whole: the connection is
// dropped (the transport connects again) and no handler sees it.
func TestSocket_OversizeEnvelopeIsNotRead(t *testing.T) {
	t.Parallel()
	f := newSocketSlack(t)
	core := &fakeCore{}
	_, _, _ = runSocket(t, f, core, SocketOptions{MinBackoff: 10 * time.Millisecond})
	c := f.next(t)
	c.hello(t)
	// The bot may close the connection before the write ends.
	c.wmu.Lock()
	_ = c.ws.WriteJSON(map[string]any{"envelope_id": "E1", "type": "slash_commands", "accepts_response_payload": true,
		"payload": map[string]any{"command": "/wa-leave", "text": strings.Repeat("a", maxEnvelopeBytes), "user_id": "U0REQ1", "channel_id": "C1", "team_id": "T1"}})
	c.wmu.Unlock()
	next := f.next(t)
	next.hello(t)
	next.send(t, map[string]any{"envelope_id": "E2", "type": "slash_commands", "accepts_response_payload": true,
		"payload": map[string]any{"command": "/wa-leave", "text": "help", "user_id": "U0REQ1", "channel_id": "C1", "team_id": "T1"}})
	next.ack(t, "E2")
	core.mu.Lock()
	defer core.mu.Unlock()
	require.Len(t, core.cmds, 1, "only the envelope under the cap reached the bot")
	require.Equal(t, "help", core.cmds[0].Text)
}
