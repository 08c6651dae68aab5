package main

import (
	"bufio"
	"bytes"
	"context"
	"database/sql"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"os"
	"os/exec"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/waleave/waleave/fake"

	"github.com/waleave/waleave/bot"
	"github.com/waleave/waleave/store/storetest"
)

const (
	testSecret   = "e2e-signing-secret"
	testWAToken  = "gwtoken-SECRET-0042"
	testBotToken = "xoxb-e2e-bot-token"
	testGroup    = "120363406289005073@g.us"
)

// TestMain lets the crash test run the program as a child process: the
// test binary re-executes itself with WALEAVE_E2E_CHILD=1.
func TestMain(m *testing.M) {
	if os.Getenv("WALEAVE_E2E_CHILD") == "1" {
		if err := run(context.Background(), nil, os.Getenv, os.Stdout, os.Stderr); err != nil {
			fmt.Fprintln(os.Stderr, "waleave:", err)
			os.Exit(1)
		}
		os.Exit(0)
	}
	os.Exit(m.Run())
}

// app is one running waleave, started through run, with its fakes.
type app struct {
	t     *testing.T
	url   string
	slack *fake.Slack
	gw    *fake.Provider
	logs  *syncBuffer
	env   map[string]string
	stop  func()
}

// baseEnv is a complete configuration pointing at the fakes, on a new
// SQLite database.
func baseEnv(t *testing.T, sl *fake.Slack, gw *fake.Provider) map[string]string {
	return baseEnvOn(t, sl, gw, storetest.SQLite(t))
}

// baseEnvOn is baseEnv on the database at dsn.
func baseEnvOn(t *testing.T, sl *fake.Slack, gw *fake.Provider, dsn string) map[string]string {
	return map[string]string{
		"SLACK_BOT_TOKEN":       testBotToken,
		"SLACK_SIGNING_SECRET":  testSecret,
		"SLACK_API_URL":         sl.APIURL(),
		"WA_PROVIDER":           gw.Name(),
		"WA_API_URL":            gw.URL,
		"WA_INSTANCE":           "1101000001",
		"WA_TOKEN":              testWAToken,
		"WALEAVE_ALLOWED_USERS": "U0REQ1,U0CNF2,U0CNF3",
		"DATABASE_URL":          dsn,
		"LISTEN_ADDR":           "127.0.0.1:0",
		"LOG_LEVEL":             "debug",
	}
}

var servingAddr = regexp.MustCompile(`waleave serving"? addr=(\S+)`)

// startApp runs the program in-process with env and waits until it serves.
func startApp(t *testing.T, sl *fake.Slack, gw *fake.Provider, env map[string]string) *app {
	t.Helper()
	a := &app{t: t, slack: sl, gw: gw, logs: &syncBuffer{}, env: env}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() {
		done <- run(ctx, nil, func(k string) string { return env[k] }, io.Discard, a.logs)
	}()
	a.stop = func() {
		cancel()
		select {
		case err := <-done:
			require.NoError(t, err)
		case <-time.After(30 * time.Second):
			t.Fatal("waleave did not stop within 30s")
		}
	}
	deadline := time.Now().Add(10 * time.Second)
	for {
		if m := servingAddr.FindStringSubmatch(a.logs.String()); m != nil {
			a.url = "http://" + m[1]
			break
		}
		select {
		case err := <-done:
			t.Fatalf("waleave exited: %v\n%s", err, a.logs.String())
		default:
		}
		require.True(t, time.Now().Before(deadline), "waleave did not start:\n%s", a.logs.String())
		time.Sleep(10 * time.Millisecond)
	}
	t.Cleanup(func() {
		if a.stop != nil {
			a.stop()
		}
		if strings.Contains(a.logs.String(), testWAToken) {
			t.Errorf("the gateway token appears in the logs")
		}
	})
	return a
}

// post sends a signed form body to path and returns the status and body.
func (a *app) post(path string, form url.Values, sign func(req *http.Request, body []byte)) (int, string) {
	a.t.Helper()
	body := []byte(form.Encode())
	req, err := http.NewRequest(http.MethodPost, a.url+path, strings.NewReader(string(body)))
	require.NoError(a.t, err)
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	if sign == nil {
		ts := time.Now()
		req.Header.Set("X-Slack-Request-Timestamp", strconv.FormatInt(ts.Unix(), 10))
		req.Header.Set("X-Slack-Signature", bot.Sign(testSecret, ts, body))
	} else {
		sign(req, body)
	}
	resp, err := http.DefaultClient.Do(req)
	require.NoError(a.t, err)
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(b)
}

