package whatsapp

import (
	"context"
	"encoding/json"
	"net/http"
	"strings"
	"time"

	"golang.org/x/time/rate"
)

// GreenAPI is a Gateway for one Green API instance. Every method is called
// as {BaseURL}/waInstance{idInstance}/{method}/{apiTokenInstance}; the
// token in the path is why errors rebuild URLs before printing them.
//
// See https://green-api.com/en/docs/api/
type GreenAPI struct {
	c        *client
	instance string
}

var _ Gateway = (*GreenAPI)(nil)

// greenAPIMaxText is SendMessage's documented limit on message.
const greenAPIMaxText = 20000

// The Green API methods the client uses.
const (
	greenLeave = "leaveGroup"
	greenSend  = "sendMessage"
	greenGroup = "getGroupData"
	greenChats = "getChats"
	greenState = "getStateInstance"
	greenAdmin = "setGroupAdmin"
	greenSelf  = "getSettings"
	// greenHistory is limited to 1 request a second, like the other
	// journal methods.
	greenHistory = "getChatHistory"
)

// greenAPIRate is the documented limit of a method, in requests a second
// per instance. getChats is missing from the published table; it is
// assumed to share the 1/s of the other read methods.
//
// See https://green-api.com/en/docs/api/ratelimiter
func greenAPIRate(method string) float64 {
	switch method {
	case greenLeave, greenAdmin:
		return 10
	case greenSend:
		return 50
	}
	return 1
}

// NewGreenAPI returns a client for the instance cfg.Instance (idInstance)
// with token cfg.Token (apiTokenInstance). hc may be nil; it is not
// modified. Two clients for one instance do not share rate limits, so
// build one per process.
func NewGreenAPI(cfg Config, hc *http.Client) (*GreenAPI, error) {
	c, err := newClient("greenapi", cfg, hc)
	if err != nil {
		return nil, err
	}
	g := &GreenAPI{c: c, instance: cfg.Instance}
	c.limiters = make(map[string]*rate.Limiter)
	for _, m := range []string{greenLeave, greenSend, greenGroup, greenChats, greenState, greenAdmin, greenSelf, greenHistory} {
		c.limiters[m] = newLimiter(greenAPIRate(m), 1)
	}
	c.shared = newLimiter(1, 1)
	c.classify = g.classify
	return g, nil
}

func (g *GreenAPI) request(method, op string, body any, group bool) *request {
	return &request{
		op:     op,
		method: method,
		path:   "/waInstance" + escapeSegment(g.instance) + "/" + op + "/" + escapeSegment(g.c.token),
		body:   body,
		group:  group,
	}
}

// Leave calls leaveGroup. Green API answers {"leaveGroup": true}, or
// {"removeAdmin": true} when the instance was an admin. Its failure
// bodies are not documented, so a success status with anything else
// ({"leaveGroup": false}, {}, nothing) is ErrUnconfirmed: the caller
// looks the group up instead of guessing.
//
// See https://green-api.com/en/docs/api/groups/LeaveGroup/
func (g *GreenAPI) Leave(ctx context.Context, groupJID string) (LeaveResult, error) {
	if err := g.c.checkGroup(greenLeave, groupJID); err != nil {
		return LeaveResult{}, err
	}
	rq := g.request(http.MethodPost, greenLeave, map[string]string{"groupId": groupJID}, true)
	r, err := g.c.call(ctx, rq, nil)
	if err != nil {
		return LeaveResult{}, err
	}
	v := decodeAny(r.body)
	if m, ok := v.(map[string]any); ok && !r.truncated && (m["leaveGroup"] == true || m["removeAdmin"] == true) {
		return LeaveResult{WasAdmin: m["removeAdmin"] == true}, nil
	}
	if !g.c.readable(r, v) {
		return LeaveResult{}, g.c.unreadable(rq, r)
	}
	return LeaveResult{}, g.c.unconfirmed(rq, r, "neither leaveGroup nor removeAdmin is true")
}

// SendText calls sendMessage and returns its idMessage. A success status
// without one is ErrUnconfirmed: the message may have been queued.
//
// See https://green-api.com/en/docs/api/sending/SendMessage/
func (g *GreenAPI) SendText(ctx context.Context, chatID, text string) (string, error) {
	if err := g.c.checkChat(greenSend, chatID); err != nil {
		return "", err
	}
	if err := g.c.checkText(greenSend, text, greenAPIMaxText); err != nil {
		return "", err
	}
	body := map[string]string{"chatId": asCUs(chatID), "message": text}
	rq := g.request(http.MethodPost, greenSend, body, IsGroupJID(chatID))
	r, err := g.c.call(ctx, rq, nil)
	if err != nil {
		return "", err
	}
	v := decodeAny(r.body)
	if id, ok := at(v, "idMessage").(string); ok && id != "" && !r.truncated {
		return id, nil
	}
	if !g.c.readable(r, v) {
		return "", g.c.unreadable(rq, r)
	}
	return "", g.c.unconfirmed(rq, r, "no idMessage in the answer")
}

