// Package fake holds the test stand-ins every test of waleave shares: a
// fake Slack (Web API and Socket Mode) that the real slack-go client
// talks to over HTTP, the fake gateway the bot's unit tests hand it, and
// the gateway server that speaks each provider's wire format for the end
// to end tests. It is a package of its own, not a _test file, so that the
// tests of every package can import it; production code never does
// (TestProductionDoesNotImportFake checks that).
package fake

import (
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

// Call is one Web API call the fake Slack received.
type Call struct {
	Method string
	Form   url.Values
	Auth   string
	At     time.Time
	// TS is the ts the fake answered with (message methods; "" when the
	// call was refused).
	TS string
	// Err is the Slack error the call was refused with ("" when it was
	// answered ok).
	Err string
}

// Slack is an httptest stand-in for Slack's Web API and Socket Mode. It
// records every call, gives each message a fresh ts (increasing, like
// Slack's), can refuse calls with Slack's errors, can enforce a
// per-channel message rate with 429 + Retry-After like Slack does, can
// hold calls or lose their answers, and shows the messages posted, with
// their metadata, through conversations.history and
// conversations.replies. apps.connections.open answers with the URL of
// its own WebSocket endpoint, and each WebSocket opened there is handed
// to the test (see Next) to play Slack's side.
type Slack struct {
	*httptest.Server
	mu    sync.Mutex
	calls []Call
	seq   int
	// epoch, when set, is the second every ts starts with (a fixed clock
	// for tests that name a ts); otherwise the wall clock's.
	epoch int64
	tz    string
	// fail, when set, picks calls to refuse with a Slack error (""
	// answers as usual); errFor does so for chat.postMessage in a
	// channel, errForReplies for its thread replies only.
	fail                  func(method string, form url.Values) string
	errFor, errForReplies map[string]string
	// perSecond limits chat.postMessage in each channel to this many in
	// any second (0 = no limit); limited counts the calls refused so.
	perSecond int
	window    map[string][]time.Time
	limited   int
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
	unanswered func(Call) bool
	lost       int
	loseMax    int
	// lookupErr, when set, makes conversations.history and
	// conversations.replies fail with this Slack error (a bot that is
	// not in the channel, or lacks the history scopes).
	lookupErr string
	// only, when set, answers the methods it names with their bodies and
	// every other with 404, as a stand-in for one command's calls.
	only map[string]string

	socket
}

// NewSlack starts a fake Slack that stops at the end of the test.
func NewSlack(t testing.TB) *Slack {
	f := &Slack{errFor: map[string]string{}, errForReplies: map[string]string{}, window: map[string][]time.Time{}, tz: "Europe/Berlin"}
	f.socket.init()
	f.Server = httptest.NewServer(http.HandlerFunc(f.serve))
	t.Cleanup(func() {
		f.Release()
		f.closeSockets()
		f.Close()
	})
	return f
}

// APIURL is the API base URL for slack.OptionAPIURL and SLACK_API_URL
// (with the trailing slash).
func (f *Slack) APIURL() string { return f.Server.URL + "/api/" }

// SetEpoch makes every ts start with sec instead of the wall clock's
// second, so that a test can name the ts of the nth message.
func (f *Slack) SetEpoch(sec int64) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.epoch = sec
}

// SetTimeZone sets the zone users.info reports for every user.
func (f *Slack) SetTimeZone(tz string) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.tz = tz
}

// FailWith makes the fake refuse the calls fail picks with the error
// code it returns ("" answers as usual); nil stops it.
func (f *Slack) FailWith(fail func(method string, form url.Values) string) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.fail = fail
}

// FailPosts makes chat.postMessage in channel fail with code.
func (f *Slack) FailPosts(channel, code string) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.errFor[channel] = code
}

// FailReplies makes thread replies in channel fail with code.
func (f *Slack) FailReplies(channel, code string) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.errForReplies[channel] = code
}

// FailLookups makes conversations.history and conversations.replies
// fail with code.
func (f *Slack) FailLookups(code string) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.lookupErr = code
}

// AnswerOnly makes the fake answer each method in answers with its body
// as it stands, whatever the method would answer otherwise, and every
// other method (apps.connections.open included) with 404 Not Found.
func (f *Slack) AnswerOnly(answers map[string]string) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.only = answers
}

