package whatsapp

import (
	"context"
	"net/http"
	"net/http/httptest"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

// The credentials as every Wawp request carries them.
const (
	wawpQuery = "access_token=s3cr3t%2FT0ken%2Bxyz&instance_id=" + testInstance
	wawpCreds = `"instance_id": "` + testInstance + `", "access_token": "s3cr3t/T0ken+xyz"`
)

func TestWawpWire(t *testing.T) {
	t.Parallel()
	leave := func(ctx context.Context, gw Gateway) (any, error) { return gw.Leave(ctx, testGroup) }
	send := func(ctx context.Context, gw Gateway) (any, error) { return gw.SendText(ctx, testGroup, "Goodbye 👋") }
	groups := func(ctx context.Context, gw Gateway) (any, error) { return gw.Groups(ctx) }
	state := func(ctx context.Context, gw Gateway) (any, error) { return gw.State(ctx) }
	const sendBody = `{` + wawpCreds + `, "chatId": "120363406289005073@g.us", "message": "Goodbye 👋"}`
	runWire(t, "wawp", map[string]string{"Accept": "application/json", "Access-Token": testToken, "Token": ""}, []wireCase{
		{
			name: "Leave", call: leave, answer: `{"ok": true}`,
			method: http.MethodPost, path: "/v2/groups/120363406289005073%40g.us/leave", query: wawpQuery,
			body: `{` + wawpCreds + `, "id": "120363406289005073@g.us"}`,
			want: LeaveResult{},
		},
		{
			name: "Leave old-style JID", call: func(ctx context.Context, gw Gateway) (any, error) { return gw.Leave(ctx, testOldGroup) },
			answer: `{"ok": true}`,
			method: http.MethodPost, path: "/v2/groups/11001234567-1587570015%40g.us/leave", query: wawpQuery,
			body: `{` + wawpCreds + `, "id": "11001234567-1587570015@g.us"}`,
			want: LeaveResult{},
		},
		{
			name: "SendText, whatsapp-web.js message", call: send,
			answer: `{"_data": {"id": {"fromMe": true, "remote": "120363406289005073@g.us", "id": "3EB0ABC", "_serialized": "true_120363406289005073@g.us_3EB0ABC"}, "body": "Goodbye"}}`,
			method: http.MethodPost, path: "/v2/send/text", query: wawpQuery, body: sendBody,
			want: "true_120363406289005073@g.us_3EB0ABC",
		},
		{
			name: "SendText, id object", call: send, answer: `{"id": {"fromMe": true, "_serialized": "true_x_1"}}`,
			method: http.MethodPost, path: "/v2/send/text", query: wawpQuery, body: sendBody,
			want: "true_x_1",
		},
		{
			name: "SendText, wrapped id string", call: send, answer: `{"success": true, "data": {"id": "ABC"}}`,
			method: http.MethodPost, path: "/v2/send/text", query: wawpQuery, body: sendBody,
			want: "ABC",
		},
		{
			name: "SendText, no id", call: send, answer: `{"sent": true}`,
			method: http.MethodPost, path: "/v2/send/text", query: wawpQuery, body: sendBody,
			want: "",
		},
		{
			name: "SendText to a user", call: func(ctx context.Context, gw Gateway) (any, error) {
				return gw.SendText(ctx, "79001234567@s.whatsapp.net", "hi")
			},
			answer: `{"id": "A"}`,
			method: http.MethodPost, path: "/v2/send/text", query: wawpQuery,
			body: `{` + wawpCreds + `, "chatId": "79001234567@c.us", "message": "hi"}`,
			want: "A",
		},
		{
			name: "Group", call: func(ctx context.Context, gw Gateway) (any, error) { return gw.Group(ctx, testGroup) },
			answer: `[
				{"id": "79001234567@c.us", "isAdmin": true, "isSuperAdmin": true},
				{"id": {"server": "c.us", "user": "79001234568", "_serialized": "79001234568@c.us"}, "isAdmin": false, "isSuperAdmin": false},
				{"id": "111@lid", "admin": "admin"},
				{"id": "79001234569@c.us", "role": "participant"},
				{"isAdmin": true}]`,
			method: http.MethodGet, path: "/v2/groups/120363406289005073%40g.us/participants", query: wawpQuery,
			want: Group{JID: testGroup, Size: 4, Participants: []Participant{
				{JID: "79001234567@c.us", IsAdmin: true, IsSuperAdmin: true},
				{JID: "79001234568@c.us"},
				{JID: "111@lid", IsAdmin: true},
				{JID: "79001234569@c.us"},
			}},
		},
		{
			name: "InviteLink, a link", call: inviteLink,
			answer: `"https://chat.whatsapp.com/AbCdEfGhIj0123"`,
			method: http.MethodGet, path: "/v2/groups/120363406289005073%40g.us/invite-code", query: wawpQuery,
			want: "https://chat.whatsapp.com/AbCdEfGhIj0123",
		},
		{
			name: "InviteLink, a bare code in an object", call: inviteLink,
			answer: `{"inviteCode": "AbCdEfGhIj0123"}`,
			method: http.MethodGet, path: "/v2/groups/120363406289005073%40g.us/invite-code", query: wawpQuery,
			want: "https://chat.whatsapp.com/AbCdEfGhIj0123",
		},
		{
			name: "Groups, array", call: groups,
			answer: `[
				{"id": {"server": "g.us", "user": "120363406289005073", "_serialized": "120363406289005073@g.us"}, "name": "Ops team"},
				{"id": "11001234567-1587570015@g.us", "groupMetadata": {"subject": "Old group"}},
				{"id": "79001234567@c.us", "name": "Ann"}]`,
			method: http.MethodGet, path: "/v2/groups", query: wawpQuery,
			want: []GroupSummary{{JID: testGroup, Subject: "Ops team"}, {JID: testOldGroup, Subject: "Old group"}},
		},
		{
			name: "Groups, wrapped", call: groups,
			answer: `{"status": "success", "data": {"groups": [{"id": "120363406289005073@g.us", "subject": "Ops team"}]}}`,
			method: http.MethodGet, path: "/v2/groups", query: wawpQuery,
			want: []GroupSummary{{JID: testGroup, Subject: "Ops team"}},
		},
		{
			name: "Groups, keyed by JID", call: groups,
			answer: `{"120363406289005073@g.us": {"subject": "Ops team", "participants": []}}`,
			method: http.MethodGet, path: "/v2/groups", query: wawpQuery,
			want: []GroupSummary{{JID: testGroup, Subject: "Ops team"}},
		},
		{
			name: "Promote", call: func(ctx context.Context, gw Gateway) (any, error) {
				return nil, gw.Promote(ctx, testGroup, "79001234567@s.whatsapp.net")
			},
			answer: `{"success": true}`,
			method: http.MethodPost, path: "/v2/groups/120363406289005073%40g.us/admin/promote", query: wawpQuery,
			body: `{` + wawpCreds + `, "id": "120363406289005073@g.us", "participants": [{"id": "79001234567@c.us"}]}`,
			want: nil,
		},
		{
			name: "State WORKING", call: state, answer: `{"name": "default", "status": "WORKING", "engine": {"engine": "WEBJS"}, "me": {"id": "1@c.us"}}`,
			method: http.MethodGet, path: "/v2/session/info", query: wawpQuery,
			want: State{Connected: true, Raw: "WORKING", Me: "1@c.us"},
		},
		{
			name: "State wrapped SCAN_QR_CODE", call: state, answer: `{"status": "success", "data": {"status": "SCAN_QR_CODE"}}`,
			method: http.MethodGet, path: "/v2/session/info", query: wawpQuery,
			want: State{Raw: "SCAN_QR_CODE"},
		},
		{
			name: "State nested session", call: state, answer: `{"data": {"session": {"state": "connected"}}}`,
			method: http.MethodGet, path: "/v2/session/info", query: wawpQuery,
			want: State{Connected: true, Raw: "connected"},
		},
		{
			name: "State boolean", call: state, answer: `{"connected": false}`,
			method: http.MethodGet, path: "/v2/session/info", query: wawpQuery,
			want: State{Raw: "disconnected"},
		},
		{
			// WAHA's session state, not a failed call.
			name: "State FAILED", call: state, answer: `{"name": "default", "status": "FAILED", "me": null}`,
			method: http.MethodGet, path: "/v2/session/info", query: wawpQuery,
			want: State{Raw: "FAILED"},
		},
	})
}

func TestWawpErrors(t *testing.T) {
	t.Parallel()
	runClassification(t, "wawp", []classCase{
		// WAHA's answer when the session is missing: a 404 about the
		// session, never "not a member".
		{name: "404 session missing", call: "Leave", answer: answer{status: 404, body: `{"statusCode":404,"message":"We didn't find a session with name 'default'.\nPlease start it first by using POST /api/sessions/default/start request","error":"Not Found"}`}, kind: ErrSessionMissing, status: 404, msg: "didn't find a session"},
		{name: "404 unknown words", call: "Leave", answer: answer{status: 404, body: `{"statusCode":404,"message":"Resource missing","error":"Not Found"}`}, kind: ErrWrongEndpoint, status: 404, msg: "check WA_API_URL"},
		{name: "404 not a member", call: "Leave", answer: answer{status: 404, body: `{"statusCode": 404, "message": "Group not found", "error": "Not Found"}`}, kind: ErrNotMember, status: 404, msg: "Group not found"},
		{name: "400 not a participant", call: "Leave", answer: answer{status: 400, body: `{"status": 400, "message": "You are not a participant of this group", "error": "Bad Request"}`}, kind: ErrNotMember, status: 400, msg: "not a participant"},
		{name: "400 chat not found", call: "Leave", answer: answer{status: 400, body: `{"message": "Chat not found"}`}, kind: ErrNotMember, status: 400, msg: "Chat not found"},
		{name: "400 participant not found", call: "Promote", answer: answer{status: 400, body: `{"message": "participant not found"}`}, kind: ErrInvalid, status: 400, msg: "participant not found"},
		{name: "400 validation list", call: "SendText", answer: answer{status: 400, body: `{"statusCode": 400, "message": ["chatId must be a string", "message should not be empty"], "error": "Bad Request"}`}, kind: ErrInvalid, status: 400, msg: "chatId must be a string; message should not be empty"},
		{name: "401", call: "Leave", answer: answer{status: 401, body: `{"status": 401, "message": "Invalid access token"}`}, kind: ErrUnauthorized, status: 401, msg: "Invalid access token"},
		{name: "403", call: "Promote", answer: answer{status: 403, body: `{"code": "subscription_required", "message": "This feature needs a paid plan"}`}, kind: ErrForbidden, status: 403, msg: "paid plan"},
		{name: "404 on the group list (wrong URL)", call: "Groups", answer: answer{status: 404, body: `{"message": "Cannot GET /v2/groups"}`}, kind: ErrInvalid, status: 404, msg: "no such endpoint (check WA_API_URL): Cannot GET"},
		{name: "422 session not as expected", call: "Leave", answer: answer{status: 422, body: `{"statusCode": 422, "message": "Session status is not as expected. Try again later or restart the session", "error": "Unprocessable Entity"}`}, kind: ErrNotConnected, status: 422, msg: "Session status"},
		{name: "422 session failed", call: "SendText", answer: answer{status: 422, body: `{"statusCode": 422, "message": "The session under FAILED status. Please try to restart it.", "error": "Unprocessable Entity"}`}, kind: ErrNotConnected, status: 422, msg: "FAILED"},
		{name: "500 session not working", call: "Leave", answer: answer{status: 500, body: `{"message": "session is not working"}`}, kind: ErrNotConnected, status: 500, msg: "not working"},
		{name: "500 upstream", call: "SendText", answer: answer{status: 500, body: `{"error": "wawp_upstream_error"}`}, kind: ErrUnavailable, status: 500, msg: "wawp_upstream_error"},
		{name: "502 proxy page", call: "Leave", answer: answer{status: 502, body: `<html>upstream disconnected</html>`}, kind: ErrUnavailable, status: 502, msg: "upstream disconnected"},
		{name: "429 with a date", call: "Leave", answer: answer{status: 429, header: map[string]string{"Retry-After": "Sun, 01 Mar 2026 12:00:30 GMT"}}, kind: ErrRateLimited, status: 429, msg: "(empty)", retryAfter: 30 * time.Second},
		{name: "200 with a 404 body", call: "Leave", answer: answer{body: `{"status": 404, "message": "Group not found"}`}, kind: ErrNotMember, status: 200, msg: "Group not found"},
		{name: "200 with a 400 not-found body", call: "Leave", answer: answer{body: `{"status": 400, "message": "Chat not found"}`}, kind: ErrNotMember, status: 200, msg: "Chat not found"},
		{name: "200 ok false", call: "Leave", answer: answer{body: `{"ok": false}`}, kind: ErrUnavailable, status: 200, msg: `{"ok": false}`},
		{name: "200 session not found", call: "SendText", answer: answer{body: `{"ok": false, "message": "Session not found"}`}, kind: ErrSessionMissing, status: 200, msg: "Session not found"},
		{name: "200 HTML", call: "Leave", answer: answer{body: `<html>Wawp docs</html>`}, kind: ErrUnavailable, status: 200, msg: `does not say "ok": true`},
		// Only the documented {"ok": true} is a leave; a success status
		// with anything else (WAHA's bare 201 included) is unconfirmed,
		// for the caller to check by looking the group up.
		{name: "200 empty leave", call: "Leave", answer: answer{}, kind: ErrUnconfirmed, status: 200, msg: `does not say "ok": true`},
		{name: "201 empty leave", call: "Leave", answer: answer{status: 201}, kind: ErrUnconfirmed, status: 201, msg: `does not say "ok": true`},
		{name: "200 leave without ok", call: "Leave", answer: answer{body: `{}`}, kind: ErrUnconfirmed, status: 200, msg: `does not say "ok": true`},
		{name: "200 leave with ok as a string", call: "Leave", answer: answer{body: `{"ok": "false"}`}, kind: ErrUnconfirmed, status: 200, msg: `does not say "ok": true`},
		{name: "200 HTML send", call: "SendText", answer: answer{body: `<!doctype html><title>Welcome</title>`}, kind: ErrUnavailable, status: 200, msg: "not a JSON object"},
		{name: "200 empty send", call: "SendText", answer: answer{}, kind: ErrUnconfirmed, status: 200, msg: "not a JSON object"},
		{name: "404 route miss on leave (wrong method)", call: "Leave", answer: answer{status: 404, body: `{"statusCode": 404, "message": "Cannot POST /v2/groups/120363406289005073%40g.us/leave", "error": "Not Found"}`}, kind: ErrWrongEndpoint, status: 404, msg: "no such endpoint"},
		{name: "404 bare Not Found on leave", call: "Leave", answer: answer{status: 404, body: `{"detail": "Not Found"}`}, kind: ErrWrongEndpoint, status: 404, msg: "no such endpoint"},
		{name: "404 HTML on leave", call: "Leave", answer: answer{status: 404, body: `<html><h1>404 Not Found</h1></html>`}, kind: ErrWrongEndpoint, status: 404, msg: "no such endpoint"},
		{name: "404 in the gateway's JSON", call: "Leave", answer: answer{status: 404, body: `{"statusCode": 404, "message": "Chat 120363406289005073@g.us does not exist"}`}, kind: ErrNotMember, status: 404, msg: "does not exist"},
		{name: "403 not authorized to leave", call: "Leave", answer: answer{status: 403, body: `{"status": 403, "message": "You are not authorized to leave this group"}`}, kind: ErrForbidden, status: 403, msg: "not authorized"},
		{name: "200 session info error", call: "State", answer: answer{body: `{"status": "error", "message": "Session not found"}`}, kind: ErrSessionMissing, status: 200, msg: "Session not found"},
		{name: "200 session info without a status", call: "State", answer: answer{body: `{"status": "success", "name": "x"}`}, kind: ErrUnavailable, status: 200, msg: "no session status"},
		{name: "200 group list not a list", call: "Groups", answer: answer{body: `{"groups": "none"}`}, kind: ErrUnavailable, status: 200, msg: "no group list"},
		{name: "200 participants truncated", call: "Group", answer: answer{body: `[{"id": "1@c.us"`}, kind: ErrUnavailable, status: 200, msg: "malformed answer"},
	})
}

// inviteLink calls Wawp's InviteLink on the test group.
func inviteLink(ctx context.Context, gw Gateway) (any, error) {
	return gw.InviteLink(ctx, Group{JID: testGroup})
}

func TestWawpInviteLinkUnknownShape(t *testing.T) {
	t.Parallel()
	for _, answer := range []string{`{}`, `"not a code!"`, `{"link": "https://example.com/AbCdEfGhIj0123"}`, `[]`} {
		srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			_, _ = w.Write([]byte(answer))
		}))
		_, err := newGateway(t, "wawp", srv.URL, nil).InviteLink(context.Background(), Group{JID: testGroup})
		srv.Close()
		require.ErrorIs(t, err, ErrUnavailable, "answer %s", answer)
		require.NotContains(t, err.Error(), testToken)
	}
}