// Group calls getGroupData. Green API cannot resolve invite codes, so ref
// must be a group JID.
//
// See https://green-api.com/en/docs/api/groups/GetGroupData/
func (g *GreenAPI) Group(ctx context.Context, ref string) (Group, error) {
	if !IsGroupJID(ref) {
		return Group{}, g.c.invalid(greenGroup, "Green API looks groups up by JID only, and %q is not a group JID", ref)
	}
	var out struct {
		GroupID      string `json:"groupId"`
		Subject      string `json:"subject"`
		Participants []struct {
			ID           string `json:"id"`
			IsAdmin      bool   `json:"isAdmin"`
			IsSuperAdmin bool   `json:"isSuperAdmin"`
		} `json:"participants"`
		GroupInviteLink string `json:"groupInviteLink"`
		Size            int    `json:"size"`
	}
	rq := g.request(http.MethodPost, greenGroup, map[string]string{"groupId": ref}, true)
	r, err := g.c.call(ctx, rq, &out)
	if err != nil {
		return Group{}, err
	}
	if out.GroupID == "" {
		return Group{}, g.c.unexpected(rq, r, "no groupId in the answer", nil)
	}
	grp := Group{JID: out.GroupID, Subject: out.Subject, InviteLink: out.GroupInviteLink, Size: out.Size}
	for _, p := range out.Participants {
		grp.Participants = append(grp.Participants, Participant{JID: p.ID, IsAdmin: p.IsAdmin || p.IsSuperAdmin, IsSuperAdmin: p.IsSuperAdmin})
	}
	if grp.Size == 0 {
		grp.Size = len(grp.Participants)
	}
	return grp, nil
}

// Groups calls getChats and keeps the groups. The list entries are read
// leniently: only id, name and type matter here.
//
// See https://green-api.com/en/docs/api/service/GetChats/
func (g *GreenAPI) Groups(ctx context.Context) ([]GroupSummary, error) {
	rq := g.request(http.MethodGet, greenChats, nil, false)
	rq.limit = maxListBody
	var out any
	r, err := g.c.call(ctx, rq, &out)
	if err != nil {
		return nil, err
	}
	list, ok := unwrapList(out)
	if !ok {
		return nil, g.c.unexpected(rq, r, "no chat list in the answer", nil)
	}
	var groups []GroupSummary
	for _, e := range list {
		id, typ := str(e, "id"), str(e, "type")
		if (typ == "group" || typ == "") && IsGroupJID(id) {
			groups = append(groups, GroupSummary{JID: id, Subject: str(e, "name", "subject", "contactName")})
		}
	}
	return groups, nil
}

// Promote calls setGroupAdmin. Green API reports its failures ("participant
// not found", "failed to set group admin") with HTTP 200, so only
// {"setGroupAdmin": true} is a success.
//
// See https://green-api.com/en/docs/api/groups/SetGroupAdmin/
func (g *GreenAPI) Promote(ctx context.Context, groupJID, participant string) error {
	if err := g.c.checkGroup(greenAdmin, groupJID); err != nil {
		return err
	}
	if !isUserJID(participant) {
		return g.c.invalid(greenAdmin, "%q is not a participant JID", participant)
	}
	var out struct {
		SetGroupAdmin bool `json:"setGroupAdmin"`
	}
	body := map[string]string{"groupId": groupJID, "participantChatId": asCUs(participant)}
	rq := g.request(http.MethodPost, greenAdmin, body, true)
	r, err := g.c.call(ctx, rq, &out)
	if err != nil {
		return err
	}
	if !out.SetGroupAdmin {
		return g.c.unexpected(rq, r, "setGroupAdmin is not true", nil)
	}
	return nil
}

// State calls getStateInstance; only "authorized" can send and leave.
//
// See https://green-api.com/en/docs/api/account/GetStateInstance/
func (g *GreenAPI) State(ctx context.Context) (State, error) {
	var out struct {
		StateInstance string `json:"stateInstance"`
	}
	rq := g.request(http.MethodGet, greenState, nil, false)
	r, err := g.c.call(ctx, rq, &out)
	if err != nil {
		return State{}, err
	}
	if out.StateInstance == "" {
		return State{}, g.c.unexpected(rq, r, "no stateInstance in the answer", nil)
	}
	return State{Connected: out.StateInstance == "authorized", Raw: out.StateInstance}, nil
}

