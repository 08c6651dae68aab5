package main

import (
	"bytes"
	"context"
	"fmt"
	"net/http"
	"net/http/httptest"
	"net/url"
	"path/filepath"
	"strings"
	"sync"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/waleave/waleave/fake"

	"github.com/waleave/waleave/store"
	"github.com/waleave/waleave/store/storetest"
)

// newCheckSlack is the fake Slack answering only the methods in answers
// with the bodies a test sets (404 for any other).
func newCheckSlack(t *testing.T, answers map[string]string) *fake.Slack {
	f := fake.NewSlack(t)
	f.AnswerOnly(answers)
	return f
}

// newCheckGateway is the fake Green API, answering getStateInstance with
// one answer.
func newCheckGateway(t *testing.T, status int, body string) *fake.Provider {
	gw := fake.NewProvider(t, "greenapi")
	gw.State = func() (int, string) { return status, body }
	return gw
}

func TestCheck(t *testing.T) {
	const (
		authOK       = `{"ok":true,"url":"https://test.slack.com/","team":"Test","user":"waleave","team_id":"T1","user_id":"U0BOT"}`
		authInvalid  = `{"ok":false,"error":"invalid_auth"}`
		openOK       = `{"ok":true,"url":"wss://wss-primary.slack.com/link/?ticket=SECRET-TICKET&app_id=A1"}`
		authorized   = `{"stateInstance":"authorized"}`
		notAuthed    = `{"stateInstance":"notAuthorized"}`
		slackFix     = "check SLACK_BOT_TOKEN (OAuth & Permissions → Bot User OAuth Token) and SLACK_API_URL"
		appFix       = "check SLACK_APP_TOKEN (Basic Information → App-Level Tokens, scope connections:write) and that Socket Mode is enabled for the app"
		credsFix     = "check WA_INSTANCE and WA_TOKEN in the gateway's console"
		loginFix     = "log the instance in (scan the QR code in the gateway's console) and try again"
		slackOKLines = "ok   configuration\n     Slack: bot waleave in workspace Test\nok   Slack token (auth.test)\n"
	)
	cases := []struct {
		name        string
		slack       map[string]string
		gwStatus    int
		gwBody      string
		socketMode  bool
		badDB       bool
		dbInUse     bool              // a serving process has the database open
		env         map[string]string // overrides
		want        string            // the whole output; %DB% is DATABASE_URL, %DBERR% the missing-directory error
		wantErr     string
		wantAppAuth bool
	}{
		{
			name:  "all good",
			slack: map[string]string{"auth.test": authOK}, gwStatus: 200, gwBody: authorized,
			want: slackOKLines + "ok   WhatsApp gateway (greenapi)\nok   database (%DB%)\n",
		},
		{
			name:  "Slack refuses the bot token",
			slack: map[string]string{"auth.test": authInvalid}, gwStatus: 200, gwBody: authorized,
			want:    "ok   configuration\nFAIL Slack token (auth.test): invalid_auth; " + slackFix + "\nok   WhatsApp gateway (greenapi)\nok   database (%DB%)\n",
			wantErr: "1 check(s) failed",
		},
		{
			name:  "instance not logged in",
			slack: map[string]string{"auth.test": authOK}, gwStatus: 200, gwBody: notAuthed,
			want:    slackOKLines + `FAIL WhatsApp gateway (greenapi): instance state is "notAuthorized"; ` + loginFix + "\nok   database (%DB%)\n",
			wantErr: "1 check(s) failed",
		},
		{
			name:  "gateway rejects the token",
			slack: map[string]string{"auth.test": authOK}, gwStatus: 401, gwBody: `{"message":"Unauthorized"}`,
			want:    slackOKLines + "FAIL WhatsApp gateway (greenapi): greenapi getStateInstance: unauthorized (HTTP 401)%GWMSG%; " + credsFix + "\nok   database (%DB%)\n",
			wantErr: "1 check(s) failed",
		},
		{
			name:  "database directory missing",
			slack: map[string]string{"auth.test": authOK}, gwStatus: 200, gwBody: authorized, badDB: true,
			want:    slackOKLines + "ok   WhatsApp gateway (greenapi)\nFAIL database (%DB%): %DBERR%; check DATABASE_URL and that its directory is writable\n",
			wantErr: "1 check(s) failed",
		},
		{
			name:  "socket mode, app token accepted",
			slack: map[string]string{"auth.test": authOK, "apps.connections.open": openOK}, gwStatus: 200, gwBody: authorized, socketMode: true,
			want:        slackOKLines + "ok   Slack app-level token (apps.connections.open)\nok   WhatsApp gateway (greenapi)\nok   database (%DB%)\n",
			wantAppAuth: true,
		},
		{
			name:  "socket mode, app token refused",
			slack: map[string]string{"auth.test": authOK, "apps.connections.open": authInvalid}, gwStatus: 200, gwBody: authorized, socketMode: true,
			want:        slackOKLines + "FAIL Slack app-level token (apps.connections.open): invalid_auth; " + appFix + "\nok   WhatsApp gateway (greenapi)\nok   database (%DB%)\n",
			wantErr:     "1 check(s) failed",
			wantAppAuth: true,
		},
		{
			name:  "database in use by the serving process",
			slack: map[string]string{"auth.test": authOK}, gwStatus: 200, gwBody: authorized, dbInUse: true,
			want: slackOKLines + "ok   WhatsApp gateway (greenapi)\nok   database (%DB%): in use by a running waleave\n",
		},
		{
			name:  "gateway URL wrong",
			slack: map[string]string{"auth.test": authOK}, gwStatus: 404, gwBody: "<html><h1>404 Not Found</h1></html>",
			want: slackOKLines + "FAIL WhatsApp gateway (greenapi): greenapi getStateInstance: invalid request (HTTP 404): no such endpoint (check WA_API_URL): <html><h1>404 Not Found</h1></html>; " +
				"check WA_PROVIDER and WA_API_URL: the gateway does not take the request as sent\nok   database (%DB%)\n",
			wantErr: "1 check(s) failed",
		},
		{
			name:  "everything fails",
			slack: map[string]string{"auth.test": authInvalid, "apps.connections.open": authInvalid}, gwStatus: 200, gwBody: notAuthed, socketMode: true, badDB: true,
			want: "ok   configuration\nFAIL Slack token (auth.test): invalid_auth; " + slackFix +
				"\nFAIL Slack app-level token (apps.connections.open): invalid_auth; " + appFix +
				"\nFAIL WhatsApp gateway (greenapi): instance state is \"notAuthorized\"; " + loginFix +
				"\nFAIL database (%DB%): %DBERR%; check DATABASE_URL and that its directory is writable\n",
			wantErr: "4 check(s) failed",
		},
		{
			name:    "invalid configuration stops before any call",
			slack:   map[string]string{"auth.test": authOK},
			env:     map[string]string{"WA_TOKEN": "", "SLACK_BOT_TOKEN": "xoxp-user-token"},
			want:    "FAIL configuration: invalid configuration:\n  WA_TOKEN is required\n  SLACK_BOT_TOKEN must be a bot token starting with xoxb-\n",
			wantErr: "configuration is invalid",
		},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			sl := newCheckSlack(t, tc.slack)
			gw := newCheckGateway(t, tc.gwStatus, tc.gwBody)
			dir := t.TempDir()
			if tc.badDB {
				dir = filepath.Join(dir, "missing", "dir")
			}
			dsn := "sqlite:" + filepath.Join(dir, "waleave.db")
			if tc.dbInUse {
				db, err := store.Open(t.Context(), dsn)
				require.NoError(t, err)
				t.Cleanup(func() { db.Close() })
			}
			env := map[string]string{
				"SLACK_BOT_TOKEN":      testBotToken,
				"SLACK_SIGNING_SECRET": testSecret,
				"SLACK_API_URL":        sl.URL + "/api/",
				"WA_PROVIDER":          "greenapi",
				"WA_API_URL":           gw.URL,
				"WA_INSTANCE":          "1101000001",
				"WA_TOKEN":             testWAToken,
				"DATABASE_URL":         dsn,
			}
			if tc.socketMode {
				env["SLACK_APP_TOKEN"] = testAppToken
			}
			for k, v := range tc.env {
				env[k] = v
			}

			var out, errOut bytes.Buffer
			err := run(context.Background(), []string{"check"}, func(k string) string { return env[k] }, &out, &errOut)
			got := out.String()

			want := strings.ReplaceAll(tc.want, "%DB%", dsn)
			if strings.Contains(want, "%GWMSG%") {
				// The gateway's own message follows the status; its exact
				// wording is the whatsapp package's business.
				i := strings.Index(got, "(HTTP 401)")
				j := strings.Index(got, "; "+"check WA_INSTANCE")
				require.True(t, i >= 0 && j > i, "gateway line: %s", got)
				want = strings.ReplaceAll(want, "%GWMSG%", got[i+len("(HTTP 401)"):j])
			}
			want = strings.ReplaceAll(want, "%DBERR%", "directory "+dir+" does not exist")
			require.Equal(t, want, got)
			require.Empty(t, errOut.String(), "check writes its report to stdout only")

			if tc.wantErr == "" {
				require.NoError(t, err, "exit status 0")
			} else {
				require.EqualError(t, err, tc.wantErr, "exit status 1")
			}
			for _, secret := range []string{testBotToken, testWAToken, testAppToken, "SECRET-TICKET", "xoxp-user-token"} {
				require.NotContains(t, got, secret)
				require.NotContains(t, fmt.Sprint(err), secret)
			}
			if tc.wantAppAuth {
				require.Equal(t, testAppToken, sl.TokenOf("apps.connections.open"), "apps.connections.open authenticates with the app-level token")
			}
			if tc.env == nil {
				require.Equal(t, testBotToken, sl.TokenOf("auth.test"), "auth.test authenticates with the bot token")
			} else {
				require.Empty(t, sl.TokenOf("auth.test"), "nothing is called with a bad configuration")
			}
		})
	}
}

