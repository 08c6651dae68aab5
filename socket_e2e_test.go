package main

import (
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/gorilla/websocket"
	"github.com/stretchr/testify/require"
)

const testAppToken = "xapp-1-A1-e2e-app-token"

// socketSlack is fakeSlack with Socket Mode added: apps.connections.open
// answers with the URL of a local WebSocket server, and each WebSocket the
// bot opens there is handed to the test to play Slack's side.
type socketSlack struct {
	*fakeSlack
	ws       *httptest.Server
	upgrader websocket.Upgrader
	conns    chan *slackSocket

	mu sync.Mutex
	// opens holds the Authorization header of each apps.connections.open.
	opens []string
	// gate, when set, holds WebSocket upgrades until it is closed, so a
	// test can look at the bot while it is reconnecting.
	gate chan struct{}
}

func newSocketSlack(t *testing.T) *socketSlack {
	f := &socketSlack{
		fakeSlack: &fakeSlack{errFor: map[string]string{}, lastPost: map[string]time.Time{}, tz: "Europe/Berlin"},
		conns:     make(chan *slackSocket, 8),
	}
	// slack-go dials with Origin https://api.slack.com, which the
	// upgrader's same-origin default would refuse.
	f.upgrader.CheckOrigin = func(*http.Request) bool { return true }
	f.ws = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { f.upgrade(t, w, r) }))
	mux := http.NewServeMux()
	mux.HandleFunc("/api/apps.connections.open", func(w http.ResponseWriter, r *http.Request) {
		f.mu.Lock()
		f.opens = append(f.opens, r.Header.Get("Authorization"))
		f.mu.Unlock()
		w.Header().Set("Content-Type", "application/json")
		fmt.Fprintf(w, `{"ok":true,"url":"ws://%s/link"}`, f.ws.Listener.Addr())
	})
	mux.HandleFunc("/", f.fakeSlack.serve)
	f.fakeSlack.Server = httptest.NewServer(mux)
	t.Cleanup(func() {
		f.release()
		f.fakeSlack.Close()
		f.ws.Close()
	})
	return f
}

func (f *socketSlack) upgrade(t *testing.T, w http.ResponseWriter, r *http.Request) {
	f.mu.Lock()
	gate := f.gate
	f.mu.Unlock()
	if gate != nil {
		select {
		case <-gate:
		case <-r.Context().Done():
			return
		case <-time.After(10 * time.Second):
			return
		}
	}
	ws, err := f.upgrader.Upgrade(w, r, nil)
	if err != nil {
		return
	}
	c := &slackSocket{ws: ws, in: make(chan map[string]any, 16)}
	go c.read()
	t.Cleanup(func() { ws.Close() })
	f.conns <- c
}

// hold makes the next WebSocket upgrades wait until release.
func (f *socketSlack) hold() {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.gate = make(chan struct{})
}

func (f *socketSlack) release() {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.gate != nil {
		close(f.gate)
		f.gate = nil
	}
}

func (f *socketSlack) openAuths() []string {
	f.mu.Lock()
	defer f.mu.Unlock()
	return append([]string(nil), f.opens...)
}

// next waits for the bot's next WebSocket.
func (f *socketSlack) next(t *testing.T) *slackSocket {
	t.Helper()
	select {
	case c := <-f.conns:
		return c
	case <-time.After(10 * time.Second):
		t.Fatal("the bot did not open a WebSocket")
		return nil
	}
}

// slackSocket is Slack's end of one Socket Mode WebSocket.
type slackSocket struct {
	ws  *websocket.Conn
	in  chan map[string]any
	wmu sync.Mutex
}

func (c *slackSocket) read() {
	defer close(c.in)
	for {
		var m map[string]any
		if err := c.ws.ReadJSON(&m); err != nil {
			return
		}
		c.in <- m
	}
}

func (c *slackSocket) send(t *testing.T, v any) {
	t.Helper()
	c.wmu.Lock()
	defer c.wmu.Unlock()
	require.NoError(t, c.ws.WriteJSON(v))
}

func (c *slackSocket) hello(t *testing.T) {
	c.send(t, map[string]any{"type": "hello", "num_connections": 1,
		"debug_info":      map[string]any{"host": "applink-fake", "build_number": 1, "approximate_connection_time": 18060},
		"connection_info": map[string]any{"app_id": "A1"}})
}

// envelope sends one envelope and returns its ack's payload (nil when
// the ack has none).
func (c *slackSocket) envelope(t *testing.T, typ string, payload any) map[string]any {
	t.Helper()
	id := fmt.Sprintf("%s-%d", typ, envelopes.Add(1))
	return c.deliver(t, id, typ, payload)
}