func (a *app) command(user, channel, text string) (int, string) {
	return a.post("/slack/commands", url.Values{
		"command": {"/wa-leave"}, "text": {text}, "user_id": {user}, "user_name": {"user-" + user},
		"channel_id": {channel}, "team_id": {"T1"}, "response_url": {a.slack.URL + "/response/1"},
		"trigger_id": {"1.2." + strconv.FormatInt(triggers.Add(1), 10)},
	}, nil)
}

// triggers numbers commands: each has its own trigger_id, as from Slack,
// so two commands alike in the same second are not one replayed request.
var triggers atomic.Int64

func (a *app) click(user, channel, action, value, messageTS string) (int, string) {
	payload := map[string]any{
		"type": "block_actions", "api_app_id": "A1", "team": map[string]any{"id": "T1"},
		"user":       map[string]any{"id": user, "username": "u"},
		"container":  map[string]any{"type": "message", "message_ts": messageTS, "channel_id": channel},
		"channel":    map[string]any{"id": channel},
		"trigger_id": "1.2.3", "response_url": a.slack.URL + "/response/2",
		"actions": []map[string]any{{"type": "button", "action_id": action, "block_id": a.slack.ButtonsBlockID(messageTS), "value": value, "action_ts": "1.1"}},
	}
	b, err := json.Marshal(payload)
	require.NoError(a.t, err)
	return a.post("/slack/interactions", url.Values{"payload": {string(b)}}, nil)
}

