package fake

import (
	"fmt"
	"net/http"
	"net/http/httptest"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/gorilla/websocket"
	"github.com/stretchr/testify/require"
)

// socket is the Socket Mode half of Slack: apps.connections.open and the
// WebSocket endpoint it points at.
type socket struct {
	// ws serves the WebSockets, apart from the Web API as Slack's are.
	ws       *httptest.Server
	upgrader websocket.Upgrader
	// Conns receives each WebSocket the bot opens (see Next).
	Conns chan *Conn

	smu sync.Mutex
	// opens records each apps.connections.open.
	opens []Call
	// refuse answers this many apps.connections.open calls with
	// invalid_auth, which makes slack-go give up.
	refuse int
	// gate, when set, holds WebSocket upgrades until it is closed, so a
	// test can look at the bot while it is reconnecting.
	gate chan struct{}
	// waiting counts upgrades held at the gate now.
	waiting int
	socks   []*websocket.Conn
	// envelopes numbers envelopes across connections: like Slack's, each
	// envelope ID is unique, and one seen again is a redelivery.
	envelopes atomic.Int64
}

func (s *socket) init() {
	s.Conns = make(chan *Conn, 16)
	// slack-go dials with Origin https://api.slack.com, which the
	// upgrader's same-origin default would refuse.
	s.upgrader.CheckOrigin = func(*http.Request) bool { return true }
	s.ws = httptest.NewServer(http.HandlerFunc(s.upgrade))
}

func (s *socket) open(w http.ResponseWriter, r *http.Request) {
	s.smu.Lock()
	s.opens = append(s.opens, Call{Method: "apps.connections.open", Auth: r.Header.Get("Authorization"), At: time.Now()})
	refuse := s.refuse > 0
	if refuse {
		s.refuse--
	}
	s.smu.Unlock()
	w.Header().Set("Content-Type", "application/json")
	if refuse {
		fmt.Fprint(w, `{"ok":false,"error":"invalid_auth"}`)
		return
	}
	fmt.Fprintf(w, `{"ok":true,"url":"ws://%s/link"}`, s.ws.Listener.Addr())
}

func (s *socket) upgrade(w http.ResponseWriter, r *http.Request) {
	s.smu.Lock()
	gate := s.gate
	if gate != nil {
		s.waiting++
		defer func() { s.smu.Lock(); s.waiting--; s.smu.Unlock() }()
	}
	s.smu.Unlock()
	if gate != nil {
		select {
		case <-gate:
		case <-r.Context().Done():
			return
		case <-time.After(10 * time.Second):
			return
		}
	}
	ws, err := s.upgrader.Upgrade(w, r, nil)
	if err != nil {
		return
	}
	c := &Conn{WS: ws, in: make(chan map[string]any, 16), envelopes: &s.envelopes}
	go c.read()
	s.smu.Lock()
	s.socks = append(s.socks, ws)
	s.smu.Unlock()
	s.Conns <- c
}

func (s *socket) closeSockets() {
	s.smu.Lock()
	for _, ws := range s.socks {
		_ = ws.Close()
	}
	s.smu.Unlock()
	s.ws.Close()
}

// RefuseOpens answers the next n apps.connections.open calls with
// invalid_auth.
func (s *socket) RefuseOpens(n int) {
	s.smu.Lock()
	defer s.smu.Unlock()
	s.refuse = n
}

// Opens returns the apps.connections.open calls so far (when, and with
// which Authorization).
func (s *socket) Opens() []Call {
	s.smu.Lock()
	defer s.smu.Unlock()
	return append([]Call(nil), s.opens...)
}

// HoldSockets makes the next WebSocket upgrades wait until Release.
func (s *socket) HoldSockets() {
	s.smu.Lock()
	defer s.smu.Unlock()
	s.gate = make(chan struct{})
}

// Waiting reports how many WebSocket upgrades are held now.
func (s *socket) Waiting() int {
	s.smu.Lock()
	defer s.smu.Unlock()
	return s.waiting
}

// Release lets held WebSocket upgrades through.
func (s *socket) Release() {
	s.smu.Lock()
	defer s.smu.Unlock()
	if s.gate != nil {
		close(s.gate)
		s.gate = nil
	}
}

// Next waits for the bot's next WebSocket.
func (s *socket) Next(t testing.TB) *Conn {
	t.Helper()
	select {
	case c := <-s.Conns:
		return c
	case <-time.After(10 * time.Second):
		t.Fatal("the bot did not open a WebSocket")
		return nil
	}
}