// envelopes numbers envelopes across connections: like Slack's, each
// envelope ID is unique, and one seen again is a redelivery.
var envelopes atomic.Int64

// deliver sends the envelope id and returns its ack's payload; the same
// id again is a redelivery.
func (c *slackSocket) deliver(t *testing.T, id, typ string, payload any) map[string]any {
	t.Helper()
	c.send(t, map[string]any{"envelope_id": id, "type": typ, "payload": payload, "accepts_response_payload": typ != "events_api", "retry_attempt": 0, "retry_reason": ""})
	timeout := time.After(3 * time.Second) // Slack's own deadline
	for {
		select {
		case m, ok := <-c.in:
			require.True(t, ok, "the socket closed before the ack of %s", id)
			if m["envelope_id"] != id {
				continue
			}
			if p, ok := m["payload"].(map[string]any); ok {
				return p
			}
			require.NotContains(t, m, "payload")
			return nil
		case <-timeout:
			t.Fatalf("%s was not acknowledged within 3s", id)
		}
	}
}

// command runs /wa-leave over the socket and returns the ack's payload.
func (c *slackSocket) command(t *testing.T, user, channel, text string) map[string]any {
	t.Helper()
	return c.envelope(t, "slash_commands", commandPayload(user, channel, text))
}

// commandPayload is a slash_commands envelope's payload.
func commandPayload(user, channel, text string) map[string]any {
	return map[string]any{
		"token": "legacy-verification-token", "team_id": "T1", "team_domain": "test", "channel_id": channel, "channel_name": "ops",
		"user_id": user, "user_name": "user-" + user, "command": "/wa-leave", "text": text, "api_app_id": "A1",
		"is_enterprise_install": "false", "response_url": "https://hooks.slack.com/commands/T1/1/x", "trigger_id": "1.2.3",
	}
}

// click presses a card button (its block blockID) over the socket and
// returns the ack's payload.
func (c *slackSocket) click(t *testing.T, user, channel, action, value, messageTS, blockID string) map[string]any {
	t.Helper()
	return c.envelope(t, "interactive", clickPayload(user, channel, action, value, messageTS, blockID))
}

// clickPayload is an interactive envelope's payload: a click on a button.
func clickPayload(user, channel, action, value, messageTS, blockID string) map[string]any {
	return map[string]any{
		"type": "block_actions", "api_app_id": "A1", "team": map[string]any{"id": "T1"}, "token": "legacy-verification-token",
		"user":       map[string]any{"id": user, "username": "u", "team_id": "T1"},
		"container":  map[string]any{"type": "message", "message_ts": messageTS, "channel_id": channel, "is_ephemeral": false},
		"channel":    map[string]any{"id": channel, "name": "ops"},
		"message":    map[string]any{"type": "message", "ts": messageTS, "text": "card"},
		"trigger_id": "1.2.3", "response_url": "https://hooks.slack.com/actions/T1/1/x",
		"actions": []map[string]any{{"type": "button", "action_id": action, "block_id": blockID, "value": value, "action_ts": "1.1"}},
	}
}

// get fetches a path of the app's HTTP server.
func (a *app) get(path string) (int, string) {
	a.t.Helper()
	resp, err := http.Get(a.url + path)
	require.NoError(a.t, err)
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(b)
}

// socketRequest runs /wa-leave over the socket, checks the ack and waits
// for the card; it returns the request ID and the card's ts.
func socketRequest(t *testing.T, a *app, c *slackSocket, text string) (id, ts string) {
	t.Helper()
	ack := c.command(t, "U0REQ1", "C1", text)
	require.Equal(t, "ephemeral", ack["response_type"], "the ack is the ephemeral answer")
	reply, _ := ack["text"].(string)
	require.Contains(t, reply, "recorded")
	id = requestIDPattern.FindString(reply)
	require.NotEmpty(t, id, "the ack names the request: %s", reply)
	eventually(t, 5*time.Second, func() bool {
		for _, card := range a.slack.cards() {
			if strings.Contains(card.Form.Get("blocks"), id) {
				ts = card.TS
				return true
			}
		}
		return false
	}, "no card for %s", id)
	return id, ts
}