// Me calls getSettings and returns wid, the instance's own JID ("Account
// ID in WhatsApp"), which getStateInstance does not report (State.Me
// stays empty for Green API). getWaSettings, despite its name, has no
// wid: it answers {avatar, phone, stateInstance, deviceId} (newer pages
// add chatId, the account's @lid). wid is empty while the instance is not
// authorized.
//
// See https://green-api.com/en/docs/api/account/GetSettings/ and
// https://green-api.com/en/docs/api/account/GetWaSettings/
func (g *GreenAPI) Me(ctx context.Context) (string, error) {
	var out struct {
		Wid string `json:"wid"`
	}
	rq := g.request(http.MethodGet, greenSelf, nil, false)
	if _, err := g.c.call(ctx, rq, &out); err != nil {
		return "", err
	}
	return out.Wid, nil
}

// LastActivity calls getChatHistory for the group's newest message
// (count 1; the answer is sorted newest first) and returns its
// timestamp. Green API's journal holds only the messages that arrived
// while its incoming and outgoing webhook settings were on (and what
// WhatsApp handed over when the instance was authorized), so an empty
// history says nothing about the group: it is "cannot tell", a zero
// time. An answer that is not a message list is ErrUnavailable.
//
// See https://green-api.com/en/docs/api/journals/GetChatHistory/
func (g *GreenAPI) LastActivity(ctx context.Context, groupJID string) (time.Time, error) {
	if err := g.c.checkGroup(greenHistory, groupJID); err != nil {
		return time.Time{}, err
	}
	rq := g.request(http.MethodPost, greenHistory, map[string]any{"chatId": groupJID, "count": 1}, true)
	var out any
	r, err := g.c.call(ctx, rq, &out)
	if err != nil {
		return time.Time{}, err
	}
	return g.c.lastActivity(rq, r, out)
}

// DryRun is false: the calls reach WhatsApp.
func (*GreenAPI) DryRun() bool { return false }

// InviteLink is the link Green API's group data (getGroupData) carries:
// it has no call of its own for it.
func (g *GreenAPI) InviteLink(_ context.Context, grp Group) (string, error) {
	return grp.InviteLink, nil
}

// classify adds Green API's own conventions to the shared rules: 403 means
// a wrong idInstance, 466 a used-up quota, and some failures arrive with
// HTTP 200 and a body such as {"code":401,"description":"Unauthorized"}.
//
// See https://green-api.com/en/docs/api/common-errors/
func (g *GreenAPI) classify(rq *request, r *response) *Error {
	status := r.status
	if status >= 200 && status < 300 {
		status = embeddedStatus(r.body, "code")
	}
	switch {
	case status == 466:
		return g.c.fail(rq.op, r.status, ErrQuota, g.quotaMessage(r.body), nil)
	case status == http.StatusForbidden:
		msg, _ := g.c.message(r.body)
		return g.c.fail(rq.op, r.status, ErrUnauthorized, msg, nil)
	case status < 400:
		return g.c.classifyDefault(rq, r)
	}
	msg, structured := g.c.message(r.body)
	return g.c.statusError(rq, r, status, msg, structured)
}

// quotaMessage joins the descriptions of a 466 answer's invokeStatus and
// correspondentsStatus.
//
// See https://green-api.com/en/docs/api/466-error-example-body/
func (g *GreenAPI) quotaMessage(body []byte) string {
	var out struct {
		InvokeStatus         struct{ Description string } `json:"invokeStatus"`
		CorrespondentsStatus struct{ Description string } `json:"correspondentsStatus"`
	}
	var parts []string
	if json.Unmarshal(body, &out) == nil {
		for _, d := range []string{out.InvokeStatus.Description, out.CorrespondentsStatus.Description} {
			if strings.TrimSpace(d) != "" {
				parts = append(parts, d)
			}
		}
	}
	if len(parts) == 0 {
		msg, _ := g.c.message(body)
		return msg
	}
	return strings.Join(parts, "; ")
}

// Pace is the rate, in calls a second, at which the client lets calls of
// the Gateway method out (Pacer); 0 for a method it does not know.
func (g *GreenAPI) Pace(method string) float64 {
	op, ok := map[string]string{"Leave": greenLeave, "SendText": greenSend, "Group": greenGroup, "Groups": greenChats}[method]
	if !ok {
		return 0
	}
	return float64(g.c.limiter(op).Limit())
}