// eventually polls cond until it holds or the timeout passes.
func eventually(t *testing.T, timeout time.Duration, cond func() bool, msg string, args ...any) {
	t.Helper()
	deadline := time.Now().Add(timeout)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out: "+msg, args...)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

var requestIDPattern = regexp.MustCompile(`R[0-9A-Z]{15}`)

// requestCard runs /wa-leave and waits for its card; it returns the
// request ID and the card's ts.
func (a *app) requestCard(user, channel, text string) (id, ts string) {
	a.t.Helper()
	before := len(a.slack.Cards())
	status, body := a.command(user, channel, text)
	require.Equal(a.t, 200, status, body)
	id = requestIDPattern.FindString(body)
	require.NotEmpty(a.t, id, "ack names the request: %s", body)
	eventually(a.t, 5*time.Second, func() bool { return len(a.slack.Cards()) > before }, "card not posted")
	for _, c := range a.slack.Cards() {
		if strings.Contains(c.Form.Get("blocks"), id) {
			return id, c.TS
		}
	}
	a.t.Fatalf("no card for %s", id)
	return "", ""
}

func TestE2E_LeaveFlowEachProvider(t *testing.T) {
	for _, provider := range []string{"greenapi", "wawp", "ryzeapi"} {
		t.Run(provider, func(t *testing.T) {
			t.Parallel()
			storetest.Each(t, func(t *testing.T, dsn string) {
				sl, gw := fake.NewSlack(t), fake.NewProvider(t, provider)
				a := startApp(t, sl, gw, baseEnvOn(t, sl, gw, dsn))

				id, ts := a.requestCard("U0REQ1", "C1", testGroup+" Thanks everyone, goodbye!")
				card := sl.Cards()[0]
				require.Equal(t, "C1", card.Form.Get("channel"))
				blocks := unescapeJSON(card.Form.Get("blocks"))
				for _, want := range []string{"leave_confirm", "leave_cancel", testGroup, "Thanks everyone, goodbye!", "<@U0REQ1>", `"style":"danger"`, `"confirm":`} {
					require.Contains(t, blocks, want)
				}
				require.True(t, card.Auth == "Bearer "+testBotToken || card.Form.Get("token") == testBotToken, "the bot token authenticates the post")

				status, _ := a.click("U0CNF2", "C1", "leave_confirm", id, ts)
				require.Equal(t, 200, status)
				eventually(t, 10*time.Second, func() bool { return len(sl.ThreadReplies()) == 1 }, "no thread reply")

				reply := sl.ThreadReplies()[0]
				require.Equal(t, ts, reply.Form.Get("thread_ts"))
				text := strings.ToLower(reply.Form.Get("text"))
				require.Contains(t, text, "left")
				require.NotContains(t, text, "not left")
				require.Contains(t, text, testGroup)

				sends, leaves := gw.Calls("send"), gw.Calls("leave")
				require.Len(t, sends, 1, "one goodbye")
				require.Len(t, leaves, 1, "one leave")
				require.Contains(t, sends[0].Body, "Thanks everyone, goodbye!")
				all := gw.Calls("")
				iSend, iLeave := -1, -1
				for i, c := range all {
					if c.Path == sends[0].Path && iSend < 0 {
						iSend = i
					}
					if c.Path == leaves[0].Path {
						iLeave = i
					}
				}
				require.Less(t, iSend, iLeave, "goodbye before leave")

				eventually(t, 5*time.Second, func() bool {
					for _, u := range sl.Calls("chat.update") {
						if strings.Contains(strings.ToLower(u.Form.Get("blocks")), "done") && !strings.Contains(u.Form.Get("blocks"), "leave_confirm") {
							return true
						}
					}
					return false
				}, "card not updated to its final state")
				assertNoSecretsInSlack(t, sl)
			})
		})
	}
}

func assertNoSecretsInSlack(t *testing.T, sl *fake.Slack) {
	t.Helper()
	for _, c := range sl.Calls("") {
		require.NotContains(t, c.Form.Encode(), testWAToken, "%s carried the gateway token", c.Method)
		require.NotContains(t, c.Form.Encode(), url.QueryEscape(testWAToken))
	}
}

func TestE2E_CancelSendsNothing(t *testing.T) {
	t.Parallel()
	storetest.Each(t, func(t *testing.T, dsn string) {
		sl, gw := fake.NewSlack(t), fake.NewProvider(t, "greenapi")
		a := startApp(t, sl, gw, baseEnvOn(t, sl, gw, dsn))
		id, ts := a.requestCard("U0REQ1", "C1", testGroup+" --no-goodbye")
		status, _ := a.click("U0REQ1", "C1", "leave_cancel", id, ts)
		require.Equal(t, 200, status)
		eventually(t, 5*time.Second, func() bool {
			for _, u := range sl.Calls("chat.update") {
				if strings.Contains(strings.ToLower(u.Form.Get("blocks")), "cancelled") {
					return true
				}
			}
			return false
		}, "card not updated to cancelled")
		// A confirm after the cancel changes nothing.
		status, _ = a.click("U0CNF2", "C1", "leave_confirm", id, ts)
		require.Equal(t, 200, status)
		eventually(t, 5*time.Second, func() bool { return len(sl.Calls("chat.postEphemeral")) == 1 }, "late click not answered")
		time.Sleep(300 * time.Millisecond)
		require.Empty(t, gw.Calls("leave"))
		require.Empty(t, gw.Calls("send"))
	})
}

func TestE2E_ConcurrentClicksLeaveOnce(t *testing.T) {
	t.Parallel()
	storetest.Each(t, func(t *testing.T, dsn string) {
		sl, gw := fake.NewSlack(t), fake.NewProvider(t, "ryzeapi")
		a := startApp(t, sl, gw, baseEnvOn(t, sl, gw, dsn))
		id, ts := a.requestCard("U0REQ1", "C1", testGroup+" bye")
		var wg sync.WaitGroup
		for i := 0; i < 20; i++ {
			wg.Add(1)
			go func(i int) {
				defer wg.Done()
				status, _ := a.click([]string{"U0REQ1", "U0CNF2", "U0CNF3"}[i%3], "C1", "leave_confirm", id, ts)
				if status != 200 {
					t.Errorf("click %d: status %d", i, status)
				}
			}(i)
		}
		wg.Wait()
		eventually(t, 10*time.Second, func() bool { return len(sl.ThreadReplies()) >= 1 }, "no reply")
		time.Sleep(500 * time.Millisecond)
		require.Len(t, gw.Calls("leave"), 1)
		require.Len(t, gw.Calls("send"), 1)
		require.Len(t, sl.ThreadReplies(), 1)
	})
}

func TestE2E_SignaturesRejected(t *testing.T) {
	t.Parallel()
	storetest.Each(t, func(t *testing.T, dsn string) {
		sl, gw := fake.NewSlack(t), fake.NewProvider(t, "greenapi")
		a := startApp(t, sl, gw, baseEnvOn(t, sl, gw, dsn))
		form := url.Values{"command": {"/wa-leave"}, "text": {testGroup}, "user_id": {"U0REQ1"}, "channel_id": {"C1"}}
		cases := map[string]func(req *http.Request, body []byte){
			"forged": func(req *http.Request, body []byte) {
				ts := time.Now()
				req.Header.Set("X-Slack-Request-Timestamp", strconv.FormatInt(ts.Unix(), 10))
				req.Header.Set("X-Slack-Signature", bot.Sign("wrong-secret", ts, body))
			},
			"stale": func(req *http.Request, body []byte) {
				ts := time.Now().Add(-6 * time.Minute)
				req.Header.Set("X-Slack-Request-Timestamp", strconv.FormatInt(ts.Unix(), 10))
				req.Header.Set("X-Slack-Signature", bot.Sign(testSecret, ts, body))
			},
			"missing": func(req *http.Request, body []byte) {},
		}
		for name, sign := range cases {
			for _, path := range []string{"/slack/commands", "/slack/interactions"} {
				status, _ := a.post(path, form, sign)
				require.Equal(t, http.StatusUnauthorized, status, "%s %s", name, path)
			}
		}
		time.Sleep(300 * time.Millisecond)
		for _, c := range sl.Calls("") {
			require.Equal(t, "auth.test", c.Method, "nothing was sent to Slack (the start-up's own auth.test aside)")
		}
		require.Empty(t, gw.Calls("send"), "no goodbye was sent")
		require.Empty(t, gw.Calls("leave"), "no group was left")
	})
}

func TestE2E_UnauthorizedUserRefused(t *testing.T) {
	t.Parallel()
	storetest.Each(t, func(t *testing.T, dsn string) {
		sl, gw := fake.NewSlack(t), fake.NewProvider(t, "greenapi")
		a := startApp(t, sl, gw, baseEnvOn(t, sl, gw, dsn))
		status, body := a.command("U0BAD9", "C1", testGroup)
		require.Equal(t, 200, status)
		require.Contains(t, body, "ephemeral")
		require.NotRegexp(t, requestIDPattern, body)
		time.Sleep(300 * time.Millisecond)
		require.Empty(t, sl.Cards())
	})
}

func TestE2E_DenyByDefault(t *testing.T) {
	t.Parallel()
	storetest.Each(t, func(t *testing.T, dsn string) {
		sl, gw := fake.NewSlack(t), fake.NewProvider(t, "greenapi")
		env := baseEnvOn(t, sl, gw, dsn)
		delete(env, "WALEAVE_ALLOWED_USERS")
		a := startApp(t, sl, gw, env)
		status, body := a.command("U0REQ1", "C1", testGroup)
		require.Equal(t, 200, status)
		require.Contains(t, body, "WALEAVE_ALLOWED_USERS")
		time.Sleep(200 * time.Millisecond)
		require.Empty(t, sl.Cards())
	})
}

func TestE2E_BadInputRecordsNothing(t *testing.T) {
	t.Parallel()
	storetest.Each(t, func(t *testing.T, dsn string) {
		sl, gw := fake.NewSlack(t), fake.NewProvider(t, "greenapi")
		a := startApp(t, sl, gw, baseEnvOn(t, sl, gw, dsn))
		for _, text := range []string{"--bogus " + testGroup, testGroup + " --bogus", "12@g.us"} {
			status, body := a.command("U0REQ1", "C1", text)
			require.Equal(t, 200, status)
			require.Contains(t, body, "ephemeral", text)
			require.NotRegexp(t, requestIDPattern, body, text)
		}
		time.Sleep(200 * time.Millisecond)
		require.Empty(t, sl.Cards())
	})
}

func TestE2E_GatewayOutcomes(t *testing.T) {
	cases := []struct {
		name, provider string
		leave          func(n int) (int, string)
		phrase         string
		leaves         int
	}{
		{"404 not a member", "ryzeapi", func(int) (int, string) {
			return 404, `{"success":false,"error":{"message":"Group not found or you are not a member of this group"}}`
		}, "not a member", 1},
		{"403 not allowed", "ryzeapi", func(int) (int, string) {
			return 403, `{"success":false,"error":{"message":"Not allowed to leave this group"}}`
		}, "not allowed", 1},
		{"400 invalid group", "greenapi", func(int) (int, string) { return 400, `Validation failed` }, "invalid group", 1},
		{"500 unavailable", "wawp", func(int) (int, string) { return 500, `{"error":"boom"}` }, "unavailable", 2},
		{"429 then ok", "greenapi", func(n int) (int, string) {
			if n == 1 {
				return 429, `Too Many Requests`
			}
			return 200, `{"removeAdmin":true}`
		}, "admin", 2},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			storetest.Each(t, func(t *testing.T, dsn string) {
				sl, gw := fake.NewSlack(t), fake.NewProvider(t, tc.provider)
				gw.Leave = tc.leave
				env := baseEnvOn(t, sl, gw, dsn)
				env["WALEAVE_MAX_ATTEMPTS"] = "2"
				a := startApp(t, sl, gw, env)
				id, ts := a.requestCard("U0REQ1", "C1", testGroup+" --no-goodbye")
				status, _ := a.click("U0CNF2", "C1", "leave_confirm", id, ts)
				require.Equal(t, 200, status)
				eventually(t, 15*time.Second, func() bool { return len(sl.ThreadReplies()) == 1 }, "no outcome reply")
				text := strings.ToLower(sl.ThreadReplies()[0].Form.Get("text"))
				require.Contains(t, text, tc.phrase)
				require.Contains(t, text, testGroup)
				require.Len(t, gw.Calls("leave"), tc.leaves)
				assertNoSecretsInSlack(t, sl)
			})
		})
	}
}

