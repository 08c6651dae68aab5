package fake

import (
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
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
	// listing answers with (Green API and RyzeAPI), in the provider's
	// shape; otherwise the listing is empty.
	Groups map[string]string
	// History, when set, is when each group (JID) last had a message:
	// the chat-history calls answer with that one message, in the
	// provider's shape, and with an empty history for a group not in it
	// (the gateway cannot tell).
	History map[string]time.Time
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
	g.mu.Lock()
	g.calls = append(g.calls, ProviderCall{Method: r.Method, Path: r.URL.Path, RawPath: r.URL.EscapedPath(), Query: r.URL.RawQuery, Header: r.Header.Clone(), Body: string(body), At: time.Now()})
	n := 0
	for _, c := range g.calls {
		if g.kind(c.Path) == kind {
			n++
		}
	}
	if kind == "leave" && !g.Stay {
		g.left = true // the gateway acts on the call before it answers
	}
	leave, send, block, blockSend, groupDelay := g.Leave, g.Send, g.Block, g.BlockSend, g.GroupDelay
	self, left, state, groups, history := g.Self, g.left, g.State, g.Groups, g.History
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
