package main

import (
	"encoding/json"
	"io"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/waleave/waleave/fake"
)

const testAppToken = "xapp-1-A1-e2e-app-token"

// openAuths is the Authorization header of each apps.connections.open.
func openAuths(sl *fake.Slack) []string {
	var out []string
	for _, c := range sl.Opens() {
		out = append(out, c.Auth)
	}
	return out
}

// get fetches a path of the app's HTTP server.
func (a *app) get(path string) (int, string) {
	a.t.Helper()
	resp, err := http.Get(a.url + path)
	require.NoError(a.t, err)
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(b)
}

// socketRequest runs /wa-leave over the socket, checks the ack and waits
// for the card; it returns the request ID and the card's ts.
func socketRequest(t *testing.T, a *app, c *fake.Conn, text string) (id, ts string) {
	t.Helper()
	ack := c.Command(t, "U0REQ1", "C1", text)
	require.Equal(t, "ephemeral", ack["response_type"], "the ack is the ephemeral answer")
	reply, _ := ack["text"].(string)
	require.Contains(t, reply, "recorded")
	id = requestIDPattern.FindString(reply)
	require.NotEmpty(t, id, "the ack names the request: %s", reply)
	eventually(t, 5*time.Second, func() bool {
		for _, card := range a.slack.Cards() {
			if strings.Contains(card.Form.Get("blocks"), id) {
				ts = card.TS
				return true
			}
		}
		return false
	}, "no card for %s", id)
	return id, ts
}

// TestE2E_SocketMode runs the whole flow over Socket Mode through run:
// command and click acked on the socket, the leave done, the thread
// answered; then the connection ends (dropped, or Slack asks for a
// refresh), the bot is not ready until it has reconnected, and the next
// command works on the new connection.
func TestE2E_SocketMode(t *testing.T) {
	ends := map[string]func(t *testing.T, c *fake.Conn){
		"dropped": func(t *testing.T, c *fake.Conn) { require.NoError(t, c.WS.Close()) },
		"refresh requested": func(t *testing.T, c *fake.Conn) {
			c.Send(t, map[string]any{"type": "disconnect", "reason": "refresh_requested", "debug_info": map[string]any{"host": "applink-fake"}})
		},
	}
	for name, end := range ends {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			sl, gw := fake.NewSlack(t), fake.NewProvider(t, "greenapi")
			env := baseEnv(t, sl, gw)
			delete(env, "SLACK_SIGNING_SECRET") // not needed in Socket Mode
			env["SLACK_APP_TOKEN"] = testAppToken
			a := startApp(t, sl, gw, env)

			c := sl.Next(t)
			require.Equal(t, []string{"Bearer " + testAppToken}, openAuths(sl), "apps.connections.open is called with the app-level token")
			status, _ := a.get("/readyz")
			require.Equal(t, http.StatusServiceUnavailable, status, "not ready before Slack says hello")
			c.Hello(t)
			eventually(t, 5*time.Second, func() bool { s, _ := a.get("/readyz"); return s == http.StatusOK }, "not ready after hello")
			status, _ = a.get("/healthz")
			require.Equal(t, http.StatusOK, status)
			status, _ = a.command("U0REQ1", "C1", testGroup)
			require.Equal(t, http.StatusNotFound, status, "no Slack routes over HTTP in Socket Mode")

			id, ts := socketRequest(t, a, c, testGroup+" bye")
			require.Nil(t, c.Click(t, "U0CNF2", "C1", "leave_confirm", id, ts, sl.ButtonsBlockID(ts)), "a click is acked with an empty payload")
			eventually(t, 10*time.Second, func() bool { return len(sl.ThreadReplies()) == 1 }, "no thread reply")
			require.Len(t, gw.Calls("leave"), 1)
			require.Len(t, gw.Calls("send"), 1)
			require.Contains(t, gw.Calls("send")[0].Body, "bye")
			reply := sl.ThreadReplies()[0]
			require.Equal(t, ts, reply.Form.Get("thread_ts"))
			require.Contains(t, strings.ToLower(reply.Form.Get("text")), "left")

			sl.HoldSockets()
			end(t, c)
			eventually(t, 5*time.Second, func() bool { return len(sl.Opens()) == 2 }, "apps.connections.open not called again")
			eventually(t, 5*time.Second, func() bool { s, _ := a.get("/readyz"); return s == http.StatusServiceUnavailable }, "ready while reconnecting")
			sl.Release()
			c = sl.Next(t)
			c.Hello(t)
			eventually(t, 5*time.Second, func() bool { s, _ := a.get("/readyz"); return s == http.StatusOK }, "not ready after reconnecting")

			id2, _ := socketRequest(t, a, c, testGroup+" --no-goodbye")
			require.NotEqual(t, id, id2)
			_, metrics := a.get("/metrics")
			require.Contains(t, metrics, "waleave_socket_reconnects_total 1")

			for _, secret := range []string{testAppToken, testBotToken, testWAToken} {
				require.NotContains(t, a.logs.String(), secret)
			}
			for _, c := range sl.Calls("") {
				if c.Method != "apps.connections.open" {
					require.NotEqual(t, "Bearer "+testAppToken, c.Auth, "%s used the app-level token", c.Method)
				}
			}
		})
	}
}

// TestE2E_SocketModeAckPayloadMatchesHTTP checks that a command's ack
// over the socket is byte for byte what POST /slack/commands answers.
func TestE2E_SocketModeAckPayloadMatchesHTTP(t *testing.T) {
	t.Parallel()
	sl, gw := fake.NewSlack(t), fake.NewProvider(t, "greenapi")
	env := baseEnv(t, sl, gw)
	env["SLACK_APP_TOKEN"] = testAppToken
	startApp(t, sl, gw, env)
	c := sl.Next(t)
	c.Hello(t)
	overSocket, err := json.Marshal(c.Command(t, "U0REQ1", "C1", "help"))
	require.NoError(t, err)

	httpSlack, httpGW := fake.NewSlack(t), fake.NewProvider(t, "greenapi")
	h := startApp(t, httpSlack, httpGW, baseEnv(t, httpSlack, httpGW))
	status, overHTTP := h.command("U0REQ1", "C1", "help")
	require.Equal(t, http.StatusOK, status)
	require.JSONEq(t, overHTTP, string(overSocket))
}