// TestE2E_NotInChannel: Slack refuses the card because the bot is not in
// the channel, "not_in_channel" in a public one and "channel_not_found"
// in a private one; either way the requester is told to invite it. A
// card refused for another reason (an archived channel) is explained as
// such. Each request is cancelled, not retried.
func TestE2E_NotInChannel(t *testing.T) {
	t.Parallel()
	storetest.Each(t, func(t *testing.T, dsn string) {
		sl, gw := fake.NewSlack(t), fake.NewProvider(t, "greenapi")
		sl.FailPosts("C404", "not_in_channel")
		sl.FailPosts("G404", "channel_not_found")
		sl.FailPosts("C410", "is_archived")
		a := startApp(t, sl, gw, baseEnvOn(t, sl, gw, dsn))
		for i, c := range []struct{ channel, want string }{{"C404", "invite"}, {"G404", "invite"}, {"C410", "Slack refused to show the confirmation card"}} {
			status, _ := a.command("U0REQ1", c.channel, testGroup)
			require.Equal(t, 200, status)
			eventually(t, 5*time.Second, func() bool { return len(sl.Calls("response_url")) == i+1 }, "requester not told about %s", c.channel)
			require.Contains(t, sl.Calls("response_url")[i].Form.Get("body"), c.want, c.channel)
		}
	})
}

