package whatsapp

import (
	"context"
	"net/http"
	"net/url"
	"strings"
	"time"
)

// RyzeAPI is a Gateway for one RyzeAPI instance, addressed by name in the
// path and authenticated by the token header. Its answers use the envelope
// {"success": bool, ...} and its errors {"success": false, "error":
// {"message": "..."}}, told apart by HTTP status and message.
//
// See https://docs.ryzeapi.cloud/en/api/groups/overview
type RyzeAPI struct {
	c        *client
	instance string
}

var _ Gateway = (*RyzeAPI)(nil)

const (
	// ryzeMaxText is WhatsApp's own message limit: RyzeAPI documents none.
	ryzeMaxText = 65536
	// ryzePerMinute is the documented limit per token, counted over a
	// minute. Calls go out evenly spaced, one at a time (burst one): a
	// burst of b would take b-1 calls of the minute's spare, where the
	// margin leaves less than two.
	ryzePerMinute = 100
)

// The RyzeAPI endpoints the client uses, named by their paths.
const (
	ryzeLeave   = "group/leave"
	ryzeSend    = "message/text"
	ryzeInfo    = "group/info"
	ryzeList    = "group/list"
	ryzeState   = "instance/list"
	ryzePromote = "group/participants"
	ryzeHistory = "chat/history"
)

// NewRyzeAPI returns a client for the instance named cfg.Instance with the
// token cfg.Token (a TokenInstance, or a TokenAccount). hc may be nil; it
// is not modified.
//
// See https://docs.ryzeapi.cloud/en/guide/rate-limit-cors
func NewRyzeAPI(cfg Config, hc *http.Client) (*RyzeAPI, error) {
	c, err := newClient("ryzeapi", cfg, hc)
	if err != nil {
		return nil, err
	}
	y := &RyzeAPI{c: c, instance: cfg.Instance}
	c.shared = newLimiter(ryzePerMinute/60.0, 1)
	c.window = time.Minute
	c.header.Set("token", cfg.Token)
	c.resetHeader = true
	c.classify = y.classify
	return y, nil
}

func (y *RyzeAPI) request(method, op, path string, query url.Values, body any, group bool) *request {
	return &request{op: op, method: method, path: path + "/" + escapeSegment(y.instance), query: query, body: body, group: group}
}

// Leave calls DELETE /api/group/leave/{instance}?identifier=JID. Leaving a
// group the instance already left is a 404, i.e. ErrNotMember.
//
// See https://docs.ryzeapi.cloud/en/api/groups/leave
func (y *RyzeAPI) Leave(ctx context.Context, groupJID string) (LeaveResult, error) {
	if err := y.c.checkGroup(ryzeLeave, groupJID); err != nil {
		return LeaveResult{}, err
	}
	rq := y.request(http.MethodDelete, ryzeLeave, "/api/group/leave", url.Values{"identifier": {groupJID}}, nil, true)
	r, err := y.c.call(ctx, rq, nil)
	if err != nil {
		return LeaveResult{}, err
	}
	return LeaveResult{}, y.c.expectTrue(rq, r, "success")
}

// SendText calls POST /api/message/text/{instance} and returns the
// messageId from the envelope.
//
// See https://docs.ryzeapi.cloud/en/api/messages/text
func (y *RyzeAPI) SendText(ctx context.Context, chatID, text string) (string, error) {
	if err := y.c.checkChat(ryzeSend, chatID); err != nil {
		return "", err
	}
	if err := y.c.checkText(ryzeSend, text, ryzeMaxText); err != nil {
		return "", err
	}
	body := map[string]string{"number": ryzeNumber(chatID), "message": text}
	rq := y.request(http.MethodPost, ryzeSend, "/api/message/text", nil, body, IsGroupJID(chatID))
	r, err := y.c.call(ctx, rq, nil)
	if err != nil {
		return "", err
	}
	if err := y.c.expectTrue(rq, r, "success"); err != nil {
		return "", err
	}
	return str(decodeAny(r.body), "data.messageId", "messageId", "data.id", "data.key.id", "data.message.id", "id", "key.id"), nil
}

// ryzeNumber is a chat in the form RyzeAPI's "number" takes: a plain
// phone number for people, the full JID for groups and @lid.
func ryzeNumber(jid string) string {
	if user, ok := strings.CutSuffix(jid, "@c.us"); ok {
		return user
	}
	if user, ok := strings.CutSuffix(jid, "@s.whatsapp.net"); ok {
		return user
	}
	return jid
}

