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
	"slices"
	"strconv"
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
// every call, gives each message a fresh ts (from the wall clock, like
// Slack's), can enforce a per-channel message rate with 429 + Retry-After
// like Slack does, and shows the messages posted, with their metadata,
// through conversations.history and conversations.replies.
type fakeSlack struct {
	*httptest.Server
	mu    sync.Mutex
	calls []slackCall
	seq   int
	// errFor makes chat.postMessage fail with this Slack error for a
	// channel; errForReplies does so for its thread replies only.
	errFor, errForReplies map[string]string
	// rate limits chat.postMessage per channel (messages per second; 0 = none).
	rate     float64
	lastPost map[string]time.Time
	tz       string
	// hold, when set, keeps calls of holdMethod waiting until it is
	// closed or the caller gives up; held counts those that arrived.
	hold       chan struct{}
	holdMethod string
	held       int
	// unanswered, when set, picks calls that take effect (a post is in
	// the channel) but are never answered: the caller waits until it
	// gives up or dies. It models a crash, a timeout or a lost answer
	// between Slack's doing and the caller's recording it; lost counts
	// those calls.
	unanswered func(slackCall) bool
	lost       int
	loseMax    int
	// lookupErr, when set, makes conversations.history and
	// conversations.replies fail with this Slack error (a bot that is
	// not in the channel, or lacks the history scopes).
	lookupErr string
}

func newFakeSlack(t *testing.T) *fakeSlack {
	f := &fakeSlack{errFor: map[string]string{}, errForReplies: map[string]string{}, lastPost: map[string]time.Time{}, tz: "Europe/Berlin"}
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
	e := f.errFor[ch]
	if r.Form.Get("thread_ts") != "" && f.errForReplies[ch] != "" {
		e = f.errForReplies[ch]
	}
	if e != "" && method == "chat.postMessage" {
		f.calls = append(f.calls, slackCall{Method: method, Form: r.Form, Auth: r.Header.Get("Authorization"), At: now})
		fmt.Fprintf(w, `{"ok":false,"error":%q}`, e)
		return
	}
	f.seq++
	// Unique and increasing like Slack's: the second, then a sequence
	// number where Slack has microseconds.
	ts := fmt.Sprintf("%d.%06d", now.Unix(), f.seq)
	if method == "chat.update" {
		ts = r.Form.Get("ts")
	}
	call := slackCall{Method: method, Form: r.Form, Auth: r.Header.Get("Authorization"), At: now, TS: ts}
	f.calls = append(f.calls, call)
	if f.unanswered != nil && f.lost < f.loseMax && f.unanswered(call) {
		f.lost++
		f.mu.Unlock()
		<-r.Context().Done()
		f.mu.Lock()
		return
	}
	switch method {
	case "conversations.history", "conversations.replies":
		f.lookup(w, method, r.Form)
	case "users.info":
		fmt.Fprintf(w, `{"ok":true,"user":{"id":%q,"tz":%q}}`, r.Form.Get("user"), f.tz)
	case "auth.test":
		fmt.Fprint(w, `{"ok":true,"user":"waleave","team":"Test","user_id":"U0BOT","team_id":"T1"}`)
	default:
		_ = json.NewEncoder(w).Encode(map[string]any{"ok": true, "channel": ch, "ts": ts, "message_ts": ts})
	}
}

