package whatsapp

import (
	"context"
	"net/http"
	"strconv"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestRyzeAPIWire(t *testing.T) {
	t.Parallel()
	send := func(ctx context.Context, gw Gateway) (any, error) { return gw.SendText(ctx, testGroup, "Goodbye 👋") }
	groups := func(ctx context.Context, gw Gateway) (any, error) { return gw.Groups(ctx) }
	state := func(ctx context.Context, gw Gateway) (any, error) { return gw.State(ctx) }
	const sendBody = `{"number": "120363406289005073@g.us", "message": "Goodbye 👋"}`
	const infoQuery = "identifier=120363406289005073%40g.us"
	ops := Group{
		JID: testGroup, Subject: "Ops", Size: 3, InviteLink: "https://chat.whatsapp.com/AbCdEfGhIjKl",
		Participants: []Participant{
			{JID: "5511999999999@s.whatsapp.net", IsAdmin: true, IsSuperAdmin: true},
			{JID: "5511888888888@s.whatsapp.net"},
		},
	}
	const opsInfo = `{"name": "Ops", "jid": "120363406289005073@g.us", "description": "", "inviteCode": "AbCdEfGhIjKl", "inviteLink": "",
		"participantCount": 3, "participants": [
			{"jid": "5511999999999@s.whatsapp.net", "lid": "1@lid", "isAdmin": true, "isSuperAdmin": true},
			{"jid": "5511888888888@s.whatsapp.net", "isAdmin": false, "isSuperAdmin": false}]}`
	runWire(t, "ryzeapi", map[string]string{"Accept": "application/json", "Token": testToken, "Access-Token": ""}, []wireCase{
		{
			name: "Leave", call: func(ctx context.Context, gw Gateway) (any, error) { return gw.Leave(ctx, testGroup) },
			answer: `{"success": true, "message": "Successfully left the group", "groupJid": "120363406289005073@g.us"}`,
			method: http.MethodDelete, path: "/api/group/leave/" + testInstance, query: "identifier=120363406289005073%40g.us",
			want: LeaveResult{},
		},
		{
			name: "SendText", call: send,
			answer: `{"success": true, "message": "Message sent", "status": "sent", "data": {"messageId": "3EB0C767D097", "direction": "outgoing"}}`,
			method: http.MethodPost, path: "/api/message/text/" + testInstance, body: sendBody,
			want: "3EB0C767D097",
		},
		{
			name: "SendText, unwrapped id", call: send, answer: `{"success": true, "messageId": "ABC"}`,
			method: http.MethodPost, path: "/api/message/text/" + testInstance, body: sendBody,
			want: "ABC",
		},
		{
			name: "SendText to a person", call: func(ctx context.Context, gw Gateway) (any, error) {
				return gw.SendText(ctx, "5511999999999@s.whatsapp.net", "hi")
			},
			answer: `{"success": true, "data": {"messageId": "M"}}`,
			method: http.MethodPost, path: "/api/message/text/" + testInstance, body: `{"number": "5511999999999", "message": "hi"}`,
			want: "M",
		},
		{
			name: "Group by JID", call: func(ctx context.Context, gw Gateway) (any, error) { return gw.Group(ctx, testGroup) },
			answer: `{"success": true, "data": ` + opsInfo + `}`,
			method: http.MethodGet, path: "/api/group/info/" + testInstance, query: infoQuery,
			want: ops,
		},
		{
			name: "Group by invite link", call: func(ctx context.Context, gw Gateway) (any, error) {
				return gw.Group(ctx, "https://chat.whatsapp.com/AbCdEfGhIjKl")
			},
			answer: opsInfo,
			method: http.MethodGet, path: "/api/group/info/" + testInstance, query: "identifier=AbCdEfGhIjKl",
			want: ops,
		},
		{
			name: "Group by invite code", call: func(ctx context.Context, gw Gateway) (any, error) { return gw.Group(ctx, "AbCdEfGhIjKl") },
			answer: `{"success": true, "data": {"group": {"subject": "Ops", "id": "120363406289005073@g.us", "inviteLink": "https://chat.whatsapp.com/AbCdEfGhIjKl"}}}`,
			method: http.MethodGet, path: "/api/group/info/" + testInstance, query: "identifier=AbCdEfGhIjKl",
			want: Group{JID: testGroup, Subject: "Ops", InviteLink: "https://chat.whatsapp.com/AbCdEfGhIjKl"},
		},
		{
			name: "Groups, enveloped", call: groups,
			answer: `{"success": true, "data": [{"jid": "120363406289005073@g.us", "name": "Ops"}, {"jid": "5511@s.whatsapp.net", "name": "x"}]}`,
			method: http.MethodGet, path: "/api/group/list/" + testInstance,
			want: []GroupSummary{{JID: testGroup, Subject: "Ops"}},
		},
		{
			name: "Groups, nested", call: groups,
			answer: `{"success": true, "message": "2 group(s) found", "data": {"groups": [{"id": "120363406289005073@g.us", "subject": "Ops"}, {"groupJid": "11001234567-1587570015@g.us"}]}}`,
			method: http.MethodGet, path: "/api/group/list/" + testInstance,
			want: []GroupSummary{{JID: testGroup, Subject: "Ops"}, {JID: testOldGroup}},
		},
		{
			name: "Promote", call: func(ctx context.Context, gw Gateway) (any, error) { return nil, gw.Promote(ctx, testGroup, testUser) },
			answer: `{"success": true, "data": [{"participant": "79001234567", "success": true}]}`,
			method: http.MethodPost, path: "/api/group/participants/" + testInstance,
			body: `{"action": "promote", "identifier": "120363406289005073@g.us", "participants": ["79001234567"]}`,
			want: nil,
		},
		{
			name: "State, ours among several", call: state,
			answer: `{"success": true, "data": [
				{"name": "other", "connection": {"state": "connected"}},
				{"name": "` + testInstance + `", "connection": {"state": "disconnected", "numberJid": "5511@s.whatsapp.net"}}]}`,
			method: http.MethodGet, path: "/api/instance/list", query: "instanceName=" + testInstance,
			want: State{Raw: "disconnected", Me: "5511@s.whatsapp.net"},
		},
		{
			name: "State, single instance object", call: state,
			answer: `{"success": true, "data": {"name": "renamed", "connection": {"state": "connected"}}}`,
			method: http.MethodGet, path: "/api/instance/list", query: "instanceName=" + testInstance,
			want: State{Connected: true, Raw: "connected"},
		},
		{
			name: "State, bare list of one", call: state,
			answer: `[{"instanceName": "x", "connection": {"state": "loggedout"}}]`,
			method: http.MethodGet, path: "/api/instance/list", query: "instanceName=" + testInstance,
			want: State{Raw: "loggedout"},
		},
	})
}

func TestRyzeAPIEscapesInstance(t *testing.T) {
	t.Parallel()
	srv, seen := serve(t, answer{body: `{"success": true}`})
	gw, err := NewRyzeAPI(Config{BaseURL: srv.URL, Instance: "my instance/1", Token: testToken}, nil)
	require.NoError(t, err)
	_, err = gw.Leave(context.Background(), testGroup)
	require.NoError(t, err)
	require.Len(t, seen(), 1)
	assert.Equal(t, "/api/group/leave/my%20instance%2F1", seen()[0].Path)
}

func TestRyzeAPIErrors(t *testing.T) {
	t.Parallel()
	envelope := func(msg string) string { return `{"success": false, "error": {"message": "` + msg + `"}}` }
	reset := strconv.FormatInt(testNow.Add(42*time.Second).Unix(), 10)
	runClassification(t, "ryzeapi", []classCase{
		{name: "400 identifier", call: "Leave", answer: answer{status: 400, body: envelope("Identifier is required")}, kind: ErrInvalid, status: 400, msg: "Identifier is required"},
		{name: "400 not connected", call: "SendText", answer: answer{status: 400, body: envelope("Instance is not connected to WhatsApp")}, kind: ErrNotConnected, status: 400, msg: "not connected"},
		{name: "401", call: "Leave", answer: answer{status: 401, body: envelope("Invalid token")}, kind: ErrUnauthorized, status: 401, msg: "Invalid token"},
		{name: "401 missing token", call: "State", answer: answer{status: 401, body: envelope("Missing token in header")}, kind: ErrUnauthorized, status: 401, msg: "Missing token"},
		{name: "403", call: "Leave", answer: answer{status: 403, body: envelope("Not allowed to leave this group")}, kind: ErrForbidden, status: 403, msg: "Not allowed"},
		// Ownership: a valid token for another instance is a credentials
		// problem, not a refusal to leave.
		{name: "403 token of another instance", call: "Leave", answer: answer{status: 403, body: envelope("Instance token does not match this instance")}, kind: ErrUnauthorized, status: 403, msg: "does not match"},
		{name: "404 not a member", call: "Leave", answer: answer{status: 404, body: envelope("Group not found or you are not a member of this group")}, kind: ErrNotMember, status: 404, msg: "not a member"},
		{name: "404 instance", call: "State", answer: answer{status: 404, body: envelope("Instance not found")}, kind: ErrSessionMissing, status: 404, msg: "Instance not found"},
		{name: "429 X-RateLimit-Reset", call: "Leave", answer: answer{status: 429, header: map[string]string{"X-RateLimit-Limit": "100", "X-RateLimit-Remaining": "0", "X-RateLimit-Reset": reset}, body: envelope("Rate limit exceeded. Try again later.")}, kind: ErrRateLimited, status: 429, msg: "Rate limit exceeded", retryAfter: 42 * time.Second},
		{name: "429 Retry-After", call: "SendText", answer: answer{status: 429, header: map[string]string{"Retry-After": "5", "X-RateLimit-Reset": reset}, body: envelope("Rate limit exceeded. Try again later.")}, kind: ErrRateLimited, status: 429, msg: "Rate limit", retryAfter: 5 * time.Second},
		{name: "500", call: "Leave", answer: answer{status: 500, body: envelope("Internal error")}, kind: ErrUnavailable, status: 500, msg: "Internal error"},
		// "Not supported by the embedded whatsmeow": asking again cannot
		// help, and the group ID is not at fault.
		{name: "501", call: "Promote", answer: answer{status: 501, body: envelope("Not supported")}, kind: ErrNotSupported, status: 501, msg: "Not supported"},
		{name: "404 HTML on leave (wrong URL)", call: "Leave", answer: answer{status: 404, body: `<html><h1>404 Not Found</h1></html>`}, kind: ErrWrongEndpoint, status: 404, msg: "no such endpoint"},
		{name: "503 not connected", call: "Leave", answer: answer{status: 503, body: envelope("Instance is not connected to WhatsApp")}, kind: ErrNotConnected, status: 503, msg: "not connected"},
		{name: "503 bridge", call: "Leave", answer: answer{status: 503, body: envelope("Bridge not configured")}, kind: ErrNotConnected, status: 503, msg: "Bridge not configured"},
		{name: "503 proxy page", call: "Leave", answer: answer{status: 503, body: `<html>Service Unavailable</html>`}, kind: ErrUnavailable, status: 503, msg: "Service Unavailable"},
		{name: "200 failure envelope", call: "Leave", answer: answer{body: envelope("Group not found or you are not a member of this group")}, kind: ErrNotMember, status: 200, msg: "not a member"},
		{name: "200 HTML", call: "Leave", answer: answer{body: `<!doctype html><title>RyzeAPI</title>`}, kind: ErrUnavailable, status: 200, msg: `does not say "success": true`},
		{name: "200 empty leave", call: "Leave", answer: answer{}, kind: ErrUnconfirmed, status: 200, msg: `does not say "success": true`},
		{name: "200 leave with success as a string", call: "Leave", answer: answer{body: `{"success": "true"}`}, kind: ErrUnconfirmed, status: 200, msg: `does not say "success": true`},
		{name: "200 HTML send", call: "SendText", answer: answer{body: `<!doctype html><title>RyzeAPI</title>`}, kind: ErrUnavailable, status: 200, msg: `does not say "success": true`},
		{name: "200 promote refused", call: "Promote", answer: answer{body: `{"success": true, "data": [{"participant": "79001234567", "success": false, "error": "Only super-admins can promote"}]}`}, kind: ErrForbidden, status: 200, msg: "super-admins"},
		{name: "200 promote failed", call: "Promote", answer: answer{body: `{"success": true, "data": {"results": [{"success": false, "error": {"message": "participant is not in the group"}}]}}`}, kind: ErrInvalid, status: 200, msg: "participant is not in the group"},
		{name: "200 promote failed silently", call: "Promote", answer: answer{body: `{"success": true, "participants": [{"jid": "79001234567@s.whatsapp.net", "success": false}]}`}, kind: ErrInvalid, status: 200, msg: "promotion refused for 79001234567@c.us"},
		{name: "200 info without JID", call: "Group", answer: answer{body: `{"success": true, "data": {"name": "x"}}`}, kind: ErrUnavailable, status: 200, msg: "no group JID"},
		{name: "200 list of other instances", call: "State", answer: answer{body: `{"success": true, "data": [{"name": "a", "connection": {"state": "connected"}}, {"name": "b"}]}`}, kind: ErrUnauthorized, status: 200, msg: "does not list instance"},
		{name: "200 instance without state", call: "State", answer: answer{body: `{"success": true, "data": [{"name": "` + testInstance + `"}]}`}, kind: ErrUnavailable, status: 200, msg: "no connection state"},
		{name: "200 group list not a list", call: "Groups", answer: answer{body: `{"success": true, "data": {"count": 0}}`}, kind: ErrUnavailable, status: 200, msg: "no group list"},
	})
}
