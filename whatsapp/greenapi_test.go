package whatsapp

import (
	"context"
	"net/http"
	"strings"
	"testing"
	"time"
)

// greenPath is the escaped path of a Green API method for the test
// instance and token.
func greenPath(method string) string {
	return "/waInstance" + testInstance + "/" + method + "/s3cr3t%2FT0ken+xyz"
}

func TestGreenAPIWire(t *testing.T) {
	t.Parallel()
	runWire(t, "greenapi", map[string]string{"Accept": "application/json", "Token": "", "Access-Token": ""}, []wireCase{
		{
			name:   "Leave",
			call:   func(ctx context.Context, gw Gateway) (any, error) { return gw.Leave(ctx, testOldGroup) },
			answer: `{"leaveGroup": true}`,
			method: http.MethodPost, path: greenPath("leaveGroup"),
			body: `{"groupId": "11001234567-1587570015@g.us"}`,
			want: LeaveResult{},
		},
		{
			name:   "Leave as admin",
			call:   func(ctx context.Context, gw Gateway) (any, error) { return gw.Leave(ctx, testGroup) },
			answer: `{"removeAdmin": true}`,
			method: http.MethodPost, path: greenPath("leaveGroup"),
			body: `{"groupId": "120363406289005073@g.us"}`,
			want: LeaveResult{WasAdmin: true},
		},
		{
			name: "SendText",
			call: func(ctx context.Context, gw Gateway) (any, error) {
				return gw.SendText(ctx, testGroup, "Goodbye & thanks 👋")
			},
			answer: `{"idMessage": "3EB0C767D097B7C7C030"}`,
			method: http.MethodPost, path: greenPath("sendMessage"),
			body: `{"chatId": "120363406289005073@g.us", "message": "Goodbye & thanks 👋"}`,
			want: "3EB0C767D097B7C7C030",
		},
		{
			name: "SendText to a whatsmeow-style user JID",
			call: func(ctx context.Context, gw Gateway) (any, error) {
				return gw.SendText(ctx, "79001234567@s.whatsapp.net", "hi")
			},
			answer: `{"idMessage": "X1"}`,
			method: http.MethodPost, path: greenPath("sendMessage"),
			body: `{"chatId": "79001234567@c.us", "message": "hi"}`,
			want: "X1",
		},
		{
			name: "Group",
			call: func(ctx context.Context, gw Gateway) (any, error) { return gw.Group(ctx, testOldGroup) },
			answer: `{"groupId": "11001234567-1587570015@g.us", "owner": "11001234567@c.us", "subject": "Green API Group",
				"creation": 1587570015, "participants": [
					{"id": "11001234567@c.us", "isAdmin": true, "isSuperAdmin": true},
					{"id": "79001234568@c.us", "isAdmin": true, "isSuperAdmin": false},
					{"id": "79001234569@c.us", "isAdmin": false, "isSuperAdmin": false}],
				"subjectTime": 1587737715, "subjectOwner": "11001234567@c.us",
				"groupInviteLink": "https://chat.whatsapp.com/AbCdEfGhIjKlMnOpQrStUv"}`,
			method: http.MethodPost, path: greenPath("getGroupData"),
			body: `{"groupId": "11001234567-1587570015@g.us"}`,
			want: Group{
				JID: testOldGroup, Subject: "Green API Group", Size: 3,
				InviteLink: "https://chat.whatsapp.com/AbCdEfGhIjKlMnOpQrStUv",
				Participants: []Participant{
					{JID: "11001234567@c.us", IsAdmin: true, IsSuperAdmin: true},
					{JID: "79001234568@c.us", IsAdmin: true},
					{JID: "79001234569@c.us"},
				},
			},
		},
		{
			name: "Group with size and no invite link (not an admin)",
			call: func(ctx context.Context, gw Gateway) (any, error) { return gw.Group(ctx, testGroup) },
			answer: `{"groupId": "120363406289005073@g.us", "subject": "Ops", "groupInviteLink": "", "size": 250,
				"participants": [{"id": "1@lid", "lid": "1@lid", "isAdmin": false, "isSuperAdmin": false}]}`,
			method: http.MethodPost, path: greenPath("getGroupData"),
			body: `{"groupId": "120363406289005073@g.us"}`,
			want: Group{JID: testGroup, Subject: "Ops", Size: 250, Participants: []Participant{{JID: "1@lid"}}},
		},
		{
			name: "Groups keeps only groups",
			call: func(ctx context.Context, gw Gateway) (any, error) { return gw.Groups(ctx) },
			answer: `[
				{"archive": false, "id": "79001234567@c.us", "name": "Ann", "type": "user"},
				{"archive": false, "id": "120363406289005073@g.us", "name": "Ops team", "type": "group", "ephemeralExpiration": 0},
				{"id": "11001234567-1587570015@g.us", "name": "", "type": "group"},
				{"id": 12345, "name": ["odd"], "type": "group"},
				{"id": "79001234568@c.us", "name": "typed as a group, but a person", "type": "group"},
				"not an object"]`,
			method: http.MethodGet, path: greenPath("getChats"),
			want: []GroupSummary{{JID: testGroup, Subject: "Ops team"}, {JID: testOldGroup}},
		},
		{
			name: "Promote",
			call: func(ctx context.Context, gw Gateway) (any, error) {
				return nil, gw.Promote(ctx, testGroup, "79001234567@s.whatsapp.net")
			},
			answer: `{"setGroupAdmin": true}`,
			method: http.MethodPost, path: greenPath("setGroupAdmin"),
			body: `{"groupId": "120363406289005073@g.us", "participantChatId": "79001234567@c.us"}`,
			want: nil,
		},
		{
			name:   "State authorized",
			call:   func(ctx context.Context, gw Gateway) (any, error) { return gw.State(ctx) },
			answer: `{"stateInstance": "authorized"}`,
			method: http.MethodGet, path: greenPath("getStateInstance"),
			want: State{Connected: true, Raw: "authorized"},
		},
		{
			name:   "State not authorized",
			call:   func(ctx context.Context, gw Gateway) (any, error) { return gw.State(ctx) },
			answer: `{"stateInstance": "notAuthorized"}`,
			method: http.MethodGet, path: greenPath("getStateInstance"),
			want: State{Raw: "notAuthorized"},
		},
		{
			// getSettings names the account (wid); getWaSettings does not.
			name:   "Me from getSettings",
			call:   func(ctx context.Context, gw Gateway) (any, error) { return gw.Me(ctx) },
			answer: `{"wid": "79001234567@c.us", "countryInstance": "", "typeAccount": "", "webhookUrl": "", "delaySendMessagesMilliseconds": 5000}`,
			method: http.MethodGet, path: greenPath("getSettings"),
			want: "79001234567@c.us",
		},
		{
			name:   "State starting",
			call:   func(ctx context.Context, gw Gateway) (any, error) { return gw.State(ctx) },
			answer: `{"stateInstance": "starting"}`,
			method: http.MethodGet, path: greenPath("getStateInstance"),
			want: State{Raw: "starting"},
		},
	})
}

