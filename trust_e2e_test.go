package main

import (
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/waleave/waleave/fake"

	"github.com/waleave/waleave/bot"
	"github.com/waleave/waleave/store/storetest"
	"github.com/waleave/waleave/templates"
)

// TestE2E_ReplayedCommandIgnored: the same signed command sent twice
// within the signature's window (a replay) makes one request and one
// card, on SQLite and on PostgreSQL; the second is acknowledged empty.
func TestE2E_ReplayedCommandIgnored(t *testing.T) {
	t.Parallel()
	storetest.Each(t, func(t *testing.T, dsn string) {
		sl, gw := fake.NewSlack(t), fake.NewProvider(t, "greenapi")
		a := startApp(t, sl, gw, baseEnvOn(t, sl, gw, dsn))
		form := url.Values{"command": {"/wa-leave"}, "text": {testGroup + " --no-goodbye"}, "user_id": {"U0REQ1"},
			"channel_id": {"C1"}, "team_id": {"T1"}, "response_url": {a.slack.URL + "/response/1"}, "trigger_id": {"7.7.7"}}
		at := time.Now()
		sign := func(req *http.Request, body []byte) {
			req.Header.Set("X-Slack-Request-Timestamp", strconv.FormatInt(at.Unix(), 10))
			req.Header.Set("X-Slack-Signature", bot.Sign(testSecret, at, body))
		}
		status, body := a.post("/slack/commands", form, sign)
		require.Equal(t, http.StatusOK, status)
		require.Contains(t, body, "recorded")
		status, body = a.post("/slack/commands", form, sign)
		require.Equal(t, http.StatusOK, status, "a replay is acknowledged")
		require.NotContains(t, body, "recorded")

		eventually(t, 5*time.Second, func() bool { return len(sl.Cards()) == 1 }, "no card")
		time.Sleep(300 * time.Millisecond)
		require.Len(t, sl.Cards(), 1, "one card")
		_, metrics := a.get("/metrics")
		require.Contains(t, metrics, `waleave_repeated_deliveries_total{kind="sig"} 1`)
	})
}

// TestE2E_RedeliveredEnvelopeIgnored: Slack sending a slash command's
// envelope again (same envelope_id) makes one request and one card.
func TestE2E_RedeliveredEnvelopeIgnored(t *testing.T) {
	t.Parallel()
	sl, gw := fake.NewSlack(t), fake.NewProvider(t, "greenapi")
	env := baseEnv(t, sl, gw)
	delete(env, "SLACK_SIGNING_SECRET")
	env["SLACK_APP_TOKEN"] = testAppToken
	a := startApp(t, sl, gw, env)
	c := sl.Next(t)
	c.Hello(t)
	eventually(t, 5*time.Second, func() bool { s, _ := a.get("/readyz"); return s == http.StatusOK }, "not ready after hello")

	payload := fake.CommandPayload("U0REQ1", "C1", testGroup+" --no-goodbye")
	first := c.Deliver(t, "redelivered-1", "slash_commands", payload)
	require.Contains(t, first["text"], "recorded")
	require.Nil(t, c.Deliver(t, "redelivered-1", "slash_commands", payload), "the redelivery is acked, empty")

	eventually(t, 5*time.Second, func() bool { return len(sl.Cards()) == 1 }, "no card")
	time.Sleep(300 * time.Millisecond)
	require.Len(t, sl.Cards(), 1, "one card")
	second := c.Deliver(t, "redelivered-2", "slash_commands", payload)
	require.Contains(t, second["text"], "recorded", "another envelope is another command")

	// A click sent again is not handled again: the second cancel would
	// be told the request is already cancelled.
	card := sl.Cards()[0]
	id := requestIDPattern.FindString(first["text"].(string))
	cancel := fake.ClickPayload("U0REQ1", "C1", "leave_cancel", id, card.TS, sl.ButtonsBlockID(card.TS))
	require.Nil(t, c.Deliver(t, "click-1", "interactive", cancel))
	require.Nil(t, c.Deliver(t, "click-1", "interactive", cancel))
	eventually(t, 5*time.Second, func() bool { return len(sl.Calls("chat.update")) > 0 }, "the card shows the cancel")
	time.Sleep(300 * time.Millisecond)
	require.Empty(t, sl.Calls("chat.postEphemeral"), "the redelivered click had no effect")
	_, metrics := a.get("/metrics")
	require.Contains(t, metrics, `waleave_repeated_deliveries_total{kind="env"} 2`)
}

// TestE2E_OtherWorkspaceRefused: the workspace is learned from auth.test
// at start-up (the fake answers T1); a command and a click from T2 are
// refused and change nothing.
func TestE2E_OtherWorkspaceRefused(t *testing.T) {
	t.Parallel()
	sl, gw := fake.NewSlack(t), fake.NewProvider(t, "greenapi")
	a := startApp(t, sl, gw, baseEnv(t, sl, gw))
	require.NotEmpty(t, sl.Calls("auth.test"), "the workspace is learned at start-up")
	id, ts := a.requestCard("U0REQ1", "C1", testGroup+" --no-goodbye")

	status, body := a.post("/slack/commands", url.Values{"command": {"/wa-leave"}, "text": {testGroup}, "user_id": {"U0REQ1"},
		"channel_id": {"C1"}, "team_id": {"T2"}, "trigger_id": {"8.8.8"}}, nil)
	require.Equal(t, http.StatusOK, status)
	require.Contains(t, body, strings.ReplaceAll(templates.OtherWorkspace(), "\"", ""))

	payload := `{"type":"block_actions","team":{"id":"T2"},"user":{"id":"U0CNF2"},"container":{"type":"message","message_ts":"` + ts +
		`","channel_id":"C1"},"channel":{"id":"C1"},"actions":[{"type":"button","action_id":"leave_confirm","block_id":"` +
		sl.ButtonsBlockID(ts) + `","value":"` + id + `","action_ts":"1.1"}]}`
	status, _ = a.post("/slack/interactions", url.Values{"payload": {payload}}, nil)
	require.Equal(t, http.StatusOK, status)
	eventually(t, 5*time.Second, func() bool {
		for _, e := range sl.Calls("chat.postEphemeral") {
			if e.Form.Get("text") == templates.OtherWorkspace() {
				return true
			}
		}
		return false
	}, "the click is answered")
	require.Empty(t, gw.Calls("leave"), "not confirmed")
	require.Len(t, sl.Cards(), 1, "no second request")
}