// lookup answers conversations.history (the channel's messages, not the
// replies in threads) and conversations.replies (a thread: its parent,
// then its replies), newest first and oldest first respectively as Slack
// does, within oldest and latest, limit at a time with a cursor. Message
// metadata is shown only when include_all_metadata asks for it. Callers
// hold f.mu.
func (f *fakeSlack) lookup(w http.ResponseWriter, method string, form url.Values) {
	if f.lookupErr != "" {
		fmt.Fprintf(w, `{"ok":false,"error":%q}`, f.lookupErr)
		return
	}
	ch, thread := form.Get("channel"), form.Get("ts")
	inclusive := form.Get("inclusive") == "1" || form.Get("inclusive") == "true"
	within := func(ts string) bool {
		if o := form.Get("oldest"); o != "" && (ts < o || ts == o && !inclusive) {
			return false
		}
		if l := form.Get("latest"); l != "" && (ts > l || ts == l && !inclusive) {
			return false
		}
		return true
	}
	var msgs []map[string]any
	for _, c := range f.calls {
		if c.Method != "chat.postMessage" || c.TS == "" || c.Form.Get("channel") != ch {
			continue
		}
		parent := c.Form.Get("thread_ts")
		switch {
		case method == "conversations.history" && (parent != "" || !within(c.TS)):
			continue
		case method == "conversations.replies" && c.TS != thread && (parent != thread || !within(c.TS)):
			continue
		}
		m := map[string]any{"type": "message", "ts": c.TS, "text": c.Form.Get("text"), "bot_id": "B0BOT"}
		if parent != "" {
			m["thread_ts"] = parent
		}
		if md := c.Form.Get("metadata"); md != "" && (form.Get("include_all_metadata") == "1" || form.Get("include_all_metadata") == "true") {
			m["metadata"] = json.RawMessage(md)
		}
		msgs = append(msgs, m)
	}
	if method == "conversations.history" {
		slices.Reverse(msgs)
	} else if len(msgs) == 0 {
		fmt.Fprint(w, `{"ok":false,"error":"thread_not_found"}`)
		return
	}
	start, _ := strconv.Atoi(form.Get("cursor"))
	limit, err := strconv.Atoi(form.Get("limit"))
	if err != nil || limit <= 0 {
		limit = 100
	}
	start = min(start, len(msgs))
	end := min(start+limit, len(msgs))
	next := ""
	if end < len(msgs) {
		next = strconv.Itoa(end)
	}
	_ = json.NewEncoder(w).Encode(map[string]any{"ok": true, "messages": msgs[start:end], "has_more": next != "", "response_metadata": map[string]any{"next_cursor": next}})
}

// loseAnswers makes the first n calls that pick selects take effect
// without an answer (see unanswered); it returns how many have been lost
// so far.
func (f *fakeSlack) loseAnswers(n int, pick func(slackCall) bool) (lost func() int) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.unanswered, f.loseMax = pick, n
	return func() int {
		f.mu.Lock()
		defer f.mu.Unlock()
		return f.lost
	}
}

