package main

import (
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/waleave/waleave/fake"

	"github.com/waleave/waleave/store/storetest"
	"github.com/waleave/waleave/whatsapp"
)

// With WA_PROVIDER=dryrun and only Slack's variables (plus who may use
// the bot), a request runs to its outcome, and every message the bot
// sends says "dry run": the answer to /wa-leave, the card in each state
// and the thread reply. The dry run remembers the group it left: asking
// again ends in "not a member".
func TestE2E_DryRun(t *testing.T) {
	t.Parallel()
	sl := fake.NewSlack(t)
	env := map[string]string{
		"SLACK_BOT_TOKEN":       testBotToken,
		"SLACK_SIGNING_SECRET":  testSecret,
		"SLACK_API_URL":         sl.APIURL(),
		"WA_PROVIDER":           "dryrun",
		"WALEAVE_ALLOWED_USERS": "U0REQ1,U0CNF2",
		"DATABASE_URL":          storetest.SQLite(t),
		"LISTEN_ADDR":           "127.0.0.1:0",
		"LOG_LEVEL":             "debug",
	}
	a := startApp(t, sl, nil, env)
	group := whatsapp.DryRunGroups()[1] // the instance is an admin among others

	status, ack := a.command("U0REQ1", "C1", group.JID+" Thanks everyone, goodbye!")
	require.Equal(t, 200, status)
	require.Contains(t, strings.ToLower(ack), "dry run", "the answer to /wa-leave")
	id := requestIDPattern.FindString(ack)
	eventually(t, 10*time.Second, func() bool { return len(sl.Cards()) == 1 }, "no card")
	card := sl.Cards()[0]
	require.Contains(t, card.Form.Get("blocks"), group.Subject, "the card names the example group")
	require.Contains(t, card.Form.Get("blocks"), "an admin")

	status, _ = a.click("U0CNF2", "C1", "leave_confirm", id, card.TS)
	require.Equal(t, 200, status)
	eventually(t, 10*time.Second, func() bool { return len(sl.ThreadReplies()) == 1 }, "no thread reply")
	reply := strings.ToLower(sl.ThreadReplies()[0].Form.Get("text"))
	require.Contains(t, reply, "left")
	require.Contains(t, reply, "admin")
	require.NotContains(t, reply, "not left")
	eventually(t, 10*time.Second, func() bool {
		for _, u := range sl.Calls("chat.update") {
			if strings.Contains(u.Form.Get("blocks"), "leave_status.done") {
				return true
			}
		}
		return false
	}, "the card did not reach its final state")

	// The group is gone now: a second request ends in "not a member".
	id2, ts2 := a.requestCard("U0REQ1", "C1", group.JID+" --no-goodbye")
	status, _ = a.click("U0CNF2", "C1", "leave_confirm", id2, ts2)
	require.Equal(t, 200, status)
	eventually(t, 10*time.Second, func() bool { return len(sl.ThreadReplies()) == 2 }, "no second thread reply")
	require.Contains(t, strings.ToLower(sl.ThreadReplies()[1].Form.Get("text")), "not a member")

	messages := 0
	for _, c := range sl.Calls("") {
		if c.Method != "chat.postMessage" && c.Method != "chat.update" && c.Method != "chat.postEphemeral" {
			continue
		}
		messages++
		text := strings.ToLower(c.Form.Get("text"))
		require.Contains(t, text, "dry run", "%s text: %s", c.Method, text)
		if b := c.Form.Get("blocks"); b != "" {
			require.Contains(t, strings.ToLower(b), "dry run", "%s blocks: %s", c.Method, b)
		}
	}
	require.GreaterOrEqual(t, messages, 6, "two cards, their updates and two replies")
}