// TokenOf is the token the last call of method was made with: the
// Authorization header's bearer token or, as slack-go sends it for some
// methods, the token form field ("" when there was no call).
func (f *Slack) TokenOf(method string) string {
	calls := f.Calls(method)
	if method == "apps.connections.open" {
		calls = append(calls, f.Opens()...)
	}
	if len(calls) == 0 {
		return ""
	}
	c := calls[len(calls)-1]
	if token, ok := strings.CutPrefix(c.Auth, "Bearer "); ok {
		return token
	}
	return c.Form.Get("token")
}

// LimitPosts enforces Slack's per-channel message limit, scaled: beyond
// perSecond chat.postMessage calls in any second in one channel it
// answers 429 with Retry-After, as Slack does.
func (f *Slack) LimitPosts(perSecond int) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.perSecond = perSecond
}

// Limited counts the calls refused with 429 by LimitPosts.
func (f *Slack) Limited() int {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.limited
}

func (f *Slack) serve(w http.ResponseWriter, r *http.Request) {
	switch {
	case strings.HasPrefix(r.URL.Path, "/response/"):
		body, _ := io.ReadAll(r.Body)
		f.mu.Lock()
		f.calls = append(f.calls, Call{Method: "response_url", Form: url.Values{"body": {string(body)}}, At: time.Now()})
		f.mu.Unlock()
		return
	}
	method := strings.TrimPrefix(r.URL.Path, "/api/")
	f.mu.Lock()
	only := f.only
	f.mu.Unlock()
	if only != nil {
		_ = r.ParseForm()
		f.mu.Lock()
		f.calls = append(f.calls, Call{Method: method, Form: r.Form, Auth: r.Header.Get("Authorization"), At: time.Now()})
		f.mu.Unlock()
		body, ok := only[method]
		if !ok {
			http.NotFound(w, r)
			return
		}
		w.Header().Set("Content-Type", "application/json")
		fmt.Fprint(w, body)
		return
	}
	if method == "apps.connections.open" {
		f.open(w, r)
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
	if strings.HasPrefix(r.Header.Get("Content-Type"), "application/json") {
		// views.* take JSON: its fields are recorded as form values,
		// objects as their JSON.
		var fields map[string]json.RawMessage
		body, _ := io.ReadAll(r.Body)
		if json.Unmarshal(body, &fields) == nil {
			for k, v := range fields {
				var str string
				if json.Unmarshal(v, &str) != nil {
					str = string(v)
				}
				r.Form.Set(k, str)
			}
		}
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	now := time.Now()
	ch := r.Form.Get("channel")
	if method == "chat.postMessage" && f.perSecond > 0 {
		var recent []time.Time
		for _, t := range f.window[ch] {
			if now.Sub(t) < time.Second {
				recent = append(recent, t)
			}
		}
		if len(recent) >= f.perSecond {
			f.window[ch] = recent
			f.limited++
			w.Header().Set("Retry-After", "1")
			w.WriteHeader(http.StatusTooManyRequests)
			_, _ = w.Write([]byte(`{"ok":false,"error":"ratelimited"}`))
			return
		}
		f.window[ch] = append(recent, now)
	}
	w.Header().Set("Content-Type", "application/json")
	call := Call{Method: method, Form: r.Form, Auth: r.Header.Get("Authorization"), At: now}
	if f.fail != nil {
		call.Err = f.fail(method, r.Form)
	}
	if call.Err == "" && method == "chat.postMessage" {
		call.Err = f.errFor[ch]
		if r.Form.Get("thread_ts") != "" && f.errForReplies[ch] != "" {
			call.Err = f.errForReplies[ch]
		}
	}
	if call.Err != "" {
		f.calls = append(f.calls, call)
		fmt.Fprintf(w, `{"ok":false,"error":%q}`, call.Err)
		return
	}
	f.seq++
	// Unique and increasing like Slack's: the second, then a sequence
	// number where Slack has microseconds.
	sec := now.Unix()
	if f.epoch != 0 {
		sec = f.epoch
	}
	call.TS = fmt.Sprintf("%d.%06d", sec, f.seq)
	if method == "chat.update" {
		call.TS = r.Form.Get("ts")
	}
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
		fmt.Fprint(w, `{"ok":true,"user":"waleave","team":"Test","user_id":"U0BOT","team_id":"T1","bot_id":"B0BOT"}`)
	case "views.open", "views.update", "views.publish":
		// The view as Slack keeps it: an ID and a hash for the next
		// views.update.
		fmt.Fprintf(w, `{"ok":true,"view":{"id":"V%d","hash":"h%d","team_id":"T1","type":"modal"}}`, f.seq, f.seq)
	case "chat.getPermalink":
		fmt.Fprintf(w, `{"ok":true,"channel":%q,"permalink":"https://slack.example/archives/%s/p%s"}`, ch, ch, strings.ReplaceAll(r.Form.Get("message_ts"), ".", ""))
	default:
		_ = json.NewEncoder(w).Encode(map[string]any{"ok": true, "channel": ch, "ts": call.TS, "message_ts": call.TS})
	}
}

// lookup answers conversations.history (the channel's messages, not the
// replies in threads) and conversations.replies (a thread: its parent,
// then its replies), newest first and oldest first respectively as Slack
// does, within oldest and latest, limit at a time with a cursor. Message
// metadata is shown only when include_all_metadata asks for it. Callers
// hold f.mu.
func (f *Slack) lookup(w http.ResponseWriter, method string, form url.Values) {
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

// LoseAnswers makes the first n calls that pick selects take effect
// without an answer (the caller waits until it gives up); it returns how
// many have been lost so far.
func (f *Slack) LoseAnswers(n int, pick func(Call) bool) (lost func() int) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.unanswered, f.loseMax = pick, n
	return func() int {
		f.mu.Lock()
		defer f.mu.Unlock()
		return f.lost
	}
}

// Chatter adds n messages from people to channel, as if posted now.
func (f *Slack) Chatter(channel string, n int) {
	f.mu.Lock()
	defer f.mu.Unlock()
	for range n {
		f.seq++
		now := time.Now()
		f.calls = append(f.calls, Call{Method: "chat.postMessage", Form: url.Values{"channel": {channel}, "text": {"chatter"}, "as_user": {"true"}}, At: now, TS: fmt.Sprintf("%d.%06d", now.Unix(), f.seq)})
	}
}

// HoldPosts keeps chat.postMessage calls waiting until release is called.
func (f *Slack) HoldPosts() (release func()) { return f.HoldCalls("chat.postMessage") }

// HoldCalls keeps calls of method waiting until release is called.
func (f *Slack) HoldCalls(method string) (release func()) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.hold, f.holdMethod = make(chan struct{}), method
	hold := f.hold
	return sync.OnceFunc(func() { close(hold) })
}