// Group calls GET /api/group/info/{instance}?identifier=..., which takes
// a group JID, an invite code or an invite link.
//
// See https://docs.ryzeapi.cloud/en/api/groups/info
func (y *RyzeAPI) Group(ctx context.Context, ref string) (Group, error) {
	ident := ref
	if !IsGroupJID(ref) {
		code, ok := InviteCode(ref)
		if !ok {
			return Group{}, y.c.invalid(ryzeInfo, "%q is neither a group JID nor an invite code or link", ref)
		}
		ident = code
	}
	rq := y.request(http.MethodGet, ryzeInfo, "/api/group/info", url.Values{"identifier": {ident}}, nil, true)
	var out any
	r, err := y.c.call(ctx, rq, &out)
	if err != nil {
		return Group{}, err
	}
	obj := unwrapObject(out)
	if g, ok := obj["group"].(map[string]any); ok {
		obj = g
	}
	jid := str(obj, "jid", "id", "groupJid")
	if !IsGroupJID(jid) {
		return Group{}, y.c.unexpected(rq, r, "no group JID in the answer", nil)
	}
	grp := Group{
		JID:        jid,
		Subject:    str(obj, "name", "subject"),
		InviteLink: str(obj, "inviteLink"),
		Size:       number(obj, "participantCount", "size"),
	}
	if code, ok := InviteCode(str(obj, "inviteCode")); ok && grp.InviteLink == "" {
		grp.InviteLink = InviteLink(code)
	}
	if list, ok := obj["participants"].([]any); ok {
		for _, e := range list {
			if p, ok := participant(e); ok {
				grp.Participants = append(grp.Participants, p)
			}
		}
	}
	if grp.Size == 0 {
		grp.Size = len(grp.Participants)
	}
	return grp, nil
}

// Groups calls GET /api/group/list/{instance}, whose answer is not
// documented: a list, bare or in the envelope, of entries with a jid (or
// id) and a name (or subject).
func (y *RyzeAPI) Groups(ctx context.Context) ([]GroupSummary, error) {
	rq := y.request(http.MethodGet, ryzeList, "/api/group/list", nil, nil, false)
	rq.limit = maxListBody
	var out any
	r, err := y.c.call(ctx, rq, &out)
	if err != nil {
		return nil, err
	}
	list, ok := unwrapList(out)
	if !ok {
		return nil, y.c.unexpected(rq, r, "no group list in the answer", nil)
	}
	var groups []GroupSummary
	for _, e := range list {
		jid := str(e, "jid", "id", "groupJid")
		if !IsGroupJID(jid) {
			continue // a chat that is not a group, or an ID no group call would take
		}
		groups = append(groups, GroupSummary{JID: jid, Subject: str(e, "name", "subject")})
	}
	return groups, nil
}

// Promote calls POST /api/group/participants/{instance} with action
// "promote". The answer reports each participant separately, so a 200 can
// carry a failure; RyzeAPI lets only super-admins promote.
//
// See https://docs.ryzeapi.cloud/en/api/groups/participants
func (y *RyzeAPI) Promote(ctx context.Context, groupJID, participant string) error {
	if err := y.c.checkGroup(ryzePromote, groupJID); err != nil {
		return err
	}
	if !isUserJID(participant) {
		return y.c.invalid(ryzePromote, "%q is not a participant JID", participant)
	}
	body := map[string]any{"action": "promote", "identifier": groupJID, "participants": []string{ryzeNumber(participant)}}
	rq := y.request(http.MethodPost, ryzePromote, "/api/group/participants", nil, body, true)
	r, err := y.c.call(ctx, rq, nil)
	if err != nil {
		return err
	}
	if err := y.c.expectJSON(rq, r); err != nil {
		return err
	}
	results, _ := unwrapList(decodeAny(r.body))
	for _, e := range results {
		if m, ok := e.(map[string]any); !ok || m["success"] != false {
			continue
		}
		msg := str(e, "error.message", "error", "message", "reason")
		if msg == "" {
			msg = "promotion refused for " + participant
		}
		kind := ErrInvalid
		if forbiddenText.MatchString(msg) {
			kind = ErrForbidden
		}
		return y.c.fail(ryzePromote, r.status, kind, msg, nil)
	}
	return nil
}