// TestCheckDatabase_Postgres opens a PostgreSQL database as `waleave
// check` does, and checks that a refused login does not show the
// password it was given.
func TestCheckDatabase_Postgres(t *testing.T) {
	dsn := storetest.Postgres(t)
	require.NoError(t, checkDatabase(t.Context(), dsn))

	u, err := url.Parse(dsn)
	require.NoError(t, err)
	u.User = url.UserPassword(u.User.Username(), "wrong-pw-4711")
	err = checkDatabase(t.Context(), u.String())
	require.Error(t, err)
	require.NotContains(t, err.Error(), "wrong-pw-4711")
}

// TestCheck_GatewayAdviceFitsTheCause runs `waleave check` against Green
// API answers (from whatsapp/testdata/answers) whose cause a QR code does
// not fix, and checks that the advice names the real fix.
func TestCheck_GatewayAdviceFitsTheCause(t *testing.T) {
	cases := []struct {
		name, body, want string
	}{
		{"plan expired", "Instance account is expired. Renew your instance from personal area", "plan has expired: renew it"},
		{"plan expired, JSON", `{"code":400,"description":"Instance account is expired. Renew your instance from personal area"}`, "plan has expired: renew it"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			sl := newCheckSlack(t, map[string]string{"auth.test": `{"ok":true,"team":"Test","user":"waleave","team_id":"T1","user_id":"U0BOT"}`})
			gw := newCheckGateway(t, http.StatusBadRequest, tc.body)
			env := map[string]string{
				"SLACK_BOT_TOKEN":      testBotToken,
				"SLACK_SIGNING_SECRET": testSecret,
				"SLACK_API_URL":        sl.URL + "/api/",
				"WA_PROVIDER":          "greenapi",
				"WA_API_URL":           gw.URL,
				"WA_INSTANCE":          "1101000001",
				"WA_TOKEN":             testWAToken,
				"DATABASE_URL":         "sqlite:" + filepath.Join(t.TempDir(), "waleave.db"),
			}
			var out, errOut bytes.Buffer
			err := run(context.Background(), []string{"check"}, func(k string) string { return env[k] }, &out, &errOut)
			require.EqualError(t, err, "1 check(s) failed")
			require.Contains(t, out.String(), tc.want)
			require.NotContains(t, out.String(), "QR code in the gateway")
		})
	}
}

