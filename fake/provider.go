package fake

import (
	"encoding/json"
	"fmt"
	"io"
	"math"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"
)

// GroupJID is the group Provider's group lookups describe.
const GroupJID = "120363406289005073@g.us"

// ProviderCall is one request the fake gateway received.
type ProviderCall struct {
	Method, Path, RawPath, Query string
	Header                       http.Header
	Body                         string
	At                           time.Time
	// Op is the provider's name for the call: Green API's method
	// (leaveGroup), RyzeAPI's and Wawp's path without the instance
	// (group/leave, groups/leave).
	Op string
	// Limited is set when the gateway answered 429 under EnforceRates.
	Limited bool
}

// Provider is an httptest server that answers as one of the three
// providers (greenapi, wawp, ryzeapi) in its wire format, for tests of the
// real clients end to end. Leave and Send decide the answers to leave
// calls and goodbye sends; by default everything succeeds with the
// provider's documented success shape. Set its fields before the client
// calls it, or inside Locked.
type Provider struct {
	*httptest.Server
	provider string
	mu       sync.Mutex
	calls    []ProviderCall
	// Leave, when set, answers leave calls (status, body); called with the
	// number of leave calls so far (1 for the first).
	Leave func(n int) (int, string)
	// Send, when set, answers goodbye sends likewise.
	Send func(n int) (int, string)
	// Block, when set, is waited on before answering leave calls;
	// BlockSend likewise for goodbye sends, which it keeps from reaching
	// the group until it is closed.
	Block, BlockSend chan struct{}
	// GroupDelay, when set, is how long Green API's getGroupData takes.
	GroupDelay time.Duration
	// Self, when set, is the instance's own number: the state answers
	// (and Green API's settings) name it, and group lookups answer with
	// the provider's group shape, listing it among the members until a
	// leave call arrives. From then on the group lists the two others
	// only, unless Stay is set: WhatsApp kept the instance in the group,
	// whatever the gateway answered.
	Self string
	Stay bool
	left bool
	// State, when set, answers Green API's getStateInstance (status,
	// body).
	State func() (int, string)
	// Groups, when set, are the groups (JID → subject) that the group
	// listing answers with, in the provider's shape, less those a leave
	// call named (unless Stay); otherwise the listing is empty.
	Groups map[string]string
	// History, when set, is when each group (JID) last had a message:
	// the chat-history calls answer with that one message, in the
	// provider's shape, and with an empty history for a group not in it
	// (the gateway cannot tell).
	History map[string]time.Time
	// leftGroups are the groups leave calls named.
	leftGroups map[string]bool
	// limits, when set (EnforceRates), is the documented rate the gateway
	// enforces; arrivals holds, per counter, the times of the calls it
	// let through.
	limits   func(c ProviderCall) (counter string, limit int, window time.Duration)
	arrivals map[string][]time.Time
}

// WawpRate is the rate EnforceRates holds Wawp to: Wawp documents no
// limit, so the stand-in is the client's default (WA_PROVIDER=wawp
// without an override), 5 requests a second per instance.
const WawpRate = 5

// EnforceRates makes the gateway hold every caller to the provider's
// documented rate, as the provider counts it, and answer 429 in the
// provider's documented shape beyond it: Green API counts each method
// per instance per second (leaveGroup 10, sendMessage 50, getGroupData,
// getChats and the other reads 1; getChats is missing from the published
// table and taken as 1, as the client does); RyzeAPI counts every call of
// a token per minute (100), sends X-RateLimit-Limit, -Remaining and
// -Reset on every answer, and says when its counter resets but not how
// its minute is aligned; Wawp documents no limit, so the stand-in is
// WawpRate per instance. Each window is a rolling one (no more than the
// limit in any window of its length, wherever it starts), which holds
// whatever alignment the provider's counter has; calls answered 429 do
// not count. Call it before the client calls the gateway.
func (g *Provider) EnforceRates() {
	g.mu.Lock()
	defer g.mu.Unlock()
	g.arrivals = map[string][]time.Time{}
	switch g.provider {
	case "greenapi":
		g.limits = func(c ProviderCall) (string, int, time.Duration) {
			instance, _, _ := strings.Cut(strings.TrimPrefix(c.Path, "/waInstance"), "/")
			return instance + "/" + strings.ToLower(c.Op), GreenAPIRate(c.Op), time.Second
		}
	case "ryzeapi":
		g.limits = func(c ProviderCall) (string, int, time.Duration) {
			token := c.Header.Get("token")
			if token == "" {
				token = strings.TrimPrefix(c.Header.Get("Authorization"), "Bearer ")
			}
			if c.Op == "instance/new" {
				return token + "/new", 20, time.Minute
			}
			return token, 100, time.Minute
		}
	default:
		g.limits = func(c ProviderCall) (string, int, time.Duration) {
			q, _ := url.ParseQuery(c.Query)
			return q.Get("instance_id"), WawpRate, time.Second
		}
	}
}