// TestE2E_SocketMode runs the whole flow over Socket Mode through run:
// command and click acked on the socket, the leave done, the thread
// answered; then the connection ends (dropped, or Slack asks for a
// refresh), the bot is not ready until it has reconnected, and the next
// command works on the new connection.
func TestE2E_SocketMode(t *testing.T) {
	ends := map[string]func(t *testing.T, c *slackSocket){
		"dropped": func(t *testing.T, c *slackSocket) { require.NoError(t, c.ws.Close()) },
		"refresh requested": func(t *testing.T, c *slackSocket) {
			c.send(t, map[string]any{"type": "disconnect", "reason": "refresh_requested", "debug_info": map[string]any{"host": "applink-fake"}})
		},
	}
	for name, end := range ends {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			sl, gw := newSocketSlack(t), newFakeGateway(t, "greenapi")
			env := baseEnv(t, sl.fakeSlack, gw)
			delete(env, "SLACK_SIGNING_SECRET") // not needed in Socket Mode
			env["SLACK_APP_TOKEN"] = testAppToken
			a := startApp(t, sl.fakeSlack, gw, env)

			c := sl.next(t)
			require.Equal(t, []string{"Bearer " + testAppToken}, sl.openAuths(), "apps.connections.open is called with the app-level token")
			status, _ := a.get("/readyz")
			require.Equal(t, http.StatusServiceUnavailable, status, "not ready before Slack says hello")
			c.hello(t)
			eventually(t, 5*time.Second, func() bool { s, _ := a.get("/readyz"); return s == http.StatusOK }, "not ready after hello")
			status, _ = a.get("/healthz")
			require.Equal(t, http.StatusOK, status)
			status, _ = a.command("U0REQ1", "C1", testGroup)
			require.Equal(t, http.StatusNotFound, status, "no Slack routes over HTTP in Socket Mode")

			id, ts := socketRequest(t, a, c, testGroup+" bye")
			require.Nil(t, c.click(t, "U0CNF2", "C1", "leave_confirm", id, ts, sl.buttonsBlockID(ts)), "a click is acked with an empty payload")
			eventually(t, 10*time.Second, func() bool { return len(sl.threadReplies()) == 1 }, "no thread reply")
			require.Len(t, gw.Calls("leave"), 1)
			require.Len(t, gw.Calls("send"), 1)
			require.Contains(t, gw.Calls("send")[0].Body, "bye")
			reply := sl.threadReplies()[0]
			require.Equal(t, ts, reply.Form.Get("thread_ts"))
			require.Contains(t, strings.ToLower(reply.Form.Get("text")), "left")

			sl.hold()
			end(t, c)
			eventually(t, 5*time.Second, func() bool { return len(sl.openAuths()) == 2 }, "apps.connections.open not called again")
			eventually(t, 5*time.Second, func() bool { s, _ := a.get("/readyz"); return s == http.StatusServiceUnavailable }, "ready while reconnecting")
			sl.release()
			c = sl.next(t)
			c.hello(t)
			eventually(t, 5*time.Second, func() bool { s, _ := a.get("/readyz"); return s == http.StatusOK }, "not ready after reconnecting")

			id2, _ := socketRequest(t, a, c, testGroup+" --no-goodbye")
			require.NotEqual(t, id, id2)
			_, metrics := a.get("/metrics")
			require.Contains(t, metrics, "waleave_socket_reconnects_total 1")

			for _, secret := range []string{testAppToken, testBotToken, testWAToken} {
				require.NotContains(t, a.logs.String(), secret)
			}
			for _, c := range sl.Calls("") {
				if c.Method != "apps.connections.open" {
					require.NotEqual(t, "Bearer "+testAppToken, c.Auth, "%s used the app-level token", c.Method)
				}
			}
		})
	}
}

// TestE2E_SocketModeAckPayloadMatchesHTTP checks that a command's ack
// over the socket is byte for byte what POST /slack/commands answers.
func TestE2E_SocketModeAckPayloadMatchesHTTP(t *testing.T) {
	t.Parallel()
	sl, gw := newSocketSlack(t), newFakeGateway(t, "greenapi")
	env := baseEnv(t, sl.fakeSlack, gw)
	env["SLACK_APP_TOKEN"] = testAppToken
	startApp(t, sl.fakeSlack, gw, env)
	c := sl.next(t)
	c.hello(t)
	overSocket, err := json.Marshal(c.command(t, "U0REQ1", "C1", "help"))
	require.NoError(t, err)

	httpSlack, httpGW := newFakeSlack(t), newFakeGateway(t, "greenapi")
	h := startApp(t, httpSlack, httpGW, baseEnv(t, httpSlack, httpGW))
	status, overHTTP := h.command("U0REQ1", "C1", "help")
	require.Equal(t, http.StatusOK, status)
	require.JSONEq(t, overHTTP, string(overSocket))
}
