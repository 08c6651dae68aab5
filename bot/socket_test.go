package bot

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"log/slog"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/gorilla/websocket"
	"github.com/prometheus/client_golang/prometheus"
	dto "github.com/prometheus/client_model/go"
	"github.com/slack-go/slack"
	"github.com/stretchr/testify/require"

	"github.com/waleave/waleave/fake"
)

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
func runSocket(t *testing.T, f *fake.Slack, core socketCore, opts SocketOptions) (*Socket, prometheus.Counter, func() bool) {
	t.Helper()
	return runSocketLogged(t, f, core, opts, slog.New(slog.NewTextHandler(io.Discard, nil)))
}

// runSocketLogged is runSocket with the Socket's log going to log.
func runSocketLogged(t *testing.T, f *fake.Slack, core socketCore, opts SocketOptions, log *slog.Logger) (*Socket, prometheus.Counter, func() bool) {
	t.Helper()
	api := slack.New("xoxb-test", slack.OptionAPIURL(f.APIURL()), slack.OptionAppLevelToken("xapp-test"))
	reconnects := prometheus.NewCounter(prometheus.CounterOpts{Name: "reconnects"})
	s := newSocket(log, core, api, reconnects, opts)
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
	f := fake.NewSlack(t)
	core := &fakeCore{}
	s, _, _ := runSocket(t, f, core, SocketOptions{})
	c := f.Next(t)
	require.Error(t, s.Ready(context.Background()), "not ready before hello")
	c.Hello(t)
	waitFor(t, 2*time.Second, func() bool { return s.Ready(context.Background()) == nil }, "not ready after hello")

	c.Send(t, map[string]any{"envelope_id": "E1", "type": "slash_commands", "accepts_response_payload": true,
		"payload": map[string]any{"command": "/wa-leave", "text": "help", "user_id": "U0REQ1", "channel_id": "C1", "team_id": "T1"}})
	ack := c.Ack(t, "E1", 5*time.Second)
	want, err := json.Marshal(commandReply(ephemeralMsg("got help")))
	require.NoError(t, err)
	got, err := json.Marshal(ack["payload"])
	require.NoError(t, err)
	require.JSONEq(t, string(want), string(got), "the ack carries what POST /slack/commands would answer")

	c.Send(t, map[string]any{"envelope_id": "E2", "type": "interactive", "accepts_response_payload": false,
		"payload": map[string]any{"type": "block_actions", "user": map[string]any{"id": "U0CNF2"},
			"actions": []map[string]any{{"action_id": "leave_confirm", "block_id": "b", "value": "R1", "type": "button"}}}})
	ack = c.Ack(t, "E2", 5*time.Second)
	require.NotContains(t, ack, "payload", "a click is acked with an empty body, as over HTTP")
	core.mu.Lock()
	require.Len(t, core.ics, 1)
	require.Equal(t, "R1", core.ics[0].ActionCallback.BlockActions[0].Value)
	core.mu.Unlock()

	c.Send(t, map[string]any{"envelope_id": "E3", "type": "events_api", "payload": map[string]any{"type": "event_callback", "event": map[string]any{"type": "app_mention"}}})
	c.Ack(t, "E3", 5*time.Second)
}

func TestSocket_WatchdogReplacesASilentConnection(t *testing.T) {
	t.Parallel()
	f := fake.NewSlack(t)
	s, reconnects, _ := runSocket(t, f, &fakeCore{}, SocketOptions{Silence: 300 * time.Millisecond, MinBackoff: 10 * time.Millisecond})
	// Hello, then nothing at all: no envelopes, no pings.
	f.Next(t).Hello(t)
	c := f.Next(t)
	require.Equal(t, 2, len(f.Opens()), "a fresh apps.connections.open for the new connection")
	c.Hello(t)
	waitFor(t, 2*time.Second, func() bool { return s.Ready(context.Background()) == nil }, "not ready after the new hello")
	var m dto.Metric
	require.NoError(t, reconnects.Write(&m))
	require.Equal(t, 1.0, m.GetCounter().GetValue(), "one reconnect counted")
}

func TestSocket_PingsCountAsLife(t *testing.T) {
	t.Parallel()
	f := fake.NewSlack(t)
	s, _, _ := runSocket(t, f, &fakeCore{}, SocketOptions{Silence: 500 * time.Millisecond})
	c := f.Next(t)
	c.Hello(t)
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
				if c.WS.WriteControl(websocket.PingMessage, []byte("p"), time.Now().Add(time.Second)) != nil {
					return
				}
			}
		}
	}()
	time.Sleep(1500 * time.Millisecond)
	close(stop)
	<-pinged
	require.Equal(t, 1, len(f.Opens()), "an idle connection that Slack pings is kept")
	require.NoError(t, s.Ready(context.Background()))
}