// GreenAPIRate is Green API's documented limit of a method, in requests
// a second per instance (green-api.com/en/docs/api/ratelimiter); methods
// the table leaves out, getChats among them, are taken as 1.
func GreenAPIRate(method string) int {
	switch strings.ToLower(method) {
	case "leavegroup", "setgroupadmin", "removeadmin", "addgroupparticipant", "removegroupparticipant":
		return 10
	case "sendmessage", "sendfilebyurl", "sendfilebyupload", "sendlocation", "sendcontact", "sendpoll":
		return 50
	case "receivenotification", "deletenotification":
		return 100
	}
	return 1
}

// admit decides, under the lock, whether call c (arriving now) is within
// the enforced rate and records it if so; it also returns the RyzeAPI
// headers describing the counter after the decision.
func (g *Provider) admit(c ProviderCall, now time.Time) (ok bool, header http.Header) {
	if g.limits == nil {
		return true, nil
	}
	counter, limit, window := g.limits(c)
	kept := g.arrivals[counter][:0]
	for _, at := range g.arrivals[counter] {
		if now.Sub(at) < window {
			kept = append(kept, at)
		}
	}
	ok = len(kept) < limit
	if ok {
		kept = append(kept, now)
	}
	g.arrivals[counter] = kept
	if g.provider != "ryzeapi" {
		return ok, nil
	}
	// The counter frees a call when its oldest call leaves the window.
	reset := now.Add(window)
	if len(kept) > 0 {
		reset = kept[0].Add(window)
	}
	header = http.Header{}
	header.Set("X-RateLimit-Limit", strconv.Itoa(limit))
	header.Set("X-RateLimit-Remaining", strconv.Itoa(max(limit-len(kept), 0)))
	header.Set("X-RateLimit-Reset", strconv.FormatInt(int64(math.Ceil(float64(reset.UnixMilli())/1000)), 10))
	return ok, header
}

// tooMany answers a call beyond the enforced rate in the provider's
// documented shape.
func (g *Provider) tooMany(w http.ResponseWriter) {
	switch g.provider {
	case "greenapi":
		// The common-errors table: 429 "Too Many Requests".
		w.Header().Set("Content-Type", "text/plain; charset=utf-8")
		w.WriteHeader(http.StatusTooManyRequests)
		fmt.Fprint(w, "Too Many Requests")
	case "ryzeapi":
		w.Header().Set("Content-Type", "application/json; charset=utf-8")
		w.WriteHeader(http.StatusTooManyRequests)
		fmt.Fprint(w, `{"success":false,"error":{"message":"Rate limit exceeded. Try again later."}}`)
	default:
		// Wawp documents no 429; its OpenAPI's ErrorResponse shape.
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(http.StatusTooManyRequests)
		fmt.Fprint(w, `{"status":429,"message":"Too Many Requests","error":"Too Many Requests"}`)
	}
}

// op is the provider's name for a call to path.
func (g *Provider) op(path string) string {
	switch g.provider {
	case "greenapi":
		parts := strings.Split(strings.Trim(path, "/"), "/")
		if len(parts) >= 2 {
			return parts[1]
		}
	case "ryzeapi":
		p := strings.TrimPrefix(path, "/api/")
		if i := strings.LastIndex(p, "/"); i > 0 && strings.Count(p, "/") >= 2 {
			return p[:i]
		}
		return p
	default:
		p := strings.TrimPrefix(path, "/v2/")
		if rest, ok := strings.CutPrefix(p, "groups/"); ok {
			// groups/{id}/leave → groups/leave
			if _, tail, ok := strings.Cut(rest, "/"); ok {
				return "groups/" + tail
			}
			return "groups/info"
		}
		return p
	}
	return path
}