// A Slack API that cannot be reached, or that is not Slack's, is not
// blamed on the token: the line names the network or SLACK_API_URL, and
// the app-level token is not checked against an API that is not there.
func TestCheck_SlackUnreachableIsNotTheToken(t *testing.T) {
	closed := httptest.NewServer(http.NotFoundHandler())
	closed.Close() // its port now refuses connections
	notSlack := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		http.Error(w, "<html>not here</html>", http.StatusNotFound)
	}))
	t.Cleanup(notSlack.Close)
	for name, tc := range map[string]struct{ apiURL, want string }{
		"connection refused": {closed.URL + "/api/", "FAIL Slack API (auth.test): "},
		"no such host":       {"https://waleave-check.invalid/api/", "FAIL Slack API (auth.test): "},
		"not Slack":          {notSlack.URL + "/api/", "FAIL Slack API (auth.test): slack server error: 404 Not Found; check SLACK_API_URL"},
	} {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			gw := newCheckGateway(t, 200, `{"stateInstance":"authorized"}`)
			env := map[string]string{
				"SLACK_BOT_TOKEN": testBotToken, "SLACK_APP_TOKEN": testAppToken, "SLACK_API_URL": tc.apiURL,
				"WA_PROVIDER": "greenapi", "WA_API_URL": gw.URL, "WA_INSTANCE": "1101000001", "WA_TOKEN": testWAToken,
				"DATABASE_URL": "sqlite:" + filepath.Join(t.TempDir(), "waleave.db"),
			}
			var out bytes.Buffer
			err := run(t.Context(), []string{"check"}, func(k string) string { return env[k] }, &out, &out)
			require.EqualError(t, err, "1 check(s) failed")
			got := out.String()
			require.Contains(t, got, tc.want)
			require.NotContains(t, got, "SLACK_BOT_TOKEN", "the token is not blamed")
			require.NotContains(t, got, "SLACK_APP_TOKEN")
			require.NotContains(t, got, "apps.connections.open", "no second failure for the same cause")
			if name != "not Slack" {
				require.Contains(t, got, "the Slack API could not be reached: check the network (DNS, proxy, firewall) and SLACK_API_URL")
			}
			require.Contains(t, got, "ok   WhatsApp gateway (greenapi)")
		})
	}
}

