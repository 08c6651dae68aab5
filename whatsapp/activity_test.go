package whatsapp

import (
	"context"
	"net/http"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// lastActivity is the wire cases' call of LastActivity on testGroup.
func lastActivity(ctx context.Context, gw Gateway) (any, error) {
	return gw.LastActivity(ctx, testGroup)
}

// The answers below are each provider's documented history shape with one
// message (or none). Green API: a bare array, newest first, timestamp in
// unix seconds. Wawp: WAHA's message array, timestamp in unix seconds.
// RyzeAPI: {chat_jid, count, hasMore, messages}, the stored message's
// timestamp as RFC 3339.
const (
	greenHistoryAnswer = `[{"type": "incoming", "idMessage": "F7AEC1B7086ECDC7E6E45923F5EDB825", "timestamp": 1714566600,
		"typeMessage": "textMessage", "chatId": "120363406289005073@g.us", "senderId": "79001234567@c.us",
		"senderName": "Ann", "textMessage": "see you on Monday"}]`
	wawpHistoryAnswer = `[{"id": "false_120363406289005073@g.us_AAAAAAAAAAAAAAAAAAAA_79001234567@c.us", "timestamp": 1714566600,
		"from": "120363406289005073@g.us", "fromMe": false, "participant": "79001234567@c.us", "body": "see you on Monday",
		"hasMedia": false, "ack": 1, "ackName": "SERVER"}]`
	ryzeHistoryAnswer = `{"success": true, "chat_jid": "120363406289005073@g.us", "count": 1, "hasMore": true, "messages": [
		{"messageId": "3EB08FCF27E532F1B0F5", "content": "see you on Monday", "type": "text",
		 "senderJid": "5511999999999@s.whatsapp.net", "chat": "120363406289005073@g.us", "timestamp": "2024-05-01T12:30:00Z",
		 "isGroup": true, "status": "delivered"}]}`
)

// historyTime is 2024-05-01T12:30:00Z, the time of the message in each
// answer above.
var historyTime = time.Unix(1714566600, 0).UTC()

func TestLastActivityWire(t *testing.T) {
	t.Parallel()
	t.Run("greenapi", func(t *testing.T) {
		t.Parallel()
		runWire(t, "greenapi", map[string]string{"Accept": "application/json", "Token": "", "Access-Token": ""}, []wireCase{
			{
				name: "newest message", call: lastActivity, answer: greenHistoryAnswer,
				method: http.MethodPost, path: greenPath("getChatHistory"),
				body: `{"chatId": "120363406289005073@g.us", "count": 1}`,
				want: historyTime,
			},
			{
				name: "empty history: cannot tell", call: lastActivity, answer: `[]`,
				method: http.MethodPost, path: greenPath("getChatHistory"),
				body: `{"chatId": "120363406289005073@g.us", "count": 1}`,
				want: time.Time{},
			},
		})
	})
	t.Run("wawp", func(t *testing.T) {
		t.Parallel()
		const query = "access_token=s3cr3t%2FT0ken%2Bxyz&chatId=120363406289005073%40g.us&downloadMedia=false&instance_id=" + testInstance + "&limit=1&offset=0"
		runWire(t, "wawp", map[string]string{"Accept": "application/json", "Access-Token": testToken, "Token": ""}, []wireCase{
			{
				name: "newest message", call: lastActivity, answer: wawpHistoryAnswer,
				method: http.MethodGet, path: "/v2/chats/messages", query: query,
				want: historyTime,
			},
			{
				name: "empty history: cannot tell", call: lastActivity, answer: `[]`,
				method: http.MethodGet, path: "/v2/chats/messages", query: query,
				want: time.Time{},
			},
			{
				name: "milliseconds in a data envelope", call: lastActivity,
				answer: `{"data": [{"id": "x", "timestamp": 1714566600000}]}`,
				method: http.MethodGet, path: "/v2/chats/messages", query: query,
				want: historyTime,
			},
		})
	})
	t.Run("ryzeapi", func(t *testing.T) {
		t.Parallel()
		runWire(t, "ryzeapi", map[string]string{"Accept": "application/json", "Token": testToken, "Access-Token": ""}, []wireCase{
			{
				name: "newest message", call: lastActivity, answer: ryzeHistoryAnswer,
				method: http.MethodPost, path: "/api/chat/history/" + testInstance,
				body: `{"number": "120363406289005073@g.us", "count": 1}`,
				want: historyTime,
			},
			{
				name: "empty history: cannot tell", call: lastActivity,
				answer: `{"success": true, "chat_jid": "120363406289005073@g.us", "count": 0, "hasMore": false, "messages": []}`,
				method: http.MethodPost, path: "/api/chat/history/" + testInstance,
				body: `{"number": "120363406289005073@g.us", "count": 1}`,
				want: time.Time{},
			},
			{
				name: "unix seconds inside data", call: lastActivity,
				answer: `{"success": true, "data": {"messages": [{"timestamp": 1714566600}]}}`,
				method: http.MethodPost, path: "/api/chat/history/" + testInstance,
				body: `{"number": "120363406289005073@g.us", "count": 1}`,
				want: historyTime,
			},
		})
	})
}

// TestLastActivityFailures checks that a history call fails as the other
// group calls do: classified by the shared rules, never "cannot tell".
func TestLastActivityFailures(t *testing.T) {
	t.Parallel()
	for _, tt := range []struct {
		provider string
		answer   answer
		kind     error
		status   int
	}{
		{"greenapi", answer{status: 429, body: "Too Many Requests"}, ErrRateLimited, 429},
		{"greenapi", answer{status: 401, body: "Unauthorized"}, ErrUnauthorized, 401},
		{"greenapi", answer{status: 200, body: `{"code": 401, "description": "Unauthorized"}`}, ErrUnauthorized, 200},
		{"greenapi", answer{status: 200, body: "<html>not an API</html>"}, ErrUnavailable, 200},
		{"wawp", answer{status: 404, body: `{"statusCode": 404, "message": "Chat not found", "error": "Not Found"}`}, ErrNotMember, 404},
		{"wawp", answer{status: 422, body: `{"statusCode": 422, "message": "Session status is not as expected. Try again later or restart the session", "error": "Unprocessable Entity"}`}, ErrNotConnected, 422},
		{"wawp", answer{status: 200, body: `{"status": "ok"}`}, ErrUnavailable, 200},
		{"ryzeapi", answer{status: 503, body: `{"success": false, "error": {"message": "Instance is not connected to WhatsApp"}}`}, ErrNotConnected, 503},
		{"ryzeapi", answer{status: 400, body: `{"success": false, "error": {"message": "Number is required"}}`}, ErrInvalid, 400},
	} {
		t.Run(tt.provider+"/"+tt.answer.body, func(t *testing.T) {
			t.Parallel()
			srv, seen := serve(t, tt.answer)
			got, err := newGateway(t, tt.provider, srv.URL, nil).LastActivity(context.Background(), testGroup)
			requireKind(t, err, tt.kind, tt.status)
			assert.True(t, got.IsZero())
			assert.Len(t, seen(), 1)
		})
	}
}

// TestLastActivityRefusesBadJIDs checks that nothing is sent for a
// malformed group JID.
func TestLastActivityRefusesBadJIDs(t *testing.T) {
	t.Parallel()
	for _, provider := range providerNames {
		srv, seen := serve(t, answer{body: `[]`})
		_, err := newGateway(t, provider, srv.URL, nil).LastActivity(context.Background(), "79001234567@c.us")
		requireKind(t, err, ErrInvalid, 0)
		assert.Empty(t, seen(), provider)
	}
}

func TestGreenAPIHistoryRate(t *testing.T) {
	t.Parallel()
	gw := newGateway(t, "greenapi", "http://127.0.0.1:1", nil)
	l := clientOf(gw).limiter(greenHistory)
	require.NotSame(t, clientOf(gw).shared, l, "getChatHistory has a limiter of its own")
	assert.InDelta(t, 1*rateMargin, float64(l.Limit()), 1e-9, "1 request a second, less the margin")
}

func TestMessageTime(t *testing.T) {
	t.Parallel()
	for _, tt := range []struct {
		in   string
		want time.Time
	}{
		{`{"timestamp": 1714566600}`, historyTime},
		{`{"timestamp": "1714566600"}`, historyTime},
		{`{"timestamp": 1714566600000}`, historyTime},
		{`{"timestamp": "2024-05-01T14:30:00+02:00"}`, historyTime},
		{`{"messageTimestamp": 1714566600}`, historyTime},
		{`{"_data": {"t": 1714566600}}`, historyTime},
		{`{"timestamp": 0}`, time.Time{}},
		{`{"timestamp": -5}`, time.Time{}},
		{`{"timestamp": "yesterday"}`, time.Time{}},
		{`{"timestamp": 1e300}`, time.Time{}},
		{`{}`, time.Time{}},
		{`"text"`, time.Time{}},
	} {
		got, ok := messageTime(decodeAny([]byte(tt.in)))
		assert.Equal(t, !tt.want.IsZero(), ok, tt.in)
		assert.True(t, tt.want.Equal(got), "%s: got %v", tt.in, got)
	}
}
