package main

import (
	"fmt"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/waleave/waleave/fake"
	"github.com/waleave/waleave/store/storetest"
)

// Bulk offboarding end to end (SPEC §9): /wa-leave bulk through run, the
// real bot, the real Green API client against the fake gateway, and the
// fake Slack.

// bulkGateway is a Green API fake whose group list holds n groups named
// "Acme NN" and two others.
func bulkGateway(t *testing.T, n int) (*fake.Provider, []string) {
	gw := fake.NewProvider(t, "greenapi")
	gw.Groups = map[string]string{"120363400000000901@g.us": "Other one", "120363400000000902@g.us": "Beta"}
	var jids []string
	for i := range n {
		jid := fmt.Sprintf("1203634000000%05d@g.us", i+1)
		gw.Groups[jid] = fmt.Sprintf("Acme %02d", i+1)
		jids = append(jids, jid)
	}
	return gw, jids
}

// groupOf is the group a goodbye or leave call names.
func groupOf(c fake.ProviderCall) string {
	if m := groupJIDPattern.FindString(c.Body); m != "" {
		return m
	}
	return groupJIDPattern.FindString(c.Path + "?" + c.Query)
}

var groupJIDPattern = regexp.MustCompile(`[0-9]{18}@g\.us`)

// callsPerGroup counts the calls of kind by the group they name.
func callsPerGroup(gw *fake.Provider, kind string) map[string]int {
	n := map[string]int{}
	for _, c := range gw.Calls(kind) {
		n[groupOf(c)]++
	}
	return n
}

// bulkCard runs a bulk command and waits for its card: the request ID and
// the card's ts.
func (a *app) bulkCard(user, channel, text string) (id, ts string) {
	a.t.Helper()
	return a.requestCard(user, channel, text)
}

// cardUpdates are the chat.update calls of the card at ts, in order.
func cardUpdates(sl *fake.Slack, ts string) []fake.Call {
	var out []fake.Call
	for _, c := range sl.Calls("chat.update") {
		if c.Form.Get("ts") == ts {
			out = append(out, c)
		}
	}
	return out
}

// requirePaced checks that no two updates of one card reached Slack less
// than a second apart.
func requirePaced(t *testing.T, updates []fake.Call) {
	t.Helper()
	for i := 1; i < len(updates); i++ {
		gap := updates[i].At.Sub(updates[i-1].At)
		require.GreaterOrEqual(t, gap, time.Second, "updates %d and %d of the card %s apart", i-1, i, gap)
	}
}

