package whatsapp

import (
	"context"
	"fmt"
	"math"
	"net/http"
	"net/url"
	"regexp"
	"strings"
	"time"
)

// Wawp is a Gateway for one Wawp instance. Wawp is hosted WAHA: its paths
// and answers follow WAHA's, with Wawp's credentials added. The
// credentials go in the query string of every call, again in the JSON body
// of every POST, and in the access-token header, because Wawp's documents
// show all three and do not say which one wins.
//
// See https://api.wawp.net/en/docs/v2/groups/{id}/leave
type Wawp struct {
	c        *client
	instance string
}

var _ Gateway = (*Wawp)(nil)

const (
	// wawpMaxText is the documented limit of /v2/send/text.
	wawpMaxText = 4096
	// wawpRate is the default requests a second: Wawp documents no limit,
	// and WhatsApp itself punishes bursts.
	wawpRate = 5
)

// The Wawp endpoints the client uses, named by their paths.
const (
	wawpLeave        = "groups/leave"
	wawpSend         = "send/text"
	wawpGroups       = "groups"
	wawpParticipants = "groups/participants"
	wawpState        = "session/info"
	wawpPromote      = "groups/admin/promote"
	wawpInvite       = "groups/invite-code"
	wawpMessages     = "chats/messages"
)

// NewWawp returns a client for the instance cfg.Instance (instance_id)
// with token cfg.Token (access_token), limited to cfg.Rate requests a
// second (5 when zero). hc may be nil; it is not modified.
func NewWawp(cfg Config, hc *http.Client) (*Wawp, error) {
	if cfg.Rate < 0 || math.IsNaN(cfg.Rate) || math.IsInf(cfg.Rate, 0) {
		return nil, fmt.Errorf("whatsapp: wawp: Rate must be a positive number of requests a second")
	}
	c, err := newClient("wawp", cfg, hc)
	if err != nil {
		return nil, err
	}
	w := &Wawp{c: c, instance: cfg.Instance}
	perSecond := cfg.Rate
	if perSecond == 0 {
		perSecond = wawpRate
	}
	// Wawp documents no limit, so this rate is the ceiling: kept with
	// the same margin as a documented one, so that a gateway (or a proxy)
	// that enforces exactly that rate answers no 429.
	c.shared = newLimiter(perSecond, 1)
	c.header.Set("access-token", cfg.Token)
	c.classify = w.classify
	return w, nil
}

func (w *Wawp) creds() url.Values {
	return url.Values{"instance_id": {w.instance}, "access_token": {w.c.token}}
}

func (w *Wawp) get(op, path string, group bool) *request {
	return &request{op: op, method: http.MethodGet, path: path, query: w.creds(), group: group}
}

func (w *Wawp) post(op, path string, body map[string]any, group bool) *request {
	body["instance_id"] = w.instance
	body["access_token"] = w.c.token
	return &request{op: op, method: http.MethodPost, path: path, query: w.creds(), body: body, group: group}
}

// Leave calls POST /v2/groups/{id}/leave, which answers {"ok": true}. The
// group id also goes in the body, where the page lists it among the body
// parameters.
//
// See https://api.wawp.net/en/docs/v2/groups/{id}/leave
func (w *Wawp) Leave(ctx context.Context, groupJID string) (LeaveResult, error) {
	if err := w.c.checkGroup(wawpLeave, groupJID); err != nil {
		return LeaveResult{}, err
	}
	rq := w.post(wawpLeave, "/v2/groups/"+escapeSegment(groupJID)+"/leave", map[string]any{"id": groupJID}, true)
	r, err := w.c.call(ctx, rq, nil)
	if err != nil {
		return LeaveResult{}, err
	}
	return LeaveResult{}, w.c.expectTrue(rq, r, "ok")
}

// SendText calls POST /v2/send/text. The answer is a whatsapp-web.js
// message whose exact shape is undocumented, so the ID is looked for in
// the places such messages keep it, and is empty when none is found: the
// message was accepted either way, as long as the answer is a JSON object.
//
// See https://api.wawp.net/en/docs/v2/send/text
func (w *Wawp) SendText(ctx context.Context, chatID, text string) (string, error) {
	if err := w.c.checkChat(wawpSend, chatID); err != nil {
		return "", err
	}
	if err := w.c.checkText(wawpSend, text, wawpMaxText); err != nil {
		return "", err
	}
	rq := w.post(wawpSend, "/v2/send/text", map[string]any{"chatId": asCUs(chatID), "message": text}, IsGroupJID(chatID))
	r, err := w.c.call(ctx, rq, nil)
	if err != nil {
		return "", err
	}
	if err := w.c.expectObject(rq, r); err != nil {
		return "", err
	}
	return str(decodeAny(r.body), "id", "_data.id", "key.id", "messageId", "message.id",
		"data.id", "data._data.id", "data.key.id", "data.messageId"), nil
}

