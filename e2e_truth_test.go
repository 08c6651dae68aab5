package main

import (
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/waleave/waleave/fake"
)

// TestE2E_AnswersNotAboutTheGroup: a gateway answer about the session,
// the instance, the plan or the route says nothing about the group, so the
// request ends as a failure whose reply says what to check, after one
// call, and never as "not a member" (SPEC §5). The answers are the
// gateways' own (see whatsapp/testdata/answers).
func TestE2E_AnswersNotAboutTheGroup(t *testing.T) {
	ryze := func(msg string) string { return `{"success":false,"error":{"message":"` + msg + `"}}` }
	cases := []struct {
		name, provider string
		status         int
		body           string
		want           []string
	}{
		{"wawp session missing", "wawp", 404, `{"statusCode":404,"message":"We didn't find a session with name 'default'.\nPlease start it first by using POST /api/sessions/default/start request","error":"Not Found"}`, []string{"no session", "`WA_INSTANCE`"}},
		{"greenapi instance deleted", "greenapi", 400, `Instance is deleted`, []string{"no session", "`WA_INSTANCE`"}},
		{"ryzeapi instance not found", "ryzeapi", 404, ryze("Instance not found"), []string{"no session", "`WA_INSTANCE`"}},
		{"greenapi plan expired", "greenapi", 400, `Instance account is expired. Renew your instance from personal area`, []string{"plan has expired", "renew the plan", "will not help"}},
		{"ryzeapi not supported", "ryzeapi", 501, ryze("Operation not supported by the embedded whatsmeow"), []string{"not supported"}},
		{"ryzeapi token of another instance", "ryzeapi", 403, ryze("Instance token does not match this instance"), []string{"credentials", "`WA_TOKEN`"}},
		{"wawp route miss", "wawp", 404, `{"statusCode":404,"message":"Cannot POST /v2/groups/120363406289005073%40g.us/leave","error":"Not Found"}`, []string{"no such endpoint", "`WA_API_URL`"}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			sl, gw := fake.NewSlack(t), fake.NewProvider(t, tc.provider)
			gw.Leave = func(int) (int, string) { return tc.status, tc.body }
			a := startApp(t, sl, gw, baseEnv(t, sl, gw))
			id, ts := a.requestCard("U0REQ1", "C1", testGroup+" --no-goodbye")
			status, _ := a.click("U0CNF2", "C1", "leave_confirm", id, ts)
			require.Equal(t, 200, status)
			eventually(t, 15*time.Second, func() bool { return len(sl.ThreadReplies()) == 1 }, "no outcome reply")
			text := sl.ThreadReplies()[0].Form.Get("text")
			lower := strings.ToLower(text)
			require.Contains(t, lower, "not left")
			require.NotContains(t, lower, "not a member")
			require.Contains(t, text, testGroup)
			for _, w := range tc.want {
				require.Contains(t, lower, strings.ToLower(w))
			}
			require.Len(t, gw.Calls("leave"), 1, "not retried")
			assertNoSecretsInSlack(t, sl)
		})
	}
}

// TestE2E_GreenAPIOnlyAdminCard: with Green API, the card for a group
// where the instance is the only admin shows the warning and the
// successor choice. The instance's number is getSettings' wid (Green API's
// documented answers; getWaSettings has none).
func TestE2E_GreenAPIOnlyAdminCard(t *testing.T) {
	sl, gw := fake.NewSlack(t), fake.NewProvider(t, "greenapi")
	front := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		switch {
		case strings.Contains(r.URL.Path, "/getSettings/"):
			_, _ = w.Write([]byte(`{"wid": "11001234567@c.us", "countryInstance": "", "typeAccount": "", "webhookUrl": "", "delaySendMessagesMilliseconds": 5000}`))
		case strings.Contains(r.URL.Path, "/getWaSettings/"):
			_, _ = w.Write([]byte(`{"avatar": "", "phone": "11001234567", "stateInstance": "authorized", "deviceId": "11001234567:26@s.whatsapp.net"}`))
		case strings.Contains(r.URL.Path, "/getGroupData/"):
			_, _ = w.Write([]byte(`{"groupId": "` + testGroup + `", "owner": "11001234567@c.us", "subject": "Night shift", "creation": 1587570015,
				"participants": [{"id": "11001234567@c.us", "isAdmin": true, "isSuperAdmin": true}, {"id": "79001234567@c.us", "isAdmin": false, "isSuperAdmin": false}],
				"subjectTime": 1587737715, "subjectOwner": "11001234567@c.us", "groupInviteLink": "https://chat.whatsapp.com/BhoQ5Hpy5gZL8jvyHFMXGi"}`))
		default:
			gw.Config.Handler.ServeHTTP(w, r)
		}
	}))
	t.Cleanup(front.Close)
	env := baseEnv(t, sl, gw)
	env["WA_API_URL"] = front.URL
	a := startApp(t, sl, gw, env)
	id, _ := a.requestCard("U0REQ1", "C1", testGroup+" bye")
	var blocks string
	eventually(t, 10*time.Second, func() bool {
		blocks = ""
		for _, c := range append(sl.Cards(), sl.Calls("chat.update")...) {
			if b := unescapeJSON(c.Form.Get("blocks")); strings.Contains(b, id) && strings.Contains(b, "only admin") {
				blocks = b
			}
		}
		return blocks != ""
	}, "the card never said the instance is the only admin")
	require.Contains(t, blocks, `"action_id":"leave_successor"`)
	require.Contains(t, blocks, "79001234567@c.us")
	require.NotContains(t, blocks, "11001234567@c.us", "the instance is not its own successor")
}
