package main

import (
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/waleave/waleave/fake"

	"github.com/waleave/waleave/store/storetest"
)

// instanceJID is the instance's own number in the verification tests.
const instanceJID = "79000000001@c.us"

// finalCard is the blocks of the last update of the card at ts that has
// no buttons left, or "" when there is none yet.
func finalCard(sl *fake.Slack, ts string) string {
	last := ""
	for _, u := range sl.Calls("chat.update") {
		if u.Form.Get("ts") == ts && !strings.Contains(u.Form.Get("blocks"), "leave_confirm") {
			last = unescapeJSON(u.Form.Get("blocks"))
		}
	}
	return last
}

// TestE2E_LeaveVerifiedEachProvider: after a leave the gateway called a
// success, the group is looked up once more through the provider's own
// group call (SPEC §5). Gone: the outcome is left and the card says the
// leave was verified. Still listing the instance: the outcome is still a
// member, whatever the gateway answered.
func TestE2E_LeaveVerifiedEachProvider(t *testing.T) {
	for _, provider := range []string{"greenapi", "wawp", "ryzeapi"} {
		for _, stay := range []bool{false, true} {
			name := provider + "/gone"
			if stay {
				name = provider + "/still_listed"
			}
			t.Run(name, func(t *testing.T) {
				t.Parallel()
				sl, gw := fake.NewSlack(t), fake.NewProvider(t, provider)
				gw.Self, gw.Stay = instanceJID, stay
				a := startApp(t, sl, gw, baseEnv(t, sl, gw))
				id, ts := a.requestCard("U0REQ1", "C1", testGroup+" --no-goodbye")
				status, _ := a.click("U0CNF2", "C1", "leave_confirm", id, ts)
				require.Equal(t, 200, status)
				eventually(t, 15*time.Second, func() bool { return len(sl.ThreadReplies()) == 1 }, "no outcome reply")
				eventually(t, 5*time.Second, func() bool { return finalCard(sl, ts) != "" }, "card not updated to its final state")

				text := strings.ToLower(sl.ThreadReplies()[0].Form.Get("text"))
				card := finalCard(sl, ts)
				require.Len(t, gw.Calls("leave"), 1, "one leave")
				leaveAt := gw.Calls("leave")[0].At
				lookedUp := false
				for _, c := range gw.Calls("other") {
					p := c.Path
					lookup := strings.Contains(p, "/getGroupData/") || strings.HasSuffix(p, "/participants") || strings.HasPrefix(p, "/api/group/info/")
					lookedUp = lookedUp || (lookup && c.At.After(leaveAt))
				}
				require.True(t, lookedUp, "the group is looked up after the leave")
				if stay {
					require.Contains(t, text, "still a member")
					require.Contains(t, text, "not left")
					require.Contains(t, card, "still a member")
				} else {
					require.Contains(t, text, "left")
					require.NotContains(t, text, "not left")
					require.Contains(t, card, "Verified: the group no longer lists the instance")
				}
				require.True(t, strings.Contains(text, testGroup) || strings.Contains(text, "night shift"), "names the group: %s", text)
				assertNoSecretsInSlack(t, sl)
			})
		}
	}
}

