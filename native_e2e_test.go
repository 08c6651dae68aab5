package main

import (
	"bytes"
	"encoding/json"
	"io"
	"net/http"
	"net/url"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/waleave/waleave/bot"
	"github.com/waleave/waleave/fake"
)

// TestE2E_HistoryAfterLeave: /wa-leave history names every step of a
// finished leave, privately, over HTTP and Socket Mode.
func TestE2E_HistoryAfterLeave(t *testing.T) {
	for _, mode := range []string{"http", "socket"} {
		t.Run(mode, func(t *testing.T) {
			t.Parallel()
			a, sl, _, s := startNative(t, mode == "socket")
			var id, ts string
			if mode == "http" {
				id, ts = a.requestCard("U0REQ1", "C1", testGroup+" So long")
				status, _ := a.click("U0CNF2", "C1", "leave_confirm", id, ts)
				require.Equal(t, 200, status)
			} else {
				c := s.socket
				id, ts = socketRequest(t, a, c, testGroup+" So long")
				require.Nil(t, c.Click(t, "U0CNF2", "C1", "leave_confirm", id, ts, sl.ButtonsBlockID(ts)))
			}
			eventually(t, 10*time.Second, func() bool { return len(sl.ThreadReplies()) == 1 }, "no thread reply")

			msg := s.command("U0CNF3", "C1", "history "+testGroup)
			require.Equal(t, "ephemeral", msg["response_type"])
			text, _ := msg["text"].(string)
			for _, w := range []string{id, "*done*", "Asked by <@U0REQ1>", "confirmed by <@U0CNF2>", "So long",
				"requested by <@U0REQ1>", "confirmed by <@U0CNF2>", "goodbye sent by waleave", "(gateway HTTP 200)"} {
				require.Contains(t, text, w, "history lacks %q", w)
			}
			require.Greater(t, strings.Count(text, "\n   "), 3, "each step on its own line:\n%s", text)
		})
	}
}

// surface is how a test reaches the bot as Slack would: over HTTP with
// signed requests, or over a Socket Mode WebSocket. Each returns the
// answer's body (nil when empty).
type surface struct {
	command  func(user, channel, text string) map[string]any
	interact func(path string, payload map[string]any) map[string]any
	socket   *fake.Conn // nil over HTTP
}

func httpSurface(t *testing.T, a *app) surface {
	decode := func(status int, body string) map[string]any {
		require.Equal(t, 200, status, body)
		if strings.TrimSpace(body) == "" {
			return nil
		}
		var m map[string]any
		require.NoError(t, json.Unmarshal([]byte(body), &m), body)
		return m
	}
	return surface{
		command: func(user, channel, text string) map[string]any { return decode(a.command(user, channel, text)) },
		interact: func(path string, payload map[string]any) map[string]any {
			b, err := json.Marshal(payload)
			require.NoError(t, err)
			return decode(a.post(path, url.Values{"payload": {string(b)}}, nil))
		},
	}
}

func socketSurface(t *testing.T, c *fake.Conn) surface {
	return surface{
		command:  func(user, channel, text string) map[string]any { return c.Command(t, user, channel, text) },
		interact: func(_ string, payload map[string]any) map[string]any { return c.Envelope(t, "interactive", payload) },
		socket:   c,
	}
}

// startNative starts the app with a directory of two groups, over HTTP or
// Socket Mode, and waits until the directory is read.
func startNative(t *testing.T, socket bool) (*app, *fake.Slack, *fake.Provider, surface) {
	gw := fake.NewProvider(t, "greenapi")
	gw.Groups = map[string]string{testGroup: "Night shift", "120363400000000777@g.us": "Day crew"}
	sl := fake.NewSlack(t)
	if !socket {
		a := startApp(t, sl, gw, baseEnv(t, sl, gw))
		return a, sl, gw, httpSurface(t, a)
	}
	env := baseEnv(t, sl, gw)
	delete(env, "SLACK_SIGNING_SECRET")
	env["SLACK_APP_TOKEN"] = testAppToken
	a := startApp(t, sl, gw, env)
	c := sl.Next(t)
	c.Hello(t)
	return a, sl, gw, socketSurface(t, c)
}