// Conn is Slack's end of one Socket Mode WebSocket.
type Conn struct {
	WS  *websocket.Conn
	in  chan map[string]any
	wmu sync.Mutex
	// envelopes is the Slack's envelope counter.
	envelopes *atomic.Int64
}

// In delivers what the bot writes on the socket, and is closed when the
// socket is.
func (c *Conn) In() <-chan map[string]any { return c.in }

func (c *Conn) read() {
	defer close(c.in)
	for {
		var m map[string]any
		if err := c.WS.ReadJSON(&m); err != nil {
			return
		}
		c.in <- m
	}
}

// Send writes one message as Slack.
func (c *Conn) Send(t testing.TB, v any) {
	t.Helper()
	c.wmu.Lock()
	defer c.wmu.Unlock()
	require.NoError(t, c.WS.WriteJSON(v))
}

// TrySend writes one message as Slack and returns the error, for a
// write the bot may cut short.
func (c *Conn) TrySend(v any) error {
	c.wmu.Lock()
	defer c.wmu.Unlock()
	return c.WS.WriteJSON(v)
}

// Hello says hello, which makes the connection ready.
func (c *Conn) Hello(t testing.TB) {
	t.Helper()
	c.Send(t, map[string]any{"type": "hello", "num_connections": 1,
		"debug_info":      map[string]any{"host": "applink-fake", "build_number": 1, "approximate_connection_time": 18060},
		"connection_info": map[string]any{"app_id": "A1"}})
}

// Ack waits (up to timeout) for the ack of one envelope and returns it.
func (c *Conn) Ack(t testing.TB, envelopeID string, timeout time.Duration) map[string]any {
	t.Helper()
	deadline := time.After(timeout)
	for {
		select {
		case m, ok := <-c.in:
			require.True(t, ok, "the socket closed before the ack of %s", envelopeID)
			if m["envelope_id"] == envelopeID {
				return m
			}
		case <-deadline:
			t.Fatalf("%s was not acknowledged within %s", envelopeID, timeout)
			return nil
		}
	}
}

// Envelope sends one envelope, with an ID of its own, and returns its
// ack's payload (nil when the ack has none), which must come within
// Slack's own 3 seconds.
func (c *Conn) Envelope(t testing.TB, typ string, payload any) map[string]any {
	t.Helper()
	return c.Deliver(t, fmt.Sprintf("%s-%d", typ, c.envelopes.Add(1)), typ, payload)
}

// Deliver sends the envelope id and returns its ack's payload; the same
// id again is a redelivery.
func (c *Conn) Deliver(t testing.TB, id, typ string, payload any) map[string]any {
	t.Helper()
	c.Send(t, map[string]any{"envelope_id": id, "type": typ, "payload": payload, "accepts_response_payload": typ != "events_api", "retry_attempt": 0, "retry_reason": ""})
	m := c.Ack(t, id, 3*time.Second)
	if p, ok := m["payload"].(map[string]any); ok {
		return p
	}
	require.NotContains(t, m, "payload")
	return nil
}

// Command runs /wa-leave over the socket and returns the ack's payload.
func (c *Conn) Command(t testing.TB, user, channel, text string) map[string]any {
	t.Helper()
	return c.Envelope(t, "slash_commands", CommandPayload(user, channel, text))
}

// CommandPayload is a slash_commands envelope's payload.
func CommandPayload(user, channel, text string) map[string]any {
	return map[string]any{
		"token": "legacy-verification-token", "team_id": "T1", "team_domain": "test", "channel_id": channel, "channel_name": "ops",
		"user_id": user, "user_name": "user-" + user, "command": "/wa-leave", "text": text, "api_app_id": "A1",
		"is_enterprise_install": "false", "response_url": "https://hooks.slack.com/commands/T1/1/x", "trigger_id": "1.2.3",
	}
}

// Click presses a card button (its block blockID) over the socket and
// returns the ack's payload.
func (c *Conn) Click(t testing.TB, user, channel, action, value, messageTS, blockID string) map[string]any {
	t.Helper()
	return c.Envelope(t, "interactive", ClickPayload(user, channel, action, value, messageTS, blockID))
}

// ClickPayload is an interactive envelope's payload: a click on a button.
func ClickPayload(user, channel, action, value, messageTS, blockID string) map[string]any {
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