// TestE2E_CrashAfterTheGatewayLeft kills the process (SIGKILL) while its
// leave call is in the gateway, after the gateway acted on it and before
// its answer arrived, then restarts it. The restarted run knows the first
// call's answer was lost: the repeat's answer (RyzeAPI's documented 404
// for a group already left; Green API's undocumented failure body) is
// checked, not believed, and the request ends left, with one outcome
// reply, on SQLite and PostgreSQL.
func TestE2E_CrashAfterTheGatewayLeft(t *testing.T) {
	if testing.Short() {
		t.Skip("starts child processes")
	}
	repeats := map[string]func(n int) (int, string){
		"ryzeapi": func(int) (int, string) {
			return 404, `{"success":false,"error":{"message":"Group not found or you are not a member of this group"}}`
		},
		"greenapi": func(int) (int, string) { return 200, `{"leaveGroup":false}` },
	}
	for provider, repeat := range repeats {
		t.Run(provider, func(t *testing.T) {
			t.Parallel()
			storetest.Each(t, func(t *testing.T, dsn string) {
				t.Parallel()
				sl, gw := fake.NewSlack(t), fake.NewProvider(t, provider)
				gw.Self = instanceJID
				gw.Block = make(chan struct{})
				gw.Leave = repeat // answers the calls after the first, which never answers
				env := baseEnvOn(t, sl, gw, dsn)
				env["WALEAVE_MAX_ATTEMPTS"] = "2"

				child, u, logs := startChild(t, env)
				a := &app{t: t, url: u, slack: sl, gw: gw, logs: logs}
				id, ts := a.requestCard("U0REQ1", "C1", testGroup+" --no-goodbye")
				status, _ := a.click("U0CNF2", "C1", "leave_confirm", id, ts)
				require.Equal(t, 200, status)
				eventually(t, 10*time.Second, func() bool { return len(gw.Calls("leave")) == 1 }, "leave not started")
				require.NoError(t, child.Process.Signal(syscall.SIGKILL))
				_ = child.Wait()
				require.Empty(t, sl.ThreadReplies(), "no outcome before the crash")

				close(gw.Block) // the gateway answers promptly from now on
				restarted := time.Now()
				child, _, logs = startChild(t, env)
				defer func() {
					_ = child.Process.Signal(syscall.SIGTERM)
					_ = child.Wait()
				}()
				deadline := time.Now().Add(30 * time.Second)
				for len(sl.ThreadReplies()) == 0 && time.Now().Before(deadline) {
					time.Sleep(20 * time.Millisecond)
				}
				if len(sl.ThreadReplies()) == 0 {
					t.Fatalf("request not completed within 30s of the restart:\n%s\njobs:\n%s", logs.String(), dumpJobs(t, dsn))
				}
				t.Logf("outcome reply %s after the restart", time.Since(restarted).Round(100*time.Millisecond))
				eventually(t, 5*time.Second, func() bool { return finalCard(sl, ts) != "" }, "card not updated to its final state")
				time.Sleep(300 * time.Millisecond) // a second reply would come now
				require.Len(t, sl.ThreadReplies(), 1, "one outcome reply")
				text := strings.ToLower(sl.ThreadReplies()[0].Form.Get("text"))
				require.Contains(t, text, "left")
				require.NotContains(t, text, "not left")
				require.NotContains(t, text, "not a member")
				require.Contains(t, finalCard(sl, ts), "Verified")
				require.GreaterOrEqual(t, len(gw.Calls("leave")), 2, "the restarted run called again")
				require.NotContains(t, logs.String(), testWAToken)
			})
		})
	}
}

// TestE2E_CrashDuringTheGoodbye kills the process (SIGKILL) while its
// goodbye is in the gateway and has not reached the group, then restarts
// it. A goodbye that may have been posted is never sent again, so its
// fate stays unknown: the leave goes ahead, and the card and the one
// outcome reply say the goodbye may not have reached the group.
func TestE2E_CrashDuringTheGoodbye(t *testing.T) {
	if testing.Short() {
		t.Skip("starts child processes")
	}
	storetest.Each(t, func(t *testing.T, dsn string) {
		t.Parallel()
		sl, gw := fake.NewSlack(t), fake.NewProvider(t, "ryzeapi")
		gw.Self = instanceJID
		gw.BlockSend = make(chan struct{})
		env := baseEnvOn(t, sl, gw, dsn)

		child, u, logs := startChild(t, env)
		a := &app{t: t, url: u, slack: sl, gw: gw, logs: logs}
		id, ts := a.requestCard("U0REQ1", "C1", testGroup+" so long, and thanks")
		status, _ := a.click("U0CNF2", "C1", "leave_confirm", id, ts)
		require.Equal(t, 200, status)
		eventually(t, 10*time.Second, func() bool { return len(gw.Calls("send")) == 1 }, "goodbye not started")
		require.NoError(t, child.Process.Signal(syscall.SIGKILL))
		_ = child.Wait()

		child, _, logs = startChild(t, env)
		defer func() {
			_ = child.Process.Signal(syscall.SIGTERM)
			_ = child.Wait()
		}()
		deadline := time.Now().Add(30 * time.Second)
		for len(sl.ThreadReplies()) == 0 && time.Now().Before(deadline) {
			time.Sleep(20 * time.Millisecond)
		}
		if len(sl.ThreadReplies()) == 0 {
			t.Fatalf("request not completed within 30s of the restart:\n%s\njobs:\n%s", logs.String(), dumpJobs(t, dsn))
		}
		eventually(t, 5*time.Second, func() bool { return finalCard(sl, ts) != "" }, "card not updated to its final state")
		time.Sleep(300 * time.Millisecond) // a second reply would come now
		require.Len(t, sl.ThreadReplies(), 1, "one outcome reply")
		require.Len(t, gw.Calls("send"), 1, "the goodbye is not sent again")
		require.Len(t, gw.Calls("leave"), 1)
		text := sl.ThreadReplies()[0].Form.Get("text")
		require.Contains(t, strings.ToLower(text), "left")
		require.Contains(t, text, "may not have reached the group")
		require.Contains(t, finalCard(sl, ts), "may not have reached the group")
	})
}