// greenQuotaBody is the shape of Green API's 466 answer.
// See https://green-api.com/en/docs/api/466-error-example-body/
const greenQuotaBody = `{
	"invokeStatus": {"method": "sendMessage", "used": 1000, "total": 1000, "status": "QUOTE_EXCEEDED",
		"description": "Monthly quota has been exceeded. To continue, upgrade your plan"},
	"correspondentsStatus": {"method": "correspondents", "used": 3, "total": 3, "status": "CORRESPONDENTS_QUOTE_EXCEEDED",
		"description": "Limit of 3 correspondents reached"}}`

func TestGreenAPIErrors(t *testing.T) {
	t.Parallel()
	runClassification(t, "greenapi", []classCase{
		{name: "400 validation", call: "Leave", answer: answer{status: 400, body: "Validation failed"}, kind: ErrInvalid, status: 400, msg: "Validation failed"},
		{name: "400 validation JSON", call: "SendText", answer: answer{status: 400, body: `{"message":"Validation failed. Details: 'message' length must be less than or equal to 20000 characters long"}`}, kind: ErrInvalid, status: 400, msg: "Validation failed"},
		{name: "400 bad request data", call: "Leave", answer: answer{status: 400, body: "bad request data"}, kind: ErrInvalid, status: 400, msg: "bad request data"},
		{name: "400 not authorized", call: "Leave", answer: answer{status: 400, body: "instance account not authorized"}, kind: ErrNotConnected, status: 400, msg: "not authorized"},
		{name: "400 starting", call: "Leave", answer: answer{status: 400, body: "instance in starting process try later"}, kind: ErrNotConnected, status: 400, msg: "starting process"},
		{name: "400 starting or not authorized", call: "SendText", answer: answer{status: 400, body: `{"message":"instance is starting or not authorized"}`}, kind: ErrNotConnected, status: 400, msg: "is starting"},
		{name: "400 expired", call: "Leave", answer: answer{status: 400, body: "Instance account is expired. Renew your instance from personal area"}, kind: ErrPlanExpired, status: 400, msg: "expired"},
		{name: "400 deleted", call: "State", answer: answer{status: 400, body: "Instance is deleted"}, kind: ErrSessionMissing, status: 400, msg: "deleted"},
		{name: "401 wrong token", call: "Leave", answer: answer{status: 401, body: "Unauthorized"}, kind: ErrUnauthorized, status: 401, msg: "Unauthorized"},
		{name: "403 wrong idInstance", call: "Leave", answer: answer{status: 403, body: "Forbidden"}, kind: ErrUnauthorized, status: 403, msg: "Forbidden"},
		// Green API documents its 404 as "wrong HTTP method": nothing about
		// the group, so never "not a member" (which would report a group
		// left that never was).
		{name: "404 on a group (wrong method)", call: "Leave", answer: answer{status: 404, body: "Not Found"}, kind: ErrWrongEndpoint, status: 404, msg: "no such endpoint"},
		{name: "404 on a send to a group", call: "SendText", answer: answer{status: 404, body: "Not Found"}, kind: ErrWrongEndpoint, status: 404, msg: "check WA_API_URL"},
		{name: "404 saying item-not-found", call: "Group", answer: answer{status: 404, body: `{"message": "item-not-found"}`}, kind: ErrNotMember, status: 404, msg: "item-not-found"},
		{name: "404 on the state (wrong URL)", call: "State", answer: answer{status: 404, body: "Not Found"}, kind: ErrInvalid, status: 404, msg: "no such endpoint (check WA_API_URL): Not Found"},
		{name: "429", call: "Leave", answer: answer{status: 429, header: map[string]string{"Retry-After": "2"}, body: "Too Many Requests"}, kind: ErrRateLimited, status: 429, msg: "Too Many Requests", retryAfter: 2 * time.Second},
		{name: "429 without Retry-After", call: "SendText", answer: answer{status: 429}, kind: ErrRateLimited, status: 429, msg: "(empty)"},
		{name: "466 quota", call: "SendText", answer: answer{status: 466, body: greenQuotaBody}, kind: ErrQuota, status: 466, msg: "Monthly quota has been exceeded. To continue, upgrade your plan; Limit of 3 correspondents reached"},
		{name: "466 without a body", call: "Leave", answer: answer{status: 466}, kind: ErrQuota, status: 466, msg: "(empty)"},
		{name: "499", call: "Leave", answer: answer{status: 499, body: "Client Closed Request"}, kind: ErrUnavailable, status: 499, msg: "Client Closed Request"},
		{name: "500", call: "Group", answer: answer{status: 500, body: "Internal Server Error"}, kind: ErrUnavailable, status: 500, msg: "Internal Server Error"},
		{name: "502", call: "Leave", answer: answer{status: 502, body: "<html><h1>502 Bad Gateway</h1> upstream disconnected</html>"}, kind: ErrUnavailable, status: 502, msg: "502 Bad Gateway"},
		{name: "200 with a 401 body", call: "Leave", answer: answer{body: `{"code": 401, "description": "Unauthorized"}`}, kind: ErrUnauthorized, status: 200, msg: "Unauthorized"},
		{name: "200 with a 466 body", call: "SendText", answer: answer{body: `{"code": 466, "description": "quota exceeded"}`}, kind: ErrQuota, status: 200, msg: "quota exceeded"},
		{name: "200 leaveGroup false", call: "Leave", answer: answer{body: `{"leaveGroup": false}`}, kind: ErrUnconfirmed, status: 200, msg: "neither leaveGroup nor removeAdmin"},
		{name: "200 empty object", call: "Leave", answer: answer{body: `{}`}, kind: ErrUnconfirmed, status: 200, msg: "{}"},
		{name: "200 empty leave", call: "Leave", answer: answer{}, kind: ErrUnconfirmed, status: 200, msg: "(empty)"},
		{name: "200 leave error body", call: "Leave", answer: answer{body: `{"leaveGroup": false, "error": "group not found"}`}, kind: ErrNotMember, status: 200, msg: "group not found"},
		{name: "200 truncated JSON", call: "Leave", answer: answer{body: `{"leaveGroup": tr`}, kind: ErrUnavailable, status: 200, msg: "malformed answer"},
		{name: "200 HTML", call: "State", answer: answer{body: `<html>hello</html>`}, kind: ErrUnavailable, status: 200, msg: "<html>hello</html>"},
		{name: "200 too large", call: "Leave", answer: answer{body: `{"leaveGroup": true, "pad": "` + strings.Repeat("x", maxBody) + `"}`}, kind: ErrUnavailable, status: 200, msg: "longer than"},
		{name: "200 wrong type", call: "Leave", answer: answer{body: `{"leaveGroup": "yes"}`}, kind: ErrUnconfirmed, status: 200, msg: "neither leaveGroup nor removeAdmin"},
		{name: "200 state missing", call: "State", answer: answer{body: `{"state": "authorized"}`}, kind: ErrUnavailable, status: 200, msg: "no stateInstance"},
		{name: "200 group without groupId", call: "Group", answer: answer{body: `{"participants": []}`}, kind: ErrUnavailable, status: 200, msg: "no groupId"},
		{name: "200 send without idMessage", call: "SendText", answer: answer{body: `{}`}, kind: ErrUnconfirmed, status: 200, msg: "no idMessage"},
		{name: "200 HTML send", call: "SendText", answer: answer{body: `<html>hi</html>`}, kind: ErrUnavailable, status: 200, msg: "malformed answer"},
		{name: "200 group item-not-found", call: "Group", answer: answer{body: `Error: item-not-found`}, kind: ErrNotMember, status: 200, msg: "item-not-found"},
		{name: "200 chats not a list", call: "Groups", answer: answer{body: `{"chats": 3}`}, kind: ErrUnavailable, status: 200, msg: "no chat list"},
		{name: "200 promote participant not found", call: "Promote", answer: answer{body: `{"setGroupAdmin": false, "error": "participant not found"}`}, kind: ErrInvalid, status: 200, msg: "participant not found"},
		{name: "200 promote failed", call: "Promote", answer: answer{body: `{"setGroupAdmin": false, "error": "failed to set group admin"}`}, kind: ErrForbidden, status: 200, msg: "failed to set group admin"},
		{name: "200 promote false", call: "Promote", answer: answer{body: `{"setGroupAdmin": false}`}, kind: ErrUnavailable, status: 200, msg: "setGroupAdmin is not true"},
	})
}

func TestGreenAPIGroupRejectsInviteCodes(t *testing.T) {
	t.Parallel()
	srv, seen := serve(t, answer{body: `{}`})
	gw := newGateway(t, "greenapi", srv.URL, nil)
	for _, ref := range []string{"AbCdEfGhIjKlMnOpQrStUv", "https://chat.whatsapp.com/AbCdEfGhIjKlMnOpQrStUv"} {
		_, err := gw.Group(context.Background(), ref)
		e := requireKind(t, err, ErrInvalid, 0)
		if !strings.Contains(e.Message, "JID only") {
			t.Errorf("Message = %q, want it to explain that only JIDs work", e.Message)
		}
	}
	if n := len(seen()); n != 0 {
		t.Errorf("%d requests sent, want none", n)
	}
}
