package main

import (
	"encoding/json"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

// TestE2E_HistoryAfterLeave: /wa-leave history names every step of a
// finished leave, privately.
func TestE2E_HistoryAfterLeave(t *testing.T) {
	sl, gw := newFakeSlack(t), newFakeGateway(t, "greenapi")
	a := startApp(t, sl, gw, baseEnv(t, sl, gw))
	id, ts := a.requestCard("U0REQ1", "C1", testGroup+" So long")
	status, _ := a.click("U0CNF2", "C1", "leave_confirm", id, ts)
	require.Equal(t, 200, status)
	eventually(t, 10*time.Second, func() bool { return len(sl.threadReplies()) == 1 }, "no thread reply")

	status, body := a.command("U0CNF3", "C1", "history "+testGroup)
	require.Equal(t, 200, status, body)
	var msg struct {
		ResponseType string `json:"response_type"`
		Text         string `json:"text"`
	}
	require.NoError(t, json.Unmarshal([]byte(body), &msg), body)
	require.Equal(t, "ephemeral", msg.ResponseType)
	text := msg.Text
	want := []string{id, "*done*", "Asked by <@U0REQ1>", "confirmed by <@U0CNF2>", "So long",
		"requested by <@U0REQ1>", "confirmed by <@U0CNF2>", "goodbye sent by waleave", "(gateway HTTP 200)"}
	for _, w := range want {
		require.Contains(t, text, w, "history lacks %q", w)
	}
	require.Greater(t, strings.Count(text, "\n   "), 3, "each step on its own line:\n%s", text)
}

// surface is how a test reaches the bot as Slack would: over HTTP with
// signed requests, or over a Socket Mode WebSocket. Each returns the
// answer's body (nil when empty).
type surface struct {
	command  func(user, channel, text string) map[string]any
	interact func(path string, payload map[string]any) map[string]any
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

func socketSurface(t *testing.T, c *slackSocket) surface {
	return surface{
		command:  func(user, channel, text string) map[string]any { return c.command(t, user, channel, text) },
		interact: func(_ string, payload map[string]any) map[string]any { return c.envelope(t, "interactive", payload) },
	}
}

// startNative starts the app with a directory of two groups, over HTTP or
// Socket Mode, and waits until the directory is read.
func startNative(t *testing.T, socket bool) (*app, *fakeSlack, *fakeGateway, surface) {
	gw := newFakeGateway(t, "greenapi")
	gw.chats = `[{"id":"` + testGroup + `","name":"Night shift","type":"group"},{"id":"120363400000000777@g.us","name":"Day crew","type":"group"}]`
	if !socket {
		sl := newFakeSlack(t)
		a := startApp(t, sl, gw, baseEnv(t, sl, gw))
		return a, sl, gw, httpSurface(t, a)
	}
	ss := newSocketSlack(t)
	env := baseEnv(t, ss.fakeSlack, gw)
	delete(env, "SLACK_SIGNING_SECRET")
	env["SLACK_APP_TOKEN"] = testAppToken
	a := startApp(t, ss.fakeSlack, gw, env)
	c := ss.next(t)
	c.hello(t)
	return a, ss.fakeSlack, gw, socketSurface(t, c)
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
		"group":   map[string]any{"form_group": map[string]any{"type": "external_select", "selected_option": map[string]any{"value": group, "text": map[string]any{"type": "plain_text", "text": "g"}}}},
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
			opens := sl.Calls("views.open")
			require.Len(t, opens, 1)
			require.NotEmpty(t, opens[0].Form.Get("trigger_id"))
			view := opens[0].Form.Get("view")
			for _, want := range []string{`"callback_id":"wa_leave_request"`, `"external_select"`, `"private_metadata":"{\"c\":\"C1\"}"`, `"datetimepicker"`} {
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
			require.Empty(t, sl.cards())

			require.Nil(t, s.interact("/slack/interactions", submission("U0REQ1", testGroup, "See you", 0)), "a good submission closes the form")
			eventually(t, 5*time.Second, func() bool { return len(sl.cards()) == 1 }, "no card")
			card := sl.cards()[0]
			require.Equal(t, "C1", card.Form.Get("channel"))
			require.Contains(t, card.Form.Get("blocks"), "See you")
			require.Contains(t, card.Form.Get("blocks"), "leave_confirm")
			_ = a
		})
	}
}