func TestSocket_SupervisorBacksOffAfterFatalErrors(t *testing.T) {
	t.Parallel()
	f := fake.NewSlack(t)
	f.RefuseOpens(3)
	s, _, _ := runSocket(t, f, &fakeCore{}, SocketOptions{MinBackoff: 50 * time.Millisecond, MaxBackoff: 100 * time.Millisecond})
	waitFor(t, 3*time.Second, func() bool { return len(f.Opens()) >= 2 }, "no retry after invalid_auth")
	err := s.Ready(context.Background())
	require.ErrorContains(t, err, "invalid_auth", "readiness says why")
	f.Next(t).Hello(t)
	waitFor(t, 2*time.Second, func() bool { return s.Ready(context.Background()) == nil }, "not ready after recovery")

	opens := f.Opens()
	require.Len(t, opens, 4)
	// Waits of 50, 100 and 100 ms: doubling, capped at MaxBackoff.
	for i, min := range []time.Duration{50, 100, 100} {
		gap := opens[i+1].At.Sub(opens[i].At)
		require.GreaterOrEqual(t, gap, min*time.Millisecond, "wait %d", i)
		require.Less(t, gap, min*time.Millisecond+time.Second, "wait %d", i)
	}
}

func TestSocket_ShutdownWaitsForHandlersInFlight(t *testing.T) {
	t.Parallel()
	f := fake.NewSlack(t)
	core := &fakeCore{delay: 300 * time.Millisecond}
	_, _, stop := runSocket(t, f, core, SocketOptions{})
	c := f.Next(t)
	c.Hello(t)
	c.Send(t, map[string]any{"envelope_id": "E1", "type": "slash_commands", "accepts_response_payload": true,
		"payload": map[string]any{"command": "/wa-leave", "text": "help", "user_id": "U0REQ1", "channel_id": "C1"}})
	waitFor(t, 2*time.Second, func() bool { core.mu.Lock(); defer core.mu.Unlock(); return len(core.cmds) == 1 }, "command not handled")
	require.True(t, stop(), "Run did not return")
	core.mu.Lock()
	require.Equal(t, 1, core.done, "Run returned before the handler finished")
	core.mu.Unlock()
	require.Equal(t, "got help", c.Ack(t, "E1", 5*time.Second)["payload"].(map[string]any)["text"], "the command in flight is acked before the socket closes")
	timeout := time.After(2 * time.Second)
	for {
		select {
		case _, ok := <-c.In():
			if !ok {
				return
			}
		case <-timeout:
			t.Fatal("the connection stays open after Run returned")
		}
	}
}

// A WebSocket handshake that hangs (Slack's edge accepted the connection
// and never answered) neither keeps the bot "ready" nor holds shutdown:
// gorilla/websocket would wait for its 45-second handshake deadline.
func TestSocket_HangingHandshakeIsNotReadyAndDoesNotHoldShutdown(t *testing.T) {
	t.Parallel()
	f := fake.NewSlack(t)
	// A connection counts as stable at once, so slack-go itself goes on
	// to the next handshake instead of handing back to the supervisor.
	s, _, stop := runSocket(t, f, &fakeCore{}, SocketOptions{StableAfter: time.Nanosecond})
	c := f.Next(t)
	c.Hello(t)
	waitFor(t, 2*time.Second, func() bool { return s.Ready(context.Background()) == nil }, "not ready after hello")
	f.HoldSockets()
	t.Cleanup(f.Release)
	require.NoError(t, c.WS.Close())
	waitFor(t, 5*time.Second, func() bool { return f.Waiting() == 1 }, "no second handshake")
	require.Error(t, s.Ready(context.Background()), "ready while the handshake hangs")
	require.True(t, stop(), "shutdown waited for the hanging handshake")
}