// TestE2E_CrashDuringLeave kills the program hard while the leave call is
// in flight, restarts it on the same database, and checks the request
// completes with one goodbye and one reply.
// TestE2E_StopWithCardsInFlight stops the bot while Slack is still
// answering its card posts and while more cards wait their turn: stopping
// is not a failure, so nothing is logged as an error or a retry, and the
// cards are posted by the next start.
func TestE2E_StopWithCardsInFlight(t *testing.T) {
	t.Parallel()
	sl, gw := fake.NewSlack(t), fake.NewProvider(t, "greenapi")
	release := sl.HoldPosts()
	env := baseEnv(t, sl, gw)
	a := startApp(t, sl, gw, env)
	var ids []string
	for _, ch := range []string{"C1", "C1", "C2", "C3"} {
		status, body := a.command("U0REQ1", ch, testGroup+" bye")
		require.Equal(t, 200, status, body)
		id := requestIDPattern.FindString(body)
		require.NotEmpty(t, id, "ack names the request: %s", body) // else the card check below passes on ""
		ids = append(ids, id)
	}
	eventually(t, 10*time.Second, func() bool { return sl.Held() >= 3 }, "card posts not in flight: %d", sl.Held())
	a.stop()
	a.stop = nil
	release()
	for _, line := range strings.Split(a.logs.String(), "\n") {
		require.NotContains(t, line, "level=ERROR", "stopping logged an error")
		require.NotContains(t, line, "level=WARN", "stopping logged a warning")
	}

	// A post Slack received just as the bot gave up on it may be sent
	// again (Slack has no idempotency key), so this counts requests whose
	// card is in Slack, not posts.
	startApp(t, sl, gw, env)
	posted := func() int {
		n := 0
		for _, id := range ids {
			for _, c := range sl.Cards() {
				if strings.Contains(c.Form.Get("blocks"), id) {
					n++
					break
				}
			}
		}
		return n
	}
	eventually(t, 10*time.Second, func() bool { return posted() == len(ids) }, "requests with a card after restart: %d of %d", posted(), len(ids))
}

