package main

import (
	"fmt"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/waleave/waleave/fake"
)

// The stale scan end to end (SPEC §9, bulk --stale): the command through
// run, the real bot and the real Green API client against the fake
// gateway, whose groups have known ages (getChatHistory's newest
// message), and the fake Slack.

// staleGroup is a group of the fake gateway with how long it has had no
// message (0: no history, the gateway cannot tell).
type staleGroup struct {
	jid, name string
	idle      time.Duration
}

func staleGateway(t *testing.T, groups []staleGroup) *fake.Provider {
	return staleGatewayOf(t, "greenapi", groups)
}

func staleGatewayOf(t *testing.T, provider string, groups []staleGroup) *fake.Provider {
	gw := fake.NewProvider(t, provider)
	gw.Groups, gw.History = map[string]string{}, map[string]time.Time{}
	for _, g := range groups {
		gw.Groups[g.jid] = g.name
		if g.idle > 0 {
			gw.History[g.jid] = time.Now().Add(-g.idle)
		}
	}
	return gw
}

// TestE2E_StaleScan: /wa-leave bulk --stale 180d club answers at once,
// shows the scan's progress, and turns its message into the bulk card of
// exactly the groups older than 180 days; the one whose last activity
// cannot be told is listed apart and not included, and the recent ones
// and the ones outside the filter are left out. Confirming leaves
// exactly those groups, once each. (Green API's history is unix seconds,
// RyzeAPI's RFC 3339.)
func TestE2E_StaleScan(t *testing.T) {
	for _, provider := range []string{"greenapi", "ryzeapi"} {
		t.Run(provider, func(t *testing.T) {
			t.Parallel()
			testStaleScan(t, provider)
		})
	}
}

func testStaleScan(t *testing.T, provider string) {
	const day = 24 * time.Hour
	groups := []staleGroup{
		{"120363400000000101@g.us", "Club Alpha", 400 * day},
		{"120363400000000102@g.us", "Club Bravo", 181 * day},
		{"120363400000000103@g.us", "Club Charlie", 179 * day},
		{"120363400000000104@g.us", "Club Delta", 3 * day},
		{"120363400000000105@g.us", "Club Echo", 0},
		{"120363400000000106@g.us", "Club Foxtrot", 200 * day},
		{"120363400000000107@g.us", "Other", 500 * day},
	}
	stale := map[string]bool{groups[0].jid: true, groups[1].jid: true, groups[5].jid: true}
	sl := fake.NewSlack(t)
	gw := staleGatewayOf(t, provider, groups)
	a := startApp(t, sl, gw, baseEnv(t, sl, gw))

	status, body := a.command("U0REQ1", "C1", "bulk --stale 180d club --no-goodbye")
	require.Equal(t, 200, status)
	body = unescapeJSON(body)
	require.Contains(t, body, "no message for 180 days")
	require.Contains(t, body, "checking 6 groups", "the answer comes at once and says how many")

	// The scan's message: its progress, then the bulk card in its place.
	eventually(t, 5*time.Second, func() bool { return len(sl.Cards()) == 1 }, "no scan message")
	scan := sl.Cards()[0]
	require.Contains(t, unescapeJSON(scan.Form.Get("blocks")), "Looking for quiet groups")
	ts := scan.TS
	var card string
	eventually(t, 30*time.Second, func() bool {
		for _, u := range cardUpdates(sl, ts) {
			if b := unescapeJSON(u.Form.Get("blocks")); strings.Contains(b, "leave_confirm") {
				card = b
			}
		}
		return card != ""
	}, "the scan did not end in a card; %d history calls so far", len(gw.Calls("other")))
	require.Len(t, sl.Cards(), 1, "the card replaced the scan's message")
	require.Contains(t, card, "Leave 3 WhatsApp groups?")
	for _, g := range groups {
		switch {
		case stale[g.jid]:
			require.Contains(t, card, g.name, "stale: included")
		case g.idle == 0:
			require.Contains(t, card, "Not included: 1 group whose last message the gateway cannot tell")
			require.Contains(t, card, "• "+g.name+" — no message history at the gateway")
		default:
			require.NotContains(t, card, g.name, "recent or not matching: left out")
		}
	}

	// Each candidate's history was asked once; the other group's never.
	history := map[string]int{}
	for _, c := range gw.Calls("other") {
		if strings.Contains(c.Path, "/getChatHistory/") || strings.HasPrefix(c.Path, "/api/chat/history/") {
			history[groupOf(c)]++
			require.Contains(t, c.Body, `"count":1`)
		}
	}
	require.Len(t, history, 6)
	for _, g := range groups[:6] {
		require.Equal(t, 1, history[g.jid], "history of %s", g.name)
	}

	// Confirm works as for any bulk request.
	id := requestIDPattern.FindString(card)
	require.NotEmpty(t, id)
	status, _ = a.click("U0CNF2", "C1", "leave_confirm", id, ts)
	require.Equal(t, 200, status)
	eventually(t, 30*time.Second, func() bool { return len(sl.ThreadReplies()) >= 1 }, "no summary; %d leaves so far", len(gw.Calls("leave")))
	leaves := map[string]int{}
	for _, c := range gw.Calls("leave") {
		q, _ := url.QueryUnescape(c.Query) // RyzeAPI names the group in the query
		c.Query = q
		leaves[groupOf(c)]++
	}
	require.Len(t, leaves, len(stale), "exactly the stale groups are left: %v", leaves)
	for jid := range stale {
		require.Equal(t, 1, leaves[jid], "one leave of %s", jid)
	}
	require.Empty(t, gw.Calls("send"), "--no-goodbye")
	require.Contains(t, sl.ThreadReplies()[0].Form.Get("text"), fmt.Sprintf("%d done, 0 failed", len(stale)))
	assertNoSecretsInSlack(t, sl)
}