// formPayload is an interaction from the request form opened in C1.
func formPayload(typ, user string, extra map[string]any, values map[string]any) map[string]any {
	p := map[string]any{
		"type": typ, "api_app_id": "A1", "team": map[string]any{"id": "T1"}, "user": map[string]any{"id": user, "name": "u"},
		"trigger_id": "1.2.9",
		"view": map[string]any{"id": "V1", "hash": "h1", "type": "modal", "callback_id": "wa_leave_request", "private_metadata": `{"c":"C1"}`,
			"state": map[string]any{"values": values}},
	}
	for k, v := range extra {
		p[k] = v
	}
	return p
}

// submission is a view_submission of the form with a group, a goodbye and
// a time (0: none).
func submission(user, group, goodbye string, at int64) map[string]any {
	values := map[string]any{
		"group":   map[string]any{"form_group": map[string]any{"type": "multi_external_select", "selected_options": []any{map[string]any{"value": group, "text": map[string]any{"type": "plain_text", "text": "g"}}}}},
		"goodbye": map[string]any{"form_goodbye": map[string]any{"type": "plain_text_input", "value": goodbye}},
		"when":    map[string]any{"form_when": map[string]any{"type": "datetimepicker"}},
	}
	if at != 0 {
		values["when"] = map[string]any{"form_when": map[string]any{"type": "datetimepicker", "selected_date_time": at}}
	}
	return formPayload("view_submission", user, nil, values)
}

// TestE2E_RequestForm: /wa-leave alone opens the form; the picker finds a
// group by name; a submission with a time in the past is answered next
// to the time field and records nothing; a good one posts the card in
// the channel the form came from. Over HTTP and over Socket Mode.
func TestE2E_RequestForm(t *testing.T) {
	for _, mode := range []string{"http", "socket"} {
		t.Run(mode, func(t *testing.T) {
			t.Parallel()
			a, sl, _, s := startNative(t, mode == "socket")

			require.Nil(t, s.command("U0REQ1", "C1", ""), "the form opens with no answer in the channel")
			opens := sl.Answered("views.open")
			require.Len(t, opens, 1)
			require.NotEmpty(t, opens[0].Form.Get("trigger_id"))
			view := opens[0].Form.Get("view")
			for _, want := range []string{`"callback_id":"wa_leave_request"`, `"multi_external_select"`, `"private_metadata":"{\"c\":\"C1\"}"`, `"datetimepicker"`} {
				require.Contains(t, view, want)
			}

			var options []any
			eventually(t, 5*time.Second, func() bool {
				ans := s.interact("/slack/options", formPayload("block_suggestion", "U0REQ1",
					map[string]any{"action_id": "form_group", "block_id": "group", "value": "night"}, nil))
				options, _ = ans["options"].([]any)
				return len(options) > 0
			}, "the picker finds no group (directory not read?)")
			require.Len(t, options, 1)
			require.Equal(t, testGroup, options[0].(map[string]any)["value"])

			bad := s.interact("/slack/interactions", submission("U0REQ1", testGroup, "See you", time.Now().Add(-time.Hour).Unix()))
			require.Equal(t, "errors", bad["response_action"], "%v", bad)
			errs := bad["errors"].(map[string]any)
			require.Contains(t, errs["when"], "in the past")
			require.Empty(t, sl.Cards())

			require.Nil(t, s.interact("/slack/interactions", submission("U0REQ1", testGroup, "See you", 0)), "a good submission closes the form")
			eventually(t, 5*time.Second, func() bool { return len(sl.Cards()) == 1 }, "no card")
			card := sl.Cards()[0]
			require.Equal(t, "C1", card.Form.Get("channel"))
			require.Contains(t, card.Form.Get("blocks"), "See you")
			require.Contains(t, card.Form.Get("blocks"), "leave_confirm")
			_ = a
		})
	}
}