// With the dry run, check needs no gateway credentials and says so.
func TestCheck_DryRun(t *testing.T) {
	sl := newCheckSlack(t, map[string]string{"auth.test": `{"ok":true,"team":"Test","user":"waleave"}`})
	env := map[string]string{
		"SLACK_BOT_TOKEN": testBotToken, "SLACK_SIGNING_SECRET": testSecret, "SLACK_API_URL": sl.URL + "/api/",
		"WA_PROVIDER": "dryrun", "DATABASE_URL": "sqlite:" + filepath.Join(t.TempDir(), "waleave.db"),
	}
	var out bytes.Buffer
	require.NoError(t, run(t.Context(), []string{"check"}, func(k string) string { return env[k] }, &out, &out), out.String())
	require.Contains(t, out.String(), "ok   WhatsApp gateway (dryrun)")
}

// A Slack API URL or gateway that answers with a redirect does not get
// the token sent on to where it points: the check fails instead. A plain
// http:// gateway that is not on this machine works but is named as a
// risk.
func TestCheck_FollowsNoRedirectsAndNamesPlainHTTP(t *testing.T) {
	var mu sync.Mutex
	var stolen []string
	elsewhere := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		_ = r.ParseForm()
		mu.Lock()
		stolen = append(stolen, r.URL.Path+" "+r.Header.Get("Authorization")+" "+r.Form.Encode())
		mu.Unlock()
		fmt.Fprint(w, `{"ok":true,"stateInstance":"authorized"}`)
	}))
	defer elsewhere.Close()
	redirect := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		http.Redirect(w, r, elsewhere.URL+r.URL.Path, http.StatusTemporaryRedirect)
	}))
	defer redirect.Close()
	_, port, _ := strings.Cut(strings.TrimPrefix(redirect.URL, "http://"), ":")
	env := map[string]string{
		"SLACK_BOT_TOKEN": testBotToken, "SLACK_SIGNING_SECRET": testSecret,
		"SLACK_API_URL": redirect.URL + "/api/", "WA_PROVIDER": "greenapi",
		// 0.0.0.0 is not a loopback address, so the plain http:// gateway
		// is named as a risk; Linux still connects it to this machine.
		"WA_API_URL":  "http://0.0.0.0:" + port,
		"WA_INSTANCE": "1101000001", "WA_TOKEN": testWAToken,
		"DATABASE_URL": "sqlite:" + filepath.Join(t.TempDir(), "waleave.db"),
	}
	var out bytes.Buffer
	err := run(context.Background(), []string{"check"}, func(k string) string { return env[k] }, &out, &bytes.Buffer{})
	require.EqualError(t, err, "2 check(s) failed", out.String())
	require.Contains(t, out.String(), "warn WA_API_URL is plain http:// to 0.0.0.0:"+port+": ")
	require.Contains(t, out.String(), "FAIL Slack API (auth.test)")
	require.Contains(t, out.String(), "FAIL WhatsApp gateway (greenapi)")
	mu.Lock()
	defer mu.Unlock()
	require.Empty(t, stolen, "a redirect was followed")
}