// TestE2E_BulkByFilterTwoPerson: a bulk of 30 groups by filter, with a
// goodbye, under the two-person rule. The requester's confirm is refused,
// another person's works; every group gets one goodbye and one leave, the
// card's progress is updated at most once a second, and the thread gets
// one summary.
func TestE2E_BulkByFilterTwoPerson(t *testing.T) {
	if testing.Short() {
		t.Skip("leaves 30 groups at Green API's rate (about a minute)")
	}
	t.Parallel()
	sl := fake.NewSlack(t)
	gw, jids := bulkGateway(t, 30)
	env := baseEnv(t, sl, gw)
	env["WALEAVE_TWO_PERSON"] = "true"
	a := startApp(t, sl, gw, env)

	id, ts := a.bulkCard("U0REQ1", "C1", "bulk acme Thanks all, bye!")
	card := unescapeJSON(sl.Cards()[0].Form.Get("blocks"))
	for _, want := range []string{"Leave 30 WhatsApp groups?", "Acme 01", "Acme 10", "…and 20 more", "Thanks all, bye!", "<@U0REQ1>", "Expires", "leave_confirm", "leave_cancel"} {
		require.Contains(t, card, want)
	}
	require.NotContains(t, card, "Acme 11", "the card names the first ten")
	require.NotContains(t, card, "Other one")

	status, _ := a.click("U0REQ1", "C1", "leave_confirm", id, ts)
	require.Equal(t, 200, status)
	eventually(t, 5*time.Second, func() bool { return len(sl.Calls("chat.postEphemeral")) == 1 }, "the requester's confirm not refused")
	require.Contains(t, sl.Calls("chat.postEphemeral")[0].Form.Get("text"), "Someone other than the requester")
	status, _ = a.click("U0CNF2", "C1", "leave_confirm", id, ts)
	require.Equal(t, 200, status)

	eventually(t, 150*time.Second, func() bool { return len(sl.ThreadReplies()) >= 1 }, "no summary; %d leaves so far", len(gw.Calls("leave")))
	time.Sleep(1500 * time.Millisecond) // anything more would come now
	require.Len(t, sl.ThreadReplies(), 1, "one summary")
	reply := sl.ThreadReplies()[0]
	require.Equal(t, ts, reply.Form.Get("thread_ts"), "in the card's thread")
	require.Contains(t, reply.Form.Get("text"), "30 done, 0 failed, 0 stopped")
	require.Contains(t, reply.Form.Get("text"), "left the group: 30")

	sends, leaves := callsPerGroup(gw, "send"), callsPerGroup(gw, "leave")
	require.Len(t, gw.Calls("send"), 30, "30 goodbyes")
	require.Len(t, gw.Calls("leave"), 30, "30 leaves")
	for _, jid := range jids {
		require.Equal(t, 1, sends[jid], "one goodbye to %s", jid)
		require.Equal(t, 1, leaves[jid], "one leave of %s", jid)
	}
	for _, c := range gw.Calls("send") {
		require.Contains(t, c.Body, "Thanks all, bye!")
	}

	updates := cardUpdates(sl, ts)
	require.NotEmpty(t, updates)
	final := unescapeJSON(updates[len(updates)-1].Form.Get("blocks"))
	require.Contains(t, final, "Left 30 WhatsApp groups")
	require.Contains(t, final, "*Done:* 30")
	require.NotContains(t, final, "leave_stop")
	requirePaced(t, updates)
	// The card showed progress while the work went on, with Stop.
	progress := false
	for _, u := range updates {
		b := unescapeJSON(u.Form.Get("blocks"))
		progress = progress || (strings.Contains(b, "leave_stop") && strings.Contains(b, "*To do:*"))
	}
	require.True(t, progress, "no progress card with Stop among %d updates", len(updates))

	// status <bulk id> lists every group with its outcome.
	status, body := a.command("U0REQ1", "C1", "status "+id)
	require.Equal(t, 200, status)
	body = unescapeJSON(body)
	for i := range 30 {
		require.Contains(t, body, fmt.Sprintf("*Acme %02d* `%s` — left the group", i+1, jids[i]))
	}
	assertNoSecretsInSlack(t, sl)
}