// Group calls GET /v2/groups/{id}/participants for the admin flags. Wawp
// cannot resolve invite codes, so ref must be a group JID; the subject is
// left empty rather than spending a list call on it.
//
// See https://api.wawp.net/en/docs/v2/groups/{id}/participants
func (w *Wawp) Group(ctx context.Context, ref string) (Group, error) {
	if !IsGroupJID(ref) {
		return Group{}, w.c.invalid(wawpParticipants, "Wawp looks groups up by JID only, and %q is not a group JID", ref)
	}
	rq := w.get(wawpParticipants, "/v2/groups/"+escapeSegment(ref)+"/participants", true)
	var out any
	r, err := w.c.call(ctx, rq, &out)
	if err != nil {
		return Group{}, err
	}
	list, ok := unwrapList(out)
	if !ok {
		return Group{}, w.c.unexpected(rq, r, "no participant list in the answer", nil)
	}
	grp := Group{JID: ref}
	for _, e := range list {
		if p, ok := participant(e); ok {
			grp.Participants = append(grp.Participants, p)
		}
	}
	grp.Size = len(grp.Participants)
	return grp, nil
}

// InviteLink is the link g carries, or else the one GET
// /v2/groups/{id}/invite-code gives: Wawp's participant list does not
// carry it (Green API's group data does). WhatsApp shows it only to admins. Wawp documents no answer
// shape: a JSON string (a link or a bare code) and an object naming one
// are accepted; an answer with neither is ErrUnavailable, like any
// answer the client cannot read.
//
// See https://api.wawp.net/en/docs/v2/groups/%7Bid%7D/invite-code
func (w *Wawp) InviteLink(ctx context.Context, g Group) (string, error) {
	if g.InviteLink != "" {
		return g.InviteLink, nil
	}
	groupJID := g.JID
	if err := w.c.checkGroup(wawpInvite, groupJID); err != nil {
		return "", err
	}
	rq := w.get(wawpInvite, "/v2/groups/"+escapeSegment(groupJID)+"/invite-code", true)
	var out any
	r, err := w.c.call(ctx, rq, &out)
	if err != nil {
		return "", err
	}
	s, _ := out.(string)
	if s == "" {
		s = str(out, "inviteLink", "invite_link", "link", "url", "inviteCode", "invite_code", "code",
			"data.inviteLink", "data.link", "data.inviteCode", "data.code", "data")
	}
	code, ok := InviteCode(strings.TrimSpace(s))
	if !ok {
		return "", w.c.unexpected(rq, r, "no invite code in the answer", nil)
	}
	return InviteLink(code), nil
}

// Groups calls GET /v2/groups, which Wawp's pages name ("Get All Groups")
// but do not describe: an array, an object wrapping one, and WAHA's object
// keyed by group ID are all accepted.
func (w *Wawp) Groups(ctx context.Context) ([]GroupSummary, error) {
	rq := w.get(wawpGroups, "/v2/groups", false)
	rq.limit = maxListBody
	var out any
	r, err := w.c.call(ctx, rq, &out)
	if err != nil {
		return nil, err
	}
	list, ok := unwrapList(out)
	if !ok {
		return nil, w.c.unexpected(rq, r, "no group list in the answer", nil)
	}
	var groups []GroupSummary
	for _, e := range list {
		id := str(e, "id", "jid", "groupId", "chatId", "groupMetadata.id")
		if !IsGroupJID(id) {
			continue // a chat that is not a group, or an ID no group call would take
		}
		groups = append(groups, GroupSummary{JID: id, Subject: str(e, "subject", "name", "groupMetadata.subject", "metadata.subject", "title")})
	}
	return groups, nil
}

// Promote calls POST /v2/groups/{id}/admin/promote.
//
// See https://api.wawp.net/en/docs/v2/groups/{id}/admin/promote
func (w *Wawp) Promote(ctx context.Context, groupJID, participant string) error {
	if err := w.c.checkGroup(wawpPromote, groupJID); err != nil {
		return err
	}
	if !isUserJID(participant) {
		return w.c.invalid(wawpPromote, "%q is not a participant JID", participant)
	}
	body := map[string]any{"id": groupJID, "participants": []map[string]string{{"id": asCUs(participant)}}}
	rq := w.post(wawpPromote, "/v2/groups/"+escapeSegment(groupJID)+"/admin/promote", body, true)
	r, err := w.c.call(ctx, rq, nil)
	if err != nil {
		return err
	}
	return w.c.expectJSON(rq, r)
}

