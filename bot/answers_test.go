package bot

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/waleave/waleave/leave"
	"github.com/waleave/waleave/templates"
	"github.com/waleave/waleave/whatsapp"
)

// answersDir holds each gateway's real answers, taken from its published
// docs, SDKs and (for Wawp) the WAHA server it runs, one file per answer
// with a note of where it came from. See answer for the format.
const answersDir = "../whatsapp/testdata/answers"

// answer is one corpus file: key: value lines (source, note, call, path,
// status, kind, outcome, advice, retry, want), then a "-- headers --"
// section of HTTP headers and a "-- body --" section served verbatim
// (less the newline that ends the file).
type answer struct {
	file    string
	sources []string
	call    string // leave, send, group, groups, state, me or activity
	path    string // a part of the request path the call must use
	status  int
	kind    string // ok, or a kind name (kinds below)
	outcome string // the stored outcome it leads to; "lookup" for ErrUnconfirmed
	advice  string // text the outcome's reply must contain
	retry   string // yes or no: whether the leave job retries it
	want    string // the call's result (see result)
	header  http.Header
	body    []byte
}

// kinds names the whatsapp error kinds the corpus may name.
var kinds = map[string]error{
	"not_member":      whatsapp.ErrNotMember,
	"forbidden":       whatsapp.ErrForbidden,
	"unauthorized":    whatsapp.ErrUnauthorized,
	"invalid":         whatsapp.ErrInvalid,
	"not_connected":   whatsapp.ErrNotConnected,
	"quota":           whatsapp.ErrQuota,
	"rate_limited":    whatsapp.ErrRateLimited,
	"unavailable":     whatsapp.ErrUnavailable,
	"unconfirmed":     whatsapp.ErrUnconfirmed,
	"session_missing": whatsapp.ErrSessionMissing,
	"plan_expired":    whatsapp.ErrPlanExpired,
	"not_supported":   whatsapp.ErrNotSupported,
	"wrong_endpoint":  whatsapp.ErrWrongEndpoint,
}

func readAnswer(t *testing.T, path string) answer {
	t.Helper()
	data, err := os.ReadFile(path)
	require.NoError(t, err)
	a := answer{file: path, header: http.Header{}}
	text := string(data)
	meta, rest, ok := strings.Cut(text, "-- headers --\n")
	require.True(t, ok, "%s: no headers section", path)
	headers, body, ok := strings.Cut(rest, "-- body --\n")
	require.True(t, ok, "%s: no body section", path)
	a.body = []byte(strings.TrimSuffix(body, "\n"))
	for _, line := range strings.Split(strings.TrimSpace(headers), "\n") {
		if k, v, ok := strings.Cut(line, ": "); ok {
			a.header.Add(k, v)
		}
	}
	sc := bufio.NewScanner(strings.NewReader(meta))
	for sc.Scan() {
		k, v, ok := strings.Cut(sc.Text(), ": ")
		if !ok {
			k = strings.TrimSuffix(sc.Text(), ":")
		}
		switch k {
		case "source":
			a.sources = append(a.sources, v)
		case "note":
		case "call":
			a.call = v
		case "path":
			a.path = v
		case "status":
			a.status, err = strconv.Atoi(v)
			require.NoError(t, err, path)
		case "kind":
			a.kind = v
		case "outcome":
			a.outcome = v
		case "advice":
			a.advice = v
		case "retry":
			a.retry = v
		case "want":
			a.want = v
		default:
			t.Fatalf("%s: unknown key %q", path, k)
		}
	}
	require.NotEmpty(t, a.sources, "%s: every answer says where it came from", path)
	require.NotZero(t, a.status, path)
	require.NotEmpty(t, a.call, path)
	require.NotEmpty(t, a.kind, path)
	return a
}

// answerConfig is the instance each provider's corpus answers for.
var answerConfig = map[string]whatsapp.Config{
	"greenapi": {Instance: "1101000001", Token: "d75b3a66374942c5b3c019c698abc2067e151558acbd412345"},
	"wawp":     {Instance: "ABC123", Token: "wawp-access-token-0001"},
	"ryzeapi":  {Instance: "sales", Token: "ryze-instance-token-0001"},
}

const answerGroup = "120363406289005073@g.us"

// TestGatewayAnswers serves every answer in the corpus to the real client
// for its call, and checks the kind it is classified as, whether the leave
// job retries it, and the outcome and advice it ends in.
func TestGatewayAnswers(t *testing.T) {
	providers, err := os.ReadDir(answersDir)
	require.NoError(t, err)
	total := 0
	for _, p := range providers {
		if !p.IsDir() {
			continue // the corpus's README
		}
		provider := p.Name()
		files, err := filepath.Glob(filepath.Join(answersDir, provider, "*.txtar"))
		require.NoError(t, err)
		require.NotEmpty(t, files, provider)
		for _, file := range files {
			total++
			a := readAnswer(t, file)
			t.Run(provider+"/"+strings.TrimSuffix(filepath.Base(file), ".txtar"), func(t *testing.T) {
				t.Parallel()
				checkAnswer(t, provider, a)
			})
		}
	}
	require.GreaterOrEqual(t, total, 60, "the corpus is all there")
}