// TestE2E_StaleScanNoneStale: when no group is stale the scan's message
// says so, lists the groups it cannot tell, and has no button.
func TestE2E_StaleScanNoneStale(t *testing.T) {
	t.Parallel()
	const day = 24 * time.Hour
	sl := fake.NewSlack(t)
	gw := staleGateway(t, []staleGroup{
		{"120363400000000201@g.us", "Team A", 10 * day},
		{"120363400000000202@g.us", "Team B", 0},
	})
	a := startApp(t, sl, gw, baseEnv(t, sl, gw))
	status, _ := a.command("U0REQ1", "C1", "bulk --stale 90d")
	require.Equal(t, 200, status)
	eventually(t, 5*time.Second, func() bool { return len(sl.Cards()) == 1 }, "no scan message")
	ts := sl.Cards()[0].TS
	var final string
	eventually(t, 20*time.Second, func() bool {
		for _, u := range cardUpdates(sl, ts) {
			if b := unescapeJSON(u.Form.Get("blocks")); strings.Contains(b, "No quiet group found") {
				final = b
			}
		}
		return final != ""
	}, "the scan did not end")
	require.Contains(t, final, "none has gone without a message for 90 days")
	require.Contains(t, final, "Team B")
	require.NotContains(t, final, `"type":"button"`)
	require.Empty(t, gw.Calls("leave"))
}

// TestE2E_StaleScanResumesAfterRestart stops waleave during a scan and
// starts it again on the same database: the scan goes on from the next
// group, asking no group's history twice, and ends in the same message.
func TestE2E_StaleScanResumesAfterRestart(t *testing.T) {
	t.Parallel()
	const day = 24 * time.Hour
	var groups []staleGroup
	for i := range 6 {
		idle := 10 * day
		if i%2 == 0 {
			idle = 300 * day
		}
		groups = append(groups, staleGroup{fmt.Sprintf("1203634000000003%02d@g.us", i+1), fmt.Sprintf("Crew %d", i+1), idle})
	}
	sl := fake.NewSlack(t)
	gw := staleGateway(t, groups)
	env := baseEnv(t, sl, gw)
	a := startApp(t, sl, gw, env)
	status, _ := a.command("U0REQ1", "C1", "bulk --stale 180d crew --no-goodbye")
	require.Equal(t, 200, status)
	historyCalls := func() map[string]int {
		n := map[string]int{}
		for _, c := range gw.Calls("other") {
			if strings.Contains(c.Path, "/getChatHistory/") {
				n[groupOf(c)]++
			}
		}
		return n
	}
	eventually(t, 10*time.Second, func() bool { return len(historyCalls()) >= 2 }, "the scan did not start")
	a.stop()
	a.stop = nil
	before := historyCalls()
	require.Less(t, len(before), len(groups), "stopped midway")

	startApp(t, sl, gw, env)
	eventually(t, 30*time.Second, func() bool {
		for _, u := range sl.Calls("chat.update") {
			if strings.Contains(u.Form.Get("blocks"), "leave_confirm") {
				return true
			}
		}
		return false
	}, "the scan did not end after the restart")
	after := historyCalls()
	require.Len(t, after, len(groups))
	for _, g := range groups {
		require.Equal(t, 1, after[g.jid], "history of %s asked once", g.name)
	}
	require.Len(t, sl.Cards(), 1, "one message, before and after the restart")
	card := ""
	for _, u := range cardUpdates(sl, sl.Cards()[0].TS) {
		card = unescapeJSON(u.Form.Get("blocks"))
	}
	require.Contains(t, card, "Leave 3 WhatsApp groups?")
}