// chatter adds n messages from people to channel, as if posted now.
func (f *fakeSlack) chatter(channel string, n int) {
	f.mu.Lock()
	defer f.mu.Unlock()
	for range n {
		f.seq++
		now := time.Now()
		f.calls = append(f.calls, slackCall{Method: "chat.postMessage", Form: url.Values{"channel": {channel}, "text": {"chatter"}, "as_user": {"true"}}, At: now, TS: fmt.Sprintf("%d.%06d", now.Unix(), f.seq)})
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

// cards are chat.postMessage calls without a thread_ts (people's
// messages, see chatter, excluded).
func (f *fakeSlack) cards() []slackCall {
	var out []slackCall
	for _, c := range f.Calls("chat.postMessage") {
		if c.Form.Get("thread_ts") == "" && c.Form.Get("as_user") == "" {
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
	// block, when set, is waited on before answering leave calls;
	// blockSend likewise for goodbye sends, which it keeps from reaching
	// the group until it is closed.
	block, blockSend chan struct{}
	// groupDelay, when set, is how long Green API's getGroupData takes.
	groupDelay time.Duration
	// self, when set, is the instance's own number: the state answers
	// (and Green API's settings) name it, and group lookups answer with
	// the provider's group shape, listing it among the members until a
	// leave call arrives. From then on the group lists the two others
	// only, unless stay is set: WhatsApp kept the instance in the group,
	// whatever the gateway answered.
	self string
	stay bool
	left bool
	// groups, when set, are the groups (JID → subject) that the group
	// listing answers with (Green API and RyzeAPI), in the provider's
	// shape; otherwise the listing is empty.
	groups map[string]string
}

func newFakeGateway(t *testing.T, provider string) *fakeGateway {
	g := &fakeGateway{provider: provider}
	g.Server = httptest.NewServer(http.HandlerFunc(g.serve))
	t.Cleanup(func() {
		g.mu.Lock()
		for _, c := range []chan struct{}{g.block, g.blockSend} {
			if c == nil {
				continue
			}
			select {
			case <-c:
			default:
				close(c)
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
	if kind == "leave" && !g.stay {
		g.left = true // the gateway acts on the call before it answers
	}
	leave, send, block, blockSend, groupDelay := g.leave, g.send, g.block, g.blockSend, g.groupDelay
	self, left, groups := g.self, g.left, g.groups
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
		if blockSend != nil {
			select {
			case <-blockSend:
			case <-r.Context().Done():
				return
			}
		}
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
		if self != "" && g.serveSelf(w, r, self, left) {
			return
		}
		switch {
		case strings.Contains(r.URL.Path, "getStateInstance"):
			fmt.Fprint(w, `{"stateInstance":"authorized"}`)
		case strings.Contains(r.URL.Path, "/getChats/"), strings.HasPrefix(r.URL.Path, "/api/group/list"):
			// No groups unless set, but a well-formed answer: a failing
			// directory refresh would log a warning in tests that count them.
			list := []map[string]string{}
			for jid, subject := range groups {
				if g.provider == "greenapi" {
					list = append(list, map[string]string{"id": jid, "name": subject, "type": "group"})
				} else {
					list = append(list, map[string]string{"jid": jid, "name": subject})
				}
			}
			_ = json.NewEncoder(w).Encode(list)
		default:
			fmt.Fprint(w, `{}`)
		}
	}
}

// serveSelf answers the calls that name the instance or list a group's
// members, in each provider's documented shape, and reports whether r
// was one of them.
func (g *fakeGateway) serveSelf(w http.ResponseWriter, r *http.Request, self string, left bool) bool {
	user, _, _ := strings.Cut(self, "@")
	others := []string{"79000000002", "79000000003"}
	members := others
	if !left {
		members = append([]string{user}, others...)
	}
	type participant struct {
		ID      string `json:"id,omitempty"`
		JID     string `json:"jid,omitempty"`
		IsAdmin bool   `json:"isAdmin"`
	}
	var ps []participant
	for _, m := range members {
		switch g.provider {
		case "ryzeapi":
			ps = append(ps, participant{JID: m + "@s.whatsapp.net"})
		default:
			ps = append(ps, participant{ID: m + "@c.us"})
		}
	}
	answer := func(v any) bool {
		_ = json.NewEncoder(w).Encode(v)
		return true
	}
	p := r.URL.Path
	switch {
	case strings.Contains(p, "/getWaSettings/"), strings.Contains(p, "/getSettings/"):
		return answer(map[string]any{"wid": user + "@c.us", "stateInstance": "authorized", "phone": user})
	case strings.Contains(p, "/getGroupData/"):
		return answer(map[string]any{"groupId": testGroup, "subject": "Night shift", "participants": ps, "size": len(ps)})
	case p == "/v2/session/info":
		return answer(map[string]any{"status": "WORKING", "me": map[string]any{"id": user + "@c.us", "pushName": "ops"}})
	case strings.HasPrefix(p, "/v2/groups/") && strings.HasSuffix(p, "/participants"):
		return answer(ps)
	case strings.HasPrefix(p, "/api/instance/list"):
		return answer(map[string]any{"success": true, "data": []any{map[string]any{"name": "1101000001",
			"connection": map[string]any{"state": "connected", "numberJid": user + "@s.whatsapp.net"}}}})
	case strings.HasPrefix(p, "/api/group/info/"):
		return answer(map[string]any{"success": true, "data": map[string]any{"jid": testGroup, "name": "Night shift",
			"participantCount": len(ps), "participants": ps}})
	}
	return false
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