// holding returns the channel a call of method must wait on, if any,
// and counts it.
func (f *Slack) holding(method string) chan struct{} {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.hold == nil || method != f.holdMethod {
		return nil
	}
	f.held++
	return f.hold
}

// Held is how many calls of the held method arrived while held.
func (f *Slack) Held() int {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.held
}

// Calls returns the recorded calls of one method ("" for all), refused
// ones included.
func (f *Slack) Calls(method string) []Call {
	f.mu.Lock()
	defer f.mu.Unlock()
	var out []Call
	for _, c := range f.calls {
		if method == "" || c.Method == method {
			out = append(out, c)
		}
	}
	return out
}

// Answered returns the calls of method that were answered ok.
func (f *Slack) Answered(method string) []Call {
	var out []Call
	for _, c := range f.Calls(method) {
		if c.Err == "" {
			out = append(out, c)
		}
	}
	return out
}

// Count is len(Answered(method)).
func (f *Slack) Count(method string) int { return len(f.Answered(method)) }

// Refusals counts the calls of method refused with a Slack error.
func (f *Slack) Refusals(method string) int {
	n := 0
	for _, c := range f.Calls(method) {
		if c.Err != "" {
			n++
		}
	}
	return n
}

// ThreadReplies are chat.postMessage calls with a thread_ts.
func (f *Slack) ThreadReplies() []Call {
	var out []Call
	for _, c := range f.Calls("chat.postMessage") {
		if c.Form.Get("thread_ts") != "" {
			out = append(out, c)
		}
	}
	return out
}

// Cards are chat.postMessage calls without a thread_ts (people's
// messages, see Chatter, excluded).
func (f *Slack) Cards() []Call {
	var out []Call
	for _, c := range f.Calls("chat.postMessage") {
		if c.Form.Get("thread_ts") == "" && c.Form.Get("as_user") == "" {
			out = append(out, c)
		}
	}
	return out
}

// actionsVersion matches the block ID of a pending card's buttons.
var actionsVersion = regexp.MustCompile(`leave_actions\.pending\.v[0-9]+`)

// ButtonsBlockID is the block ID of the buttons on the card at ts as last
// drawn (posted or updated), which a click on them carries; "b" when the
// card has none.
func (f *Slack) ButtonsBlockID(ts string) string {
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