// LastActivity calls GET /v2/chats/messages for the group's newest
// message (limit 1, media not downloaded) and returns its timestamp
// (WAHA's unix seconds). Wawp passes WAHA's message list through; an
// empty list means the session stored nothing of the group, which is
// "cannot tell", a zero time.
//
// See https://api.wawp.net/en/docs/v2/chats/messages
func (w *Wawp) LastActivity(ctx context.Context, groupJID string) (time.Time, error) {
	if err := w.c.checkGroup(wawpMessages, groupJID); err != nil {
		return time.Time{}, err
	}
	rq := w.get(wawpMessages, "/v2/chats/messages", true)
	rq.query.Set("chatId", groupJID)
	rq.query.Set("limit", "1")
	rq.query.Set("offset", "0")
	rq.query.Set("downloadMedia", "false")
	var out any
	r, err := w.c.call(ctx, rq, &out)
	if err != nil {
		return time.Time{}, err
	}
	return w.c.lastActivity(rq, r, out)
}

// wawpConnected are the session states (WAHA's, and synonyms) in which the
// instance can send and leave.
var wawpConnected = []string{"WORKING", "CONNECTED", "AUTHENTICATED", "AUTHORIZED", "OPEN", "READY", "ONLINE"}

// DryRun is false: the calls reach WhatsApp.
func (*Wawp) DryRun() bool { return false }

// Me is the instance's JID from its session's state answer (me.id).
func (w *Wawp) Me(ctx context.Context) (string, error) {
	st, err := w.State(ctx)
	return st.Me, err
}

// State calls GET /v2/session/info, whose answer is undocumented; the
// session status (WAHA's WORKING, SCAN_QR_CODE, STARTING, FAILED,
// STOPPED) is looked for in the likely places.
func (w *Wawp) State(ctx context.Context) (State, error) {
	rq := w.get(wawpState, "/v2/session/info", false)
	rq.sessionStatus = true
	var out any
	r, err := w.c.call(ctx, rq, &out)
	if err != nil {
		return State{}, err
	}
	st, err := w.state(rq, r, out)
	if err == nil {
		// WAHA's session info names the account as me: {id, pushName}.
		st.Me = str(out, "me.id", "data.me.id", "session.me.id", "data.session.me.id")
	}
	return st, err
}

// state finds the session status in a session/info answer.
func (w *Wawp) state(rq *request, r *response, out any) (State, error) {
	for _, prefix := range []string{"", "data.", "session.", "instance.", "result.", "data.session."} {
		for _, key := range []string{"status", "state", "session_status", "sessionStatus", "connectionStatus", "connection.state"} {
			raw, ok := at(out, prefix+key).(string)
			if !ok || raw == "" || strings.EqualFold(raw, "success") || strings.EqualFold(raw, "ok") {
				continue
			}
			up := strings.ToUpper(raw)
			for _, s := range wawpConnected {
				if up == s {
					return State{Connected: true, Raw: raw}, nil
				}
			}
			return State{Raw: raw}, nil
		}
		if b, ok := at(out, prefix+"connected").(bool); ok {
			if b {
				return State{Connected: true, Raw: "connected"}, nil
			}
			return State{Raw: "disconnected"}, nil
		}
	}
	return State{}, w.c.unexpected(rq, r, "no session status in the answer", nil)
}

// wawpNotFound is how Wawp words a 400 for a group the instance is not in
// (its leave page: "will return a 404 or 400 error").
var wawpNotFound = regexp.MustCompile(`(?i)not\s+found|does\s+not\s+exist|doesn't\s+exist`)

// classify adds Wawp's conventions to the shared rules: a failure status
// may also arrive inside a 2xx body ({status, message, error}, as its
// OpenAPI declares), and a 400 about a missing group means not a member.
func (w *Wawp) classify(rq *request, r *response) *Error {
	status := r.status
	if status >= 200 && status < 300 {
		status = embeddedStatus(r.body, "status", "statusCode")
	}
	if status < 400 {
		return w.c.classifyDefault(rq, r)
	}
	msg, structured := w.c.message(r.body)
	e := w.c.statusError(rq, r, status, msg, structured)
	if status == http.StatusBadRequest && e.Kind == ErrInvalid && rq.group &&
		wawpNotFound.MatchString(msg) && !strings.Contains(strings.ToLower(msg), "participant") {
		e.Kind = ErrNotMember
	}
	return e
}

// Pace is the rate, in calls a second, at which the client lets calls of
// the Gateway method out (Pacer); 0 for a method it does not know.
func (w *Wawp) Pace(method string) float64 {
	op, ok := map[string]string{"Leave": wawpLeave, "SendText": wawpSend, "Group": wawpParticipants, "Groups": wawpGroups}[method]
	if !ok {
		return 0
	}
	return float64(w.c.limiter(op).Limit())
}