func TestE2E_CrashDuringLeave(t *testing.T) {
	if testing.Short() {
		t.Skip("starts child processes")
	}
	// On SQLite the restarted process requeues the job at start-up; on
	// PostgreSQL it waits until the dead process's heartbeat is stale,
	// since the job might be a live replica's.
	storetest.Each(t, func(t *testing.T, dsn string) {
		t.Parallel()
		crashDuringLeave(t, dsn)
	})
}

func crashDuringLeave(t *testing.T, dsn string) {
	sl, gw := fake.NewSlack(t), fake.NewProvider(t, "greenapi")
	gw.Block = make(chan struct{})
	env := baseEnvOn(t, sl, gw, dsn)

	start := func() (*exec.Cmd, string, *syncBuffer) { return startChild(t, env) }

	child, u, logs := start()
	a := &app{t: t, url: u, slack: sl, gw: gw, logs: logs}
	id, ts := a.requestCard("U0REQ1", "C1", testGroup+" so long")
	status, _ := a.click("U0CNF2", "C1", "leave_confirm", id, ts)
	require.Equal(t, 200, status)
	eventually(t, 10*time.Second, func() bool { return len(gw.Calls("leave")) == 1 }, "leave not started")
	require.NoError(t, child.Process.Signal(syscall.SIGKILL))
	_ = child.Wait()

	close(gw.Block) // the gateway answers promptly from now on
	child, u, logs = start()
	defer func() {
		_ = child.Process.Signal(syscall.SIGTERM)
		_ = child.Wait()
		require.NotContains(t, logs.String(), testWAToken)
	}()
	_ = u
	deadline := time.Now().Add(30 * time.Second)
	for len(sl.ThreadReplies()) != 1 && time.Now().Before(deadline) {
		time.Sleep(20 * time.Millisecond)
	}
	if len(sl.ThreadReplies()) != 1 {
		// Ask the child for its goroutine stacks before failing.
		_ = child.Process.Signal(syscall.SIGQUIT)
		time.Sleep(time.Second)
		t.Fatalf("request not completed within 30s of the restart:\n%s\njobs:\n%s", logs.String(), dumpJobs(t, env["DATABASE_URL"]))
	}
	time.Sleep(300 * time.Millisecond)
	require.Len(t, gw.Calls("send"), 1, "one goodbye")
	require.Len(t, sl.ThreadReplies(), 1, "one reply")
	require.Contains(t, strings.ToLower(sl.ThreadReplies()[0].Form.Get("text")), "left")
}

// startChild runs the program as a child process (the test binary, see
// TestMain) with env added to this process's environment, and waits
// until it serves; it returns the process, its base URL and its logs.
// Unlike startApp's, a child can be killed with SIGKILL.
func startChild(t *testing.T, env map[string]string) (*exec.Cmd, string, *syncBuffer) {
	t.Helper()
	cmd := exec.Command(os.Args[0], "-test.run=^$")
	cmd.Env = append(os.Environ(), "WALEAVE_E2E_CHILD=1")
	for k, v := range env {
		cmd.Env = append(cmd.Env, k+"="+v)
	}
	logs := &syncBuffer{}
	stderr, err := cmd.StderrPipe()
	require.NoError(t, err)
	require.NoError(t, cmd.Start())
	addr := make(chan string, 1)
	go func() {
		sc := bufio.NewScanner(stderr)
		sent := false
		for sc.Scan() {
			logs.Write(append(sc.Bytes(), '\n'))
			if m := servingAddr.FindStringSubmatch(sc.Text()); m != nil && !sent {
				addr <- m[1]
				sent = true
			}
		}
	}()
	select {
	case a := <-addr:
		return cmd, "http://" + a, logs
	case <-time.After(20 * time.Second):
		_ = cmd.Process.Kill()
		t.Fatalf("child did not start: %s", logs.String())
	}
	return nil, "", nil
}

