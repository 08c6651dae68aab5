package bot

import (
	"bytes"
	"context"
	"errors"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/riverqueue/river/rivertype"
	"github.com/slack-go/slack"
	"github.com/stretchr/testify/require"

	"github.com/waleave/waleave/fake"
	"github.com/waleave/waleave/store"
	"github.com/waleave/waleave/whatsapp"
)

// discardLog is the logger of tests that do not read the log.
var discardLog = slog.New(slog.NewTextHandler(io.Discard, nil))

// bufLog is a text logger at level into buf.
func bufLog(buf *bytes.Buffer, level slog.Level) *slog.Logger {
	return slog.New(slog.NewTextHandler(buf, &slog.HandlerOptions{Level: level}))
}

// A refused Slack request is logged at debug, with its reason and never
// its body; at info nothing is logged.
func TestVerifySlack_RefusalLoggedAtDebugWithReason(t *testing.T) {
	const body = "command=%2Fwa-leave&text=BODYTEXT"
	signed := func(secret string, ts time.Time) http.Header {
		return http.Header{
			"Content-Type":              {"application/x-www-form-urlencoded"},
			"X-Slack-Request-Timestamp": {strconv.FormatInt(ts.Unix(), 10)},
			"X-Slack-Signature":         {Sign(secret, ts, []byte(body))},
		}
	}
	tests := []struct {
		name, secret string
		header       http.Header
		body         string
		status       int
		reason       string
	}{
		{"wrong secret", exampleSecret, signed("another secret", exampleTime), body, 401, "signature does not match the body"},
		{"stale timestamp", exampleSecret, signed(exampleSecret, exampleTime.Add(-6*time.Minute)), body, 401, "timestamp more than five minutes from now"},
		{"no timestamp", exampleSecret, http.Header{"X-Slack-Signature": {"v0=00"}}, body, 401, "no valid X-Slack-Request-Timestamp"},
		{"no signature", exampleSecret, http.Header{"X-Slack-Request-Timestamp": {exampleTimestamp}}, body, 401, "no v0= X-Slack-Signature"},
		{"malformed signature", exampleSecret, http.Header{"X-Slack-Request-Timestamp": {exampleTimestamp}, "X-Slack-Signature": {"v0=zz"}}, body, 401, "malformed X-Slack-Signature"},
		{"no secret configured", "", signed(exampleSecret, exampleTime), body, 401, "no signing secret is configured"},
		{"oversize", exampleSecret, signed(exampleSecret, exampleTime), body + strings.Repeat("x", maxBodyBytes), 413, "body over the cap"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			for _, level := range []slog.Level{slog.LevelDebug, slog.LevelInfo} {
				var logs bytes.Buffer
				h := VerifySlack(bufLog(&logs, level), tt.secret, func() time.Time { return exampleTime })(&recorder{})
				req := httptest.NewRequest(http.MethodPost, "/slack/commands", strings.NewReader(tt.body))
				req.Header = tt.header
				w := httptest.NewRecorder()
				h.ServeHTTP(w, req)
				require.Equal(t, tt.status, w.Code)
				if level == slog.LevelInfo {
					require.Empty(t, logs.String(), "a refusal is not logged at info")
					continue
				}
				line := logs.String()
				require.Equal(t, 1, strings.Count(line, "\n"), line)
				require.Contains(t, line, `level=DEBUG msg="slack request refused" path=/slack/commands status=`+strconv.Itoa(tt.status))
				require.Contains(t, line, tt.reason)
				require.NotContains(t, line, "BODYTEXT", "the body is never logged")
			}
		})
	}
}

// River's info records (here "River client started" and "stopped"; the
// producer's periodic job counts and the maintenance services' counters
// are the same level) reach the log only at debug; a job's error is
// logged by waleave at warn.
func TestRiverInfoLogsOnlyAtDebug(t *testing.T) {
	run := func(t *testing.T, level slog.Level) string {
		t.Helper()
		ctx := context.Background()
		db, err := store.Open(ctx, "sqlite:"+filepath.Join(t.TempDir(), "w.db"))
		require.NoError(t, err)
		t.Cleanup(func() { db.Close() })
		srv := fake.NewSlack(t)
		var logs bytes.Buffer
		b, err := New(ctx, bufLog(&logs, level), db, slack.New("xoxb-test", slack.OptionAPIURL(srv.URL+"/api/")), &fake.Gateway{}, nil, Options{AllowedUsers: []string{"U0REQ1"}})
		require.NoError(t, err)
		require.NoError(t, b.Start(ctx))
		sctx, cancel := context.WithTimeout(ctx, 10*time.Second)
		defer cancel()
		require.NoError(t, b.Stop(sctx))
		return logs.String()
	}

	info := run(t, slog.LevelInfo)
	require.NotContains(t, info, "component=river", "River logs nothing at info")

	debug := run(t, slog.LevelDebug)
	require.Contains(t, debug, `level=DEBUG msg="River client started" component=river`)
	require.NotContains(t, debug, "level=INFO msg=\"River", "River's info records are lowered to debug")

	var logs bytes.Buffer
	h := riverLogHandler{bufLog(&logs, slog.LevelInfo).Handler()}
	slog.New(h).Warn("river warning")
	require.Contains(t, logs.String(), `level=WARN msg="river warning"`, "River's warnings pass as they are")

	logs.Reset()
	je := jobErrorLog{bufLog(&logs, slog.LevelInfo)}
	require.Nil(t, je.HandleError(context.Background(), &rivertype.JobRow{ID: 7, Kind: "sweep", Attempt: 1, MaxAttempts: 3}, errors.New("database is locked")))
	require.Contains(t, logs.String(), `level=WARN msg="job failed; River will run it again" job=sweep job_id=7 attempt=1 err="database is locked"`)
}

// No info record says err=<nil>: where a lookup failed without an error,
// the record says what was missing instead.
func TestInfoLogsNeverSayErrNil(t *testing.T) {
	ctx := context.Background()
	tb := newTestBot(t, Options{})
	var logs bytes.Buffer
	tb.log = bufLog(&logs, slog.LevelInfo)

	// The gateway's state names no JID and it has no Me call.
	require.Empty(t, tb.selfJID(ctx, tb.numbers[0]))
	require.Contains(t, logs.String(), "own JID is unknown (the gateway does not report it)")

	// An invite code the gateway answers without a group JID.
	tb.gw.GroupFunc = func(context.Context, string) (whatsapp.Group, error) { return whatsapp.Group{Subject: "x"}, nil }
	tb.Command(ctx, slack.SlashCommand{TeamID: "T1", UserID: "U0REQ1", ChannelID: "C1", Text: "https://chat.whatsapp.com/HfVhvqMA9Y4G4LhRT0mZ1q"})
	require.Contains(t, logs.String(), "invite code lookup failed: the gateway named no group JID")

	require.NotContains(t, logs.String(), "err=<nil>", logs.String())
}