func checkAnswer(t *testing.T, provider string, a answer) {
	var mu sync.Mutex
	var paths []string
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		mu.Lock()
		paths = append(paths, r.URL.EscapedPath())
		mu.Unlock()
		for k, vs := range a.header {
			w.Header()[k] = vs
		}
		w.WriteHeader(a.status)
		_, _ = w.Write(a.body)
	}))
	defer srv.Close()
	cfg := answerConfig[provider]
	cfg.BaseURL = srv.URL
	gw, err := whatsapp.New(provider, cfg, srv.Client())
	require.NoError(t, err)

	got, err := callFor(t, gw, a.call)
	mu.Lock()
	require.Len(t, paths, 1, "one request")
	assert.Contains(t, paths[0], a.path, "the call's path")
	mu.Unlock()

	if a.kind == "ok" {
		require.NoError(t, err, a.file)
		if a.want != "" {
			assert.Equal(t, a.want, got, a.file)
		}
	} else {
		kind, known := kinds[a.kind]
		require.True(t, known, "%s: unknown kind %q", a.file, a.kind)
		require.ErrorIs(t, err, kind, a.file)
		var e *whatsapp.Error
		require.ErrorAs(t, err, &e)
		assert.Equal(t, kind, e.Kind, "%s: %v", a.file, err)
		assert.Equal(t, a.status, e.Status)
		assert.NotContains(t, err.Error(), cfg.Token, "no token in errors")
		if a.retry != "" {
			assert.Equal(t, a.retry == "yes", whatsapp.Transient(err), "%s: retried", a.file)
		}
	}

	outcome := answerOutcome(a.call, got, err)
	if a.outcome != "" && a.outcome != "-" {
		assert.Equal(t, a.outcome, string(outcome), "%s: %v", a.file, err)
	}
	if a.advice != "" {
		reply := templates.OutcomeText(outcome, "Night shift", "")
		assert.Contains(t, reply, a.advice, "%s: the reply's advice", a.file)
	}
}

// callFor makes one call of the corpus's kind and renders its result as
// the corpus's want line.
func callFor(t *testing.T, gw whatsapp.Gateway, call string) (string, error) {
	ctx := context.Background()
	switch call {
	case "leave":
		res, err := gw.Leave(ctx, answerGroup)
		return fmt.Sprintf("was_admin=%v", res.WasAdmin), err
	case "send":
		return gw.SendText(ctx, answerGroup, "Bye!")
	case "group":
		g, err := gw.Group(ctx, answerGroup)
		admins := 0
		for _, p := range g.Participants {
			if p.IsAdmin {
				admins++
			}
		}
		return fmt.Sprintf("jid=%s subject=%s size=%d admins=%d", g.JID, g.Subject, g.Size, admins), err
	case "groups":
		gs, err := gw.Groups(ctx)
		var jids []string
		for _, g := range gs {
			jids = append(jids, g.JID)
		}
		return fmt.Sprintf("%d groups: %s", len(gs), strings.Join(jids, ",")), err
	case "state":
		st, err := gw.State(ctx)
		return fmt.Sprintf("connected=%v raw=%s me=%s", st.Connected, st.Raw, st.Me), err
	case "me":
		return gw.Me(ctx)
	case "activity":
		at, err := gw.LastActivity(ctx, answerGroup)
		if err != nil || at.IsZero() {
			return "unknown", err
		}
		return at.UTC().Format(time.RFC3339), nil
	}
	t.Fatalf("unknown call %q", call)
	return "", nil
}

// answerOutcome is the stored outcome the leave job records for a call's
// result: the leave's own on success, "sent" for a goodbye that went out,
// "lookup" for an unconfirmed success (the job looks the group up rather
// than deciding from the answer), and failure's mapping otherwise.
func answerOutcome(call, got string, err error) leave.Outcome {
	switch {
	case errors.Is(err, whatsapp.ErrUnconfirmed):
		return "lookup"
	case err != nil:
		step := leave.StepLeave
		if call == "send" {
			step = leave.StepGoodbye
		}
		return stepOutcome(err, step).Code
	case call == "leave" && got == "was_admin=true":
		return leave.OutcomeLeftAdmin
	case call == "leave":
		return leave.OutcomeLeft
	case call == "send":
		return "sent"
	}
	return "-"
}
