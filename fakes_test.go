package main

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"
)

// slackCall is one Web API call the fake Slack received.
type slackCall struct {
	Method string
	Form   url.Values
	Auth   string
	At     time.Time
	// TS is the ts the fake answered with (message methods).
	TS string
}

// fakeSlack is an httptest stand-in for Slack's Web API that records
// every call, gives each message a fresh ts, and can enforce a
// per-channel message rate with 429 + Retry-After like Slack does.
type fakeSlack struct {
	*httptest.Server
	mu    sync.Mutex
	calls []slackCall
	seq   int
	// errFor makes chat.postMessage fail with this Slack error for a channel.
	errFor map[string]string
	// rate limits chat.postMessage per channel (messages per second; 0 = none).
	rate     float64
	lastPost map[string]time.Time
	tz       string
	// hold, when set, keeps calls of holdMethod waiting until it is
	// closed or the caller gives up; held counts those that arrived.
	hold       chan struct{}
	holdMethod string
	held       int
}

func newFakeSlack(t *testing.T) *fakeSlack {
	f := &fakeSlack{errFor: map[string]string{}, lastPost: map[string]time.Time{}, tz: "Europe/Berlin"}
	f.Server = httptest.NewServer(http.HandlerFunc(f.serve))
	t.Cleanup(f.Close)
	return f
}

// URL is the API base URL for SLACK_API_URL (with the trailing slash).
func (f *fakeSlack) APIURL() string { return f.Server.URL + "/api/" }

func (f *fakeSlack) serve(w http.ResponseWriter, r *http.Request) {
	method := strings.TrimPrefix(r.URL.Path, "/api/")
	if strings.HasPrefix(r.URL.Path, "/response/") {
		body, _ := io.ReadAll(r.Body)
		f.mu.Lock()
		f.calls = append(f.calls, slackCall{Method: "response_url", Form: url.Values{"body": {string(body)}}, At: time.Now()})
		f.mu.Unlock()
		return
	}
	if hold := f.holding(method); hold != nil {
		select {
		case <-hold:
		case <-r.Context().Done():
			return
		}
	}
	_ = r.ParseForm()
	f.mu.Lock()
	defer f.mu.Unlock()
	now := time.Now()
	ch := r.Form.Get("channel")
	if method == "chat.postMessage" && f.rate > 0 {
		if last, ok := f.lastPost[ch]; ok && now.Sub(last) < time.Duration(float64(time.Second)/f.rate) {
			w.Header().Set("Retry-After", "1")
			w.WriteHeader(http.StatusTooManyRequests)
			_, _ = w.Write([]byte(`{"ok":false,"error":"ratelimited"}`))
			return
		}
		f.lastPost[ch] = now
	}
	w.Header().Set("Content-Type", "application/json")
	if e := f.errFor[ch]; e != "" && method == "chat.postMessage" {
		f.calls = append(f.calls, slackCall{Method: method, Form: r.Form, Auth: r.Header.Get("Authorization"), At: now})
		fmt.Fprintf(w, `{"ok":false,"error":%q}`, e)
		return
	}
	f.seq++
	ts := fmt.Sprintf("1700000000.%06d", f.seq)
	if method == "chat.update" {
		ts = r.Form.Get("ts")
	}
	f.calls = append(f.calls, slackCall{Method: method, Form: r.Form, Auth: r.Header.Get("Authorization"), At: now, TS: ts})
	switch method {
	case "users.info":
		fmt.Fprintf(w, `{"ok":true,"user":{"id":%q,"tz":%q}}`, r.Form.Get("user"), f.tz)
	case "auth.test":
		fmt.Fprint(w, `{"ok":true,"user":"waleave","team":"Test","user_id":"U0BOT","team_id":"T1"}`)
	default:
		_ = json.NewEncoder(w).Encode(map[string]any{"ok": true, "channel": ch, "ts": ts, "message_ts": ts})
	}
}

// holdPosts keeps chat.postMessage calls waiting until release is called.
func (f *fakeSlack) holdPosts() (release func()) { return f.holdCalls("chat.postMessage") }

// holdCalls keeps calls of method waiting until release is called.
func (f *fakeSlack) holdCalls(method string) (release func()) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.hold, f.holdMethod = make(chan struct{}), method
	hold := f.hold
	return sync.OnceFunc(func() { close(hold) })
}

// holding returns the channel a call of method must wait on, if any,
// and counts it.
func (f *fakeSlack) holding(method string) chan struct{} {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.hold == nil || method != f.holdMethod {
		return nil
	}
	f.held++
	return f.hold
}

// heldPosts is how many calls of the held method arrived while held.
func (f *fakeSlack) heldPosts() int {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.held
}

// Calls returns the recorded calls of one method ("" for all).
func (f *fakeSlack) Calls(method string) []slackCall {
	f.mu.Lock()
	defer f.mu.Unlock()
	var out []slackCall
	for _, c := range f.calls {
		if method == "" || c.Method == method {
			out = append(out, c)
		}
	}
	return out
}

// threadReplies are chat.postMessage calls with a thread_ts.
func (f *fakeSlack) threadReplies() []slackCall {
	var out []slackCall
	for _, c := range f.Calls("chat.postMessage") {
		if c.Form.Get("thread_ts") != "" {
			out = append(out, c)
		}
	}
	return out
}

// cards are chat.postMessage calls without a thread_ts.
func (f *fakeSlack) cards() []slackCall {
	var out []slackCall
	for _, c := range f.Calls("chat.postMessage") {
		if c.Form.Get("thread_ts") == "" {
			out = append(out, c)
		}
	}
	return out
}