// unescapeJSON undoes encoding/json's HTML escaping of <, > and &, so
// assertions can look for mrkdwn such as <@U…>.
func unescapeJSON(s string) string {
	return strings.NewReplacer(`\u003c`, "<", `\u003e`, ">", `\u0026`, "&").Replace(s)
}

// dumpJobs describes River's jobs and the requests, for failure messages.
func dumpJobs(t *testing.T, dsn string) string {
	driver, source, errorsText := "sqlite", "file:"+strings.TrimPrefix(dsn, "sqlite:"), "coalesce(errors, '')"
	if !strings.HasPrefix(dsn, "sqlite:") {
		driver, source, errorsText = "pgx", dsn, "coalesce(errors::text, '')"
	}
	db, err := sql.Open(driver, source)
	if err != nil {
		return err.Error()
	}
	defer db.Close()
	var sb strings.Builder
	for _, q := range []string{
		`SELECT id || ' ' || kind || ' ' || state || ' attempt=' || attempt || ' scheduled=' || scheduled_at || ' errors=' || ` + errorsText + ` FROM river_job`,
		`SELECT id || ' ' || state || ' goodbye=' || goodbye_state || ' attempts=' || attempts || ' outcome=' || outcome FROM requests`,
	} {
		rows, err := db.Query(q)
		if err != nil {
			fmt.Fprintln(&sb, err)
			continue
		}
		for rows.Next() {
			var line string
			_ = rows.Scan(&line)
			fmt.Fprintln(&sb, line)
		}
		rows.Close()
	}
	return sb.String()
}

// TestE2E_ScheduledWorkSurvivesRestart schedules a leave, leaves another
// request unconfirmed, restarts the program in between, and checks that
// the reminder, the expiry and the scheduled leave each happen once, and
// the leave not before its time.
func TestE2E_ScheduledWorkSurvivesRestart(t *testing.T) {
	storetest.Each(t, func(t *testing.T, dsn string) {
		t.Parallel()
		sl, gw := fake.NewSlack(t), fake.NewProvider(t, "greenapi")
		env := baseEnvOn(t, sl, gw, dsn)
		// The reminder is due 2 s after the request and must be posted
		// before it expires: the restarted process may first have to win
		// River's leadership (PostgreSQL), which once took longer than
		// the 6 s an 8 s TTL left.
		env["WALEAVE_REQUEST_TTL"] = "14s"
		env["WALEAVE_REMIND_AFTER"] = "2s"
		a := startApp(t, sl, gw, env)

		idle, idleTS := a.requestCard("U0REQ1", "C1", testGroup+" --no-goodbye")
		runAt := time.Now().Add(7 * time.Second).Truncate(time.Second)
		sched, schedTS := a.requestCard("U0REQ1", "C2", "11001234567-1587570015@g.us --no-goodbye --at "+runAt.UTC().Format(time.RFC3339))
		status, _ := a.click("U0CNF2", "C2", "leave_confirm", sched, schedTS)
		require.Equal(t, 200, status)
		_ = idle

		a.stop()
		a.stop = nil
		time.Sleep(500 * time.Millisecond)
		require.Empty(t, gw.Calls("leave"), "nothing left before its time")
		startApp(t, sl, gw, env)

		eventually(t, 20*time.Second, func() bool { return len(gw.Calls("leave")) == 1 }, "scheduled leave did not run")
		require.False(t, gw.Calls("leave")[0].At.Before(runAt), "left at %s, before %s", gw.Calls("leave")[0].At, runAt)
		eventually(t, 20*time.Second, func() bool {
			for _, u := range sl.Calls("chat.update") {
				if u.Form.Get("ts") == idleTS && strings.Contains(strings.ToLower(u.Form.Get("blocks")), "expired") {
					return true
				}
			}
			return false
		}, "unconfirmed request did not expire")
		time.Sleep(1500 * time.Millisecond)

		var reminders, outcomes int
		for _, r := range sl.ThreadReplies() {
			switch r.Form.Get("thread_ts") {
			case idleTS:
				reminders++
				require.Contains(t, r.Form.Get("text"), "<@U0REQ1>")
			case schedTS:
				outcomes++
			}
		}
		require.Equal(t, 1, reminders, "one reminder")
		require.Equal(t, 1, outcomes, "one outcome reply")
		require.Len(t, gw.Calls("leave"), 1, "one leave")
	})
}