// TestE2E_BulkStop: Stop pressed while a bulk runs. Groups under way
// finish; the rest get no goodbye and no leave, and the summary counts
// them as stopped.
func TestE2E_BulkStop(t *testing.T) {
	if testing.Short() {
		t.Skip("runs a bulk at Green API's rate")
	}
	storetest.Each(t, func(t *testing.T, dsn string) {
		t.Parallel()
		sl := fake.NewSlack(t)
		gw, jids := bulkGateway(t, 10)
		gw.Block = make(chan struct{}) // leaves wait: the first groups stay under way
		a := startApp(t, sl, gw, baseEnvOn(t, sl, gw, dsn))

		id, ts := a.bulkCard("U0REQ1", "C1", "bulk acme so long")
		status, _ := a.click("U0CNF2", "C1", "leave_confirm", id, ts)
		require.Equal(t, 200, status)
		eventually(t, 20*time.Second, func() bool { return len(gw.Calls("leave")) >= 2 }, "no group under way")
		// The requester may stop it too, from the card.
		status, _ = a.click("U0REQ1", "C1", "leave_stop", id, ts)
		require.Equal(t, 200, status)
		started := len(gw.Calls("send"))
		gw.Locked(func() { close(gw.Block) })

		eventually(t, 60*time.Second, func() bool { return len(sl.ThreadReplies()) >= 1 }, "no summary")
		time.Sleep(1500 * time.Millisecond)
		require.Len(t, sl.ThreadReplies(), 1, "one summary")

		sends, leaves := callsPerGroup(gw, "send"), callsPerGroup(gw, "leave")
		require.Less(t, len(sends), len(jids), "Stop came before every group had started")
		require.Equal(t, started, len(sends), "nothing started after Stop")
		for _, jid := range jids {
			if sends[jid] == 0 {
				require.Zero(t, leaves[jid], "%s was not started, yet left", jid)
			} else {
				require.Equal(t, 1, sends[jid], "one goodbye to %s", jid)
				require.GreaterOrEqual(t, leaves[jid], 1, "%s was under way and finished", jid)
			}
		}
		stopped := len(jids) - len(sends)
		text := sl.ThreadReplies()[0].Form.Get("text")
		require.Contains(t, text, fmt.Sprintf("%d done, 0 failed, %d stopped", len(sends), stopped), text)
		require.Contains(t, text, fmt.Sprintf("stopped before they started (not left): %d", stopped))
		require.Equal(t, stopped, strings.Count(text, "stopped before it started"), "every stopped group is named")

		updates := cardUpdates(sl, ts)
		final := unescapeJSON(updates[len(updates)-1].Form.Get("blocks"))
		require.Contains(t, final, "Stopped by <@U0REQ1>")
		require.NotContains(t, final, "leave_stop")
		requirePaced(t, updates)
	})
}

// TestE2E_BulkKilledMidRun: the process dies while a bulk runs; after the
// restart the bulk finishes, no group gets its goodbye twice, and the
// thread gets one summary.
func TestE2E_BulkKilledMidRun(t *testing.T) {
	if testing.Short() {
		t.Skip("starts child processes")
	}
	storetest.Each(t, func(t *testing.T, dsn string) {
		t.Parallel()
		sl := fake.NewSlack(t)
		gw, jids := bulkGateway(t, 6)
		gw.Block = make(chan struct{})
		env := baseEnvOn(t, sl, gw, dsn)

		child, u, logs := startChild(t, env)
		a := &app{t: t, url: u, slack: sl, gw: gw, logs: logs}
		id, ts := a.bulkCard("U0REQ1", "C1", "bulk acme farewell")
		status, _ := a.click("U0CNF2", "C1", "leave_confirm", id, ts)
		require.Equal(t, 200, status)
		eventually(t, 20*time.Second, func() bool { return len(gw.Calls("leave")) >= 2 }, "no group under way")
		kill(t, child)
		gw.Locked(func() { close(gw.Block) })

		child, u, logs = startChild(t, env)
		defer stopChild(t, child, logs)
		_ = u
		eventually(t, 90*time.Second, func() bool { return len(sl.ThreadReplies()) >= 1 },
			"no summary after the restart:\n%s\njobs:\n%s", logs.String(), dumpJobs(t, dsn))
		time.Sleep(1500 * time.Millisecond)
		require.Len(t, sl.ThreadReplies(), 1, "one summary")
		require.Equal(t, ts, sl.ThreadReplies()[0].Form.Get("thread_ts"))
		for jid, n := range callsPerGroup(gw, "send") {
			require.Equal(t, 1, n, "%s got its goodbye %d times", jid, n)
		}
		leaves := callsPerGroup(gw, "leave")
		for _, jid := range jids {
			require.GreaterOrEqual(t, leaves[jid], 1, "%s not left", jid)
		}
		require.Contains(t, sl.ThreadReplies()[0].Form.Get("text"), "6 WhatsApp groups")
		requirePaced(t, cardUpdates(sl, ts))
	})
}
