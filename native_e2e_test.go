package main

import (
	"encoding/json"
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