// TestE2E_SecondProcessWaitsForTheSQLiteDatabase starts a second process
// on the first's SQLite file, as a rollout that starts the new process
// before stopping the old one does. The second must not serve (it would
// take back the first's running work as a dead process's) until the
// first has stopped; then it serves and finishes what the first left.
func TestE2E_SecondProcessWaitsForTheSQLiteDatabase(t *testing.T) {
	if testing.Short() {
		t.Skip("starts a child process")
	}
	sl, gw := fake.NewSlack(t), fake.NewProvider(t, "greenapi")
	env := baseEnv(t, sl, gw)
	first := startApp(t, sl, gw, env)
	id, ts := first.requestCard("U0REQ1", "C1", testGroup+" --no-goodbye")

	cmd := exec.Command(os.Args[0], "-test.run=^$")
	cmd.Env = append(os.Environ(), "WALEAVE_E2E_CHILD=1")
	for k, v := range env {
		cmd.Env = append(cmd.Env, k+"="+v)
	}
	logs := &syncBuffer{}
	cmd.Stderr = logs
	require.NoError(t, cmd.Start())
	exited := make(chan error, 1)
	go func() { exited <- cmd.Wait() }()
	t.Cleanup(func() {
		_ = cmd.Process.Signal(syscall.SIGTERM)
		select {
		case <-exited:
		case <-time.After(30 * time.Second):
			_ = cmd.Process.Kill()
		}
	})

	eventually(t, 10*time.Second, func() bool { return strings.Contains(logs.String(), "waiting for it to stop") }, "the second process did not wait:\n%s", logs.String())
	time.Sleep(time.Second)
	require.NotRegexp(t, servingAddr, logs.String(), "the second process serves beside the first")

	first.stop()
	first.stop = nil
	eventually(t, 10*time.Second, func() bool { return servingAddr.MatchString(logs.String()) }, "the second process did not take over:\n%s", logs.String())
	second := &app{t: t, url: "http://" + servingAddr.FindStringSubmatch(logs.String())[1], slack: sl, gw: gw, logs: logs}
	status, _ := second.click("U0CNF2", "C1", "leave_confirm", id, ts)
	require.Equal(t, 200, status)
	eventually(t, 10*time.Second, func() bool { return len(sl.ThreadReplies()) == 1 }, "no outcome from the second process")
	require.Len(t, gw.Calls("leave"), 1)
}

// TestE2E_SecondSignalStopsAtOnce: the first SIGTERM lets a running leave
// finish (up to 20 s); a second one ends the process at once.
func TestE2E_SecondSignalStopsAtOnce(t *testing.T) {
	if testing.Short() {
		t.Skip("starts a child process")
	}
	sl, gw := fake.NewSlack(t), fake.NewProvider(t, "greenapi")
	gw.Block = make(chan struct{})
	defer close(gw.Block)
	env := baseEnv(t, sl, gw)
	child, u, logs := startChild(t, env)
	a := &app{t: t, url: u, slack: sl, gw: gw, logs: logs}
	id, ts := a.requestCard("U0REQ1", "C1", testGroup+" --no-goodbye")
	status, _ := a.click("U0CNF2", "C1", "leave_confirm", id, ts)
	require.Equal(t, 200, status)
	eventually(t, 10*time.Second, func() bool { return len(gw.Calls("leave")) == 1 }, "leave not started")

	exited := make(chan error, 1)
	go func() { exited <- child.Wait() }()
	require.NoError(t, child.Process.Signal(syscall.SIGTERM))
	eventually(t, 5*time.Second, func() bool { return strings.Contains(logs.String(), "shutting down") }, "no shutdown:\n%s", logs.String())
	require.NoError(t, child.Process.Signal(syscall.SIGTERM))
	select {
	case err := <-exited:
		require.Error(t, err, "ended by the signal, not by a clean stop")
	case <-time.After(10 * time.Second): // the first signal alone waits 20 s for the leave
		_ = child.Process.Kill()
		t.Fatalf("a second SIGTERM did not end the process:\n%s", logs.String())
	}
}

// syncBuffer is a goroutine-safe log sink.
type syncBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *syncBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

func (b *syncBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}