// groupOf is the group a call names: RyzeAPI's identifier, Green API's
// groupId, or Wawp's path segment; "" when it names none.
func groupOf(r *http.Request, body []byte) string {
	if id := r.URL.Query().Get("identifier"); id != "" {
		return id
	}
	var b struct {
		GroupID string `json:"groupId"`
	}
	if json.Unmarshal(body, &b) == nil && b.GroupID != "" {
		return b.GroupID
	}
	for _, seg := range strings.Split(r.URL.Path, "/") {
		if strings.HasSuffix(seg, "@g.us") {
			return seg
		}
	}
	return ""
}

// Limited is the number of calls answered 429 under EnforceRates.
func (g *Provider) Limited() int {
	g.mu.Lock()
	defer g.mu.Unlock()
	n := 0
	for _, c := range g.calls {
		if c.Limited {
			n++
		}
	}
	return n
}

// NewProvider starts a Provider that stops at the end of the test.
func NewProvider(t testing.TB, provider string) *Provider {
	g := &Provider{provider: provider}
	g.Server = httptest.NewServer(http.HandlerFunc(g.serve))
	t.Cleanup(func() {
		g.mu.Lock()
		for _, c := range []chan struct{}{g.Block, g.BlockSend} {
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

func (g *Provider) kind(path string) string {
	switch {
	case strings.Contains(path, "/leaveGroup/"), strings.HasSuffix(path, "/leave"), strings.HasPrefix(path, "/api/group/leave/"):
		return "leave"
	case strings.Contains(path, "/sendMessage/"), path == "/v2/send/text", strings.HasPrefix(path, "/api/message/text/"):
		return "send"
	}
	return "other"
}

func (g *Provider) serve(w http.ResponseWriter, r *http.Request) {
	body, _ := io.ReadAll(r.Body)
	kind := g.kind(r.URL.Path)
	group := groupOf(r, body)
	g.mu.Lock()
	// The arrival is stamped under the lock, so that the order of the
	// stamps is the order in which the rate is counted.
	call := ProviderCall{Method: r.Method, Path: r.URL.Path, RawPath: r.URL.EscapedPath(), Query: r.URL.RawQuery, Header: r.Header.Clone(), Body: string(body), At: time.Now(), Op: g.op(r.URL.Path)}
	admitted, rateHeader := g.admit(call, call.At)
	call.Limited = !admitted
	g.calls = append(g.calls, call)
	for k, v := range rateHeader {
		w.Header()[k] = v
	}
	if !admitted {
		g.mu.Unlock()
		g.tooMany(w)
		return
	}
	n := 0
	for _, c := range g.calls {
		if g.kind(c.Path) == kind && !c.Limited {
			n++
		}
	}
	if kind == "leave" && !g.Stay {
		g.left = true // the gateway acts on the call before it answers
		if group != "" {
			if g.leftGroups == nil {
				g.leftGroups = map[string]bool{}
			}
			g.leftGroups[group] = true
		}
	}
	leave, send, block, blockSend, groupDelay := g.Leave, g.Send, g.Block, g.BlockSend, g.GroupDelay
	self, left, state, history := g.Self, g.left, g.State, g.History
	if group != "" && g.leftGroups != nil {
		// A group named by the call is left only if a leave named it.
		left = g.leftGroups[group]
	}
	groups := make(map[string]string, len(g.Groups))
	for jid, subject := range g.Groups {
		if !g.leftGroups[jid] {
			groups[jid] = subject
		}
	}
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
		if state != nil && strings.Contains(r.URL.Path, "/getStateInstance/") {
			st, b := state()
			w.WriteHeader(st)
			_, _ = w.Write([]byte(b))
			return
		}
		if self != "" && g.serveSelf(w, r, self, left) {
			return
		}
		if g.serveHistory(w, r, body, history) {
			return
		}
		switch {
		case strings.Contains(r.URL.Path, "getStateInstance"):
			fmt.Fprint(w, `{"stateInstance":"authorized"}`)
		case strings.Contains(r.URL.Path, "/getChats/"), strings.HasPrefix(r.URL.Path, "/api/group/list"), r.URL.Path == "/v2/groups":
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
func (g *Provider) serveSelf(w http.ResponseWriter, r *http.Request, self string, left bool) bool {
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
		return answer(map[string]any{"groupId": GroupJID, "subject": "Night shift", "participants": ps, "size": len(ps)})
	case p == "/v2/session/info":
		return answer(map[string]any{"status": "WORKING", "me": map[string]any{"id": user + "@c.us", "pushName": "ops"}})
	case strings.HasPrefix(p, "/v2/groups/") && strings.HasSuffix(p, "/participants"):
		return answer(ps)
	case strings.HasPrefix(p, "/api/instance/list"):
		return answer(map[string]any{"success": true, "data": []any{map[string]any{"name": "1101000001",
			"connection": map[string]any{"state": "connected", "numberJid": user + "@s.whatsapp.net"}}}})
	case strings.HasPrefix(p, "/api/group/info/"):
		return answer(map[string]any{"success": true, "data": map[string]any{"jid": GroupJID, "name": "Night shift",
			"participantCount": len(ps), "participants": ps}})
	}
	return false
}

// serveHistory answers the chat-history calls (Green API's
// getChatHistory, Wawp's chats/messages, RyzeAPI's chat/history) from
// history, newest message only, and reports whether r was one of them.
func (g *Provider) serveHistory(w http.ResponseWriter, r *http.Request, body []byte, history map[string]time.Time) bool {
	var in struct {
		ChatID string `json:"chatId"`
		Number string `json:"number"`
	}
	_ = json.Unmarshal(body, &in)
	p := r.URL.Path
	var chat string
	switch {
	case strings.Contains(p, "/getChatHistory/"):
		chat = in.ChatID
	case p == "/v2/chats/messages":
		chat = r.URL.Query().Get("chatId")
	case strings.HasPrefix(p, "/api/chat/history/"):
		chat = in.Number
	default:
		return false
	}
	at, known := history[chat]
	var msgs []map[string]any
	if known && !at.IsZero() {
		switch g.provider {
		case "greenapi":
			msgs = append(msgs, map[string]any{"type": "incoming", "idMessage": "F7AEC1B7086ECDC7E6E45923F5EDB825",
				"timestamp": at.Unix(), "typeMessage": "textMessage", "chatId": chat, "textMessage": "see you"})
		case "wawp":
			msgs = append(msgs, map[string]any{"id": "false_" + chat + "_AAAA", "timestamp": at.Unix(), "from": chat,
				"fromMe": false, "body": "see you", "hasMedia": false})
		default:
			msgs = append(msgs, map[string]any{"messageId": "3EB08FCF27E532F1B0F5", "content": "see you", "type": "text",
				"chat": chat, "senderJid": "5511999999999@s.whatsapp.net", "timestamp": at.UTC().Format(time.RFC3339), "isGroup": true})
		}
	}
	if msgs == nil {
		msgs = []map[string]any{}
	}
	if g.provider == "ryzeapi" {
		_ = json.NewEncoder(w).Encode(map[string]any{"success": true, "chat_jid": chat, "count": len(msgs), "hasMore": false, "messages": msgs})
	} else {
		_ = json.NewEncoder(w).Encode(msgs)
	}
	return true
}

// Calls returns the calls of one kind ("leave", "send", "other"; "" = all).
func (g *Provider) Calls(kind string) []ProviderCall {
	g.mu.Lock()
	defer g.mu.Unlock()
	var out []ProviderCall
	for _, c := range g.calls {
		if kind == "" || g.kind(c.Path) == kind {
			out = append(out, c)
		}
	}
	return out
}

// Locked runs fn with the provider's lock held, for changing its fields
// while the client may be calling it.
func (g *Provider) Locked(fn func()) {
	g.mu.Lock()
	defer g.mu.Unlock()
	fn()
}

// Name is the provider it answers as (WA_PROVIDER).
func (g *Provider) Name() string { return g.provider }