// postJSON sends a signed JSON body to path (the Events API's form).
func (a *app) postJSON(path string, v any) (int, string) {
	a.t.Helper()
	body, err := json.Marshal(v)
	require.NoError(a.t, err)
	req, err := http.NewRequest(http.MethodPost, a.url+path, bytes.NewReader(body))
	require.NoError(a.t, err)
	req.Header.Set("Content-Type", "application/json")
	ts := time.Now()
	req.Header.Set("X-Slack-Request-Timestamp", strconv.FormatInt(ts.Unix(), 10))
	req.Header.Set("X-Slack-Signature", bot.Sign(testSecret, ts, body))
	resp, err := http.DefaultClient.Do(req)
	require.NoError(a.t, err)
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(b)
}

var homeBlockID = regexp.MustCompile(`home_actions\.[0-9A-Z]+\.v[0-9]+`)

// TestE2E_HomeConfirm: an approver opens the Home tab, sees the request
// waiting with its buttons, and confirms from there; the leave is done.
// Over HTTP (Events API, url_verification too) and Socket Mode.
func TestE2E_HomeConfirm(t *testing.T) {
	for _, mode := range []string{"http", "socket"} {
		t.Run(mode, func(t *testing.T) {
			t.Parallel()
			a, sl, gw, s := startNative(t, mode == "socket")
			sock := s.socket
			var id string
			if sock == nil {
				id, _ = a.requestCard("U0REQ1", "C1", testGroup+" bye from home")
				status, body := a.postJSON("/slack/events", map[string]any{"type": "url_verification", "challenge": "ch4ll3nge", "token": "x"})
				require.Equal(t, 200, status)
				require.Contains(t, body, `"challenge":"ch4ll3nge"`)
			} else {
				id, _ = socketRequest(t, a, sock, testGroup+" bye from home")
			}

			open := map[string]any{"type": "event_callback", "team_id": "T1", "api_app_id": "A1", "event_id": "Ev1", "event_time": time.Now().Unix(),
				"event": map[string]any{"type": "app_home_opened", "user": "U0CNF2", "channel": "D1", "tab": "home", "event_ts": "1.1"}}
			if sock == nil {
				status, _ := a.postJSON("/slack/events", open)
				require.Equal(t, 200, status)
			} else {
				require.Nil(t, sock.Envelope(t, "events_api", open))
			}
			var blockID string
			eventually(t, 5*time.Second, func() bool {
				for _, p := range sl.Answered("views.publish") {
					if p.Form.Get("user_id") == "U0CNF2" && strings.Contains(p.Form.Get("view"), id) {
						blockID = homeBlockID.FindString(p.Form.Get("view"))
						return blockID != ""
					}
				}
				return false
			}, "no Home tab published with the request's buttons")
			require.Contains(t, blockID, id)

			click := map[string]any{
				"type": "block_actions", "api_app_id": "A1", "team": map[string]any{"id": "T1"},
				"user":      map[string]any{"id": "U0CNF2", "username": "u"},
				"container": map[string]any{"type": "view", "view_id": "V9"},
				"view":      map[string]any{"id": "V9", "type": "home", "hash": "h9"}, "trigger_id": "1.2.4",
				"actions": []map[string]any{{"type": "button", "action_id": "leave_confirm", "block_id": blockID, "value": id, "action_ts": "1.1"}},
			}
			if sock == nil {
				status, _ := a.post("/slack/interactions", url.Values{"payload": {mustJSON(t, click)}}, nil)
				require.Equal(t, 200, status)
			} else {
				require.Nil(t, sock.Envelope(t, "interactive", click))
			}
			eventually(t, 10*time.Second, func() bool { return len(sl.ThreadReplies()) == 1 }, "the Home confirmation did not lead to a leave")
			require.Len(t, gw.Calls("leave"), 1)

		})
	}
}

func mustJSON(t *testing.T, v any) string {
	b, err := json.Marshal(v)
	require.NoError(t, err)
	return string(b)
}