// LastActivity calls POST /api/chat/history/{instance} for the group's
// newest message ({"number": JID, "count": 1}; the answer's messages are
// newest first) and returns its time. RyzeAPI keeps the messages its
// ingestion stored; an empty list is "cannot tell", a zero time. The
// documented envelope is {chat_jid, count, hasMore, messages}; the
// message's time field is read as RFC 3339 (as its stored messages
// carry it) or unix time.
//
// See https://docs.ryzeapi.cloud/en/api/chat/history
func (y *RyzeAPI) LastActivity(ctx context.Context, groupJID string) (time.Time, error) {
	if err := y.c.checkGroup(ryzeHistory, groupJID); err != nil {
		return time.Time{}, err
	}
	body := map[string]any{"number": groupJID, "count": 1}
	rq := y.request(http.MethodPost, ryzeHistory, "/api/chat/history", nil, body, true)
	var out any
	r, err := y.c.call(ctx, rq, &out)
	if err != nil {
		return time.Time{}, err
	}
	return y.c.lastActivity(rq, r, out)
}

// Me is the instance's JID from its state answer (connection.numberJid).
func (y *RyzeAPI) Me(ctx context.Context) (string, error) {
	st, err := y.State(ctx)
	return st.Me, err
}

// DryRun is false: the calls reach WhatsApp.
func (*RyzeAPI) DryRun() bool { return false }

// InviteLink is the link RyzeAPI's group metadata carries (inviteLink or
// inviteCode): it has no call of its own for it.
func (y *RyzeAPI) InviteLink(_ context.Context, g Group) (string, error) {
	return g.InviteLink, nil
}

// State calls GET /api/instance/list, "the cheapest way to poll the
// connection state", and reads connection.state (connected, connecting,
// disconnected or loggedout) of this instance.
//
// See https://docs.ryzeapi.cloud/en/api/instance/list
func (y *RyzeAPI) State(ctx context.Context) (State, error) {
	rq := &request{op: ryzeState, method: http.MethodGet, path: "/api/instance/list", query: url.Values{"instanceName": {y.instance}}}
	var out any
	r, err := y.c.call(ctx, rq, &out)
	if err != nil {
		return State{}, err
	}
	list, ok := unwrapList(out)
	if !ok {
		list = []any{unwrapObject(out)}
	}
	var inst any
	for _, e := range list {
		if str(e, "name", "instanceName", "instance", "instance.name") == y.instance {
			inst = e
			break
		}
	}
	if inst == nil && len(list) == 1 {
		// A TokenInstance sees only its own instance, however it is named.
		inst = list[0]
	}
	if inst == nil {
		return State{}, y.c.fail(ryzeState, r.status, ErrUnauthorized, "the token does not list instance "+y.instance, nil)
	}
	raw := str(inst, "connection.state", "connectionState", "state", "status", "connection.status")
	if raw == "" {
		return State{}, y.c.unexpected(rq, r, "no connection state in the answer", nil)
	}
	return State{Connected: strings.EqualFold(raw, "connected"), Raw: raw, Me: str(inst, "connection.numberJid", "numberJid", "connection.jid")}, nil
}

// classify adds RyzeAPI's conventions to the shared rules: a 503 in its
// own envelope means the instance is not connected (a proxy's 503 is just
// unavailability).
//
// See https://docs.ryzeapi.cloud/en/guide/errors
func (y *RyzeAPI) classify(rq *request, r *response) *Error {
	e := y.c.classifyDefault(rq, r)
	if e != nil && r.status == http.StatusServiceUnavailable && e.Kind == ErrUnavailable {
		if m, ok := decodeAny(r.body).(map[string]any); ok && m["success"] == false {
			e.Kind = ErrNotConnected
		}
	}
	return e
}

// Pace is the rate, in calls a second, at which the client lets calls of
// the Gateway method out (Pacer); 0 for a method it does not know.
func (y *RyzeAPI) Pace(method string) float64 {
	op, ok := map[string]string{"Leave": ryzeLeave, "SendText": ryzeSend, "Group": ryzeInfo, "Groups": ryzeList}[method]
	if !ok {
		return 0
	}
	return float64(y.c.limiter(op).Limit())
}