// actionsVersion matches the block ID of a pending card's buttons.
var actionsVersion = regexp.MustCompile(`leave_actions\.pending\.v[0-9]+`)

// buttonsBlockID is the block ID of the buttons on the card at ts as last
// drawn (posted or updated), which a click on them carries; "b" when the
// card has none.
func (f *fakeSlack) buttonsBlockID(ts string) string {
	id := "b"
	for _, c := range f.Calls("") {
		posted := c.Method == "chat.postMessage" && c.TS == ts && c.Form.Get("thread_ts") == ""
		updated := c.Method == "chat.update" && c.Form.Get("ts") == ts
		if posted || updated {
			if m := actionsVersion.FindString(c.Form.Get("blocks")); m != "" {
				id = m
			}
		}
	}
	return id
}

// gatewayCall is one request the fake gateway received.
type gatewayCall struct {
	Method, Path, RawPath, Query string
	Header                       http.Header
	Body                         string
	At                           time.Time
}

// fakeGateway answers as one of the three providers. answer decides the
// response for each call; by default everything succeeds with the
// provider's documented success shape.
type fakeGateway struct {
	*httptest.Server
	provider string
	mu       sync.Mutex
	calls    []gatewayCall
	// leave, when set, answers leave calls (status, body); called with the
	// number of leave calls so far (1 for the first).
	leave func(n int) (int, string)
	// send, when set, answers goodbye sends likewise.
	send func(n int) (int, string)
	// block, when set, is waited on before answering leave calls.
	block chan struct{}
	// groupDelay, when set, is how long Green API's getGroupData takes.
	groupDelay time.Duration
}

func newFakeGateway(t *testing.T, provider string) *fakeGateway {
	g := &fakeGateway{provider: provider}
	g.Server = httptest.NewServer(http.HandlerFunc(g.serve))
	t.Cleanup(func() {
		g.mu.Lock()
		if g.block != nil {
			select {
			case <-g.block:
			default:
				close(g.block)
			}
		}
		g.mu.Unlock()
		g.Close()
	})
	return g
}

func (g *fakeGateway) kind(path string) string {
	switch {
	case strings.Contains(path, "/leaveGroup/"), strings.HasSuffix(path, "/leave"), strings.HasPrefix(path, "/api/group/leave/"):
		return "leave"
	case strings.Contains(path, "/sendMessage/"), path == "/v2/send/text", strings.HasPrefix(path, "/api/message/text/"):
		return "send"
	}
	return "other"
}

func (g *fakeGateway) serve(w http.ResponseWriter, r *http.Request) {
	body, _ := io.ReadAll(r.Body)
	kind := g.kind(r.URL.Path)
	g.mu.Lock()
	g.calls = append(g.calls, gatewayCall{Method: r.Method, Path: r.URL.Path, RawPath: r.URL.EscapedPath(), Query: r.URL.RawQuery, Header: r.Header.Clone(), Body: string(body), At: time.Now()})
	n := 0
	for _, c := range g.calls {
		if g.kind(c.Path) == kind {
			n++
		}
	}
	leave, send, block, groupDelay := g.leave, g.send, g.block, g.groupDelay
	g.mu.Unlock()
	if groupDelay > 0 && strings.Contains(r.URL.Path, "/getGroupData/") {
		select {
		case <-time.After(groupDelay):
		case <-r.Context().Done():
			return
		}
	}

	w.Header().Set("Content-Type", "application/json")
	switch kind {
	case "leave":
		if block != nil {
			select {
			case <-block:
			case <-r.Context().Done():
				return
			}
		}
		if leave != nil {
			st, b := leave(n)
			if st == 429 {
				w.Header().Set("Retry-After", "1")
			}
			w.WriteHeader(st)
			_, _ = w.Write([]byte(b))
			return
		}
		switch g.provider {
		case "greenapi":
			fmt.Fprint(w, `{"leaveGroup":true}`)
		case "wawp":
			fmt.Fprint(w, `{"ok":true}`)
		default:
			fmt.Fprintf(w, `{"success":true,"message":"Successfully left the group","groupJid":%q}`, r.URL.Query().Get("identifier"))
		}
	case "send":
		if send != nil {
			st, b := send(n)
			w.WriteHeader(st)
			_, _ = w.Write([]byte(b))
			return
		}
		switch g.provider {
		case "greenapi":
			fmt.Fprint(w, `{"idMessage":"3EB0C767D097B7C7C030"}`)
		case "wawp":
			fmt.Fprint(w, `{"id":{"_serialized":"true_120363406289005073@g.us_ABC"}}`)
		default:
			fmt.Fprint(w, `{"success":true,"data":{"messageId":"ABC"}}`)
		}
	default:
		switch {
		case strings.Contains(r.URL.Path, "getStateInstance"):
			fmt.Fprint(w, `{"stateInstance":"authorized"}`)
		case strings.Contains(r.URL.Path, "/getChats/"):
			// No groups, but a well-formed answer: a failing directory
			// refresh would log a warning in tests that count them.
			fmt.Fprint(w, `[]`)
		default:
			fmt.Fprint(w, `{}`)
		}
	}
}

// Calls returns the calls of one kind ("leave", "send", "other"; "" = all).
func (g *fakeGateway) Calls(kind string) []gatewayCall {
	g.mu.Lock()
	defer g.mu.Unlock()
	var out []gatewayCall
	for _, c := range g.calls {
		if kind == "" || g.kind(c.Path) == kind {
			out = append(out, c)
		}
	}
	return out
}

// syncBuffer is a goroutine-safe log sink.
type syncBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *syncBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

func (b *syncBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}