// Slack closing every connection at once (asking to reconnect, or closing
// right after hello) does not make the bot reconnect in a tight loop:
// without a connection that lasts, the supervisor's backoff grows.
func TestSocket_ReconnectsBackOffWhenConnectionsDoNotLast(t *testing.T) {
	t.Parallel()
	for _, reason := range []string{"refresh_requested", "link_disabled", "close"} {
		t.Run(reason, func(t *testing.T) {
			f := fake.NewSlack(t)
			stop := make(chan struct{})
			go func() {
				for {
					select {
					case c := <-f.Conns:
						go func() {
							_ = c.WS.WriteJSON(map[string]any{"type": "hello", "num_connections": 1})
							if reason == "close" {
								_ = c.WS.Close()
								return
							}
							_ = c.WS.WriteJSON(map[string]any{"type": "disconnect", "reason": reason})
						}()
					case <-stop:
						return
					}
				}
			}()
			defer close(stop)
			// A connection that did not last goes back to the supervisor,
			// which logs the wait before the next session; the waits
			// double up to MaxBackoff. slack-go on its own reconnects at
			// once, forever, and no such line would appear.
			var log lockedLog
			runSocketLogged(t, f, &fakeCore{}, SocketOptions{MinBackoff: 50 * time.Millisecond, MaxBackoff: 400 * time.Millisecond},
				slog.New(slog.NewJSONHandler(&log, &slog.HandlerOptions{Level: slog.LevelWarn})))
			waitFor(t, 30*time.Second, func() bool { return len(log.waits()) >= 5 }, "no growing backoff between sessions")
			want := []time.Duration{50 * time.Millisecond, 100 * time.Millisecond, 200 * time.Millisecond, 400 * time.Millisecond, 400 * time.Millisecond}
			require.Equal(t, want, log.waits()[:5])
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
	f := fake.NewSlack(t)
	runSocket(t, f, &panickingCore{}, SocketOptions{})
	c := f.Next(t)
	c.Hello(t)
	c.Send(t, map[string]any{"type": "slash_commands", "envelope_id": "e1", "payload": map[string]any{"command": "/wa-leave", "text": "x"}})
	ack := c.Ack(t, "e1", 5*time.Second)
	require.Nil(t, ack["payload"], "a bare ack")
	c.Send(t, map[string]any{"type": "slash_commands", "envelope_id": "e2", "payload": map[string]any{"command": "/wa-leave", "text": "y"}})
	require.Equal(t, "e2", c.Ack(t, "e2", 5*time.Second)["envelope_id"])
}

// An envelope slack-go cannot read reaches no handler, but is still
// acknowledged, so Slack does not send it again.
func TestSocket_UnreadableEnvelopeIsAcked(t *testing.T) {
	t.Parallel()
	f := fake.NewSlack(t)
	core := &fakeCore{}
	runSocket(t, f, core, SocketOptions{})
	c := f.Next(t)
	c.Hello(t)
	c.Send(t, map[string]any{"type": "slash_commands", "envelope_id": "e1", "payload": "not an object"})
	require.Equal(t, "e1", c.Ack(t, "e1", 5*time.Second)["envelope_id"])
	core.mu.Lock()
	defer core.mu.Unlock()
	require.Empty(t, core.cmds, "no handler saw it")
}

// An envelope over maxEnvelopeBytes is not read whole: the connection is
// dropped (the transport connects again) and no handler sees it.
func TestSocket_OversizeEnvelopeIsNotRead(t *testing.T) {
	t.Parallel()
	f := fake.NewSlack(t)
	core := &fakeCore{}
	_, _, _ = runSocket(t, f, core, SocketOptions{MinBackoff: 10 * time.Millisecond})
	c := f.Next(t)
	c.Hello(t)
	// The bot may close the connection before the write ends.
	_ = c.TrySend(map[string]any{"envelope_id": "E1", "type": "slash_commands", "accepts_response_payload": true,
		"payload": map[string]any{"command": "/wa-leave", "text": strings.Repeat("a", maxEnvelopeBytes), "user_id": "U0REQ1", "channel_id": "C1", "team_id": "T1"}})
	next := f.Next(t)
	next.Hello(t)
	next.Send(t, map[string]any{"envelope_id": "E2", "type": "slash_commands", "accepts_response_payload": true,
		"payload": map[string]any{"command": "/wa-leave", "text": "help", "user_id": "U0REQ1", "channel_id": "C1", "team_id": "T1"}})
	next.Ack(t, "E2", 5*time.Second)
	core.mu.Lock()
	defer core.mu.Unlock()
	require.Len(t, core.cmds, 1, "only the envelope under the cap reached the bot")
	require.Equal(t, "help", core.cmds[0].Text)
}

// lockedLog collects a Socket's JSON log lines.
type lockedLog struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (l *lockedLog) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.buf.Write(p)
}

// waits are the supervisor's waits before each new session, in order.
func (l *lockedLog) waits() []time.Duration {
	l.mu.Lock()
	defer l.mu.Unlock()
	var out []time.Duration
	for _, line := range strings.Split(l.buf.String(), "\n") {
		var rec struct {
			Msg string        `json:"msg"`
			In  time.Duration `json:"in"`
		}
		if json.Unmarshal([]byte(line), &rec) == nil && rec.Msg == "socket mode connection lost; reconnecting" {
			out = append(out, rec.In)
		}
	}
	return out
}
