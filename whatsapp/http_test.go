package whatsapp

import (
	"context"
	"errors"
	"fmt"
	"io"
	"math"
	"net"
	"net/http"
	"net/http/httptest"
	"net/url"
	"sort"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"golang.org/x/time/rate"
)

// testToken has characters that path and query escaping change, so tests
// catch a token leaking in any of its printed forms.
const testToken = "s3cr3t/T0ken+xyz"

// The other fixed inputs of the tests.
const (
	testGroup    = "120363406289005073@g.us"
	testOldGroup = "11001234567-1587570015@g.us"
	testUser     = "79001234567@c.us"
	testInstance = "1101000001"
)

// recorded is what a fake gateway saw of one request.
type recorded struct {
	Method   string
	Path     string // escaped, as sent on the wire
	RawQuery string
	Header   http.Header
	Body     string
}

// answer is a fake gateway's canned reply.
type answer struct {
	status int
	header map[string]string
	body   string
}

// serve starts a fake gateway that records every request and replies with
// a. The returned func lists the requests seen so far.
func serve(t *testing.T, a answer) (*httptest.Server, func() []recorded) {
	t.Helper()
	var mu sync.Mutex
	var seen []recorded
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(r.Body)
		mu.Lock()
		seen = append(seen, recorded{Method: r.Method, Path: r.URL.EscapedPath(), RawQuery: r.URL.RawQuery, Header: r.Header.Clone(), Body: string(body)})
		mu.Unlock()
		for k, v := range a.header {
			w.Header().Set(k, v)
		}
		status := a.status
		if status == 0 {
			status = http.StatusOK
		}
		w.WriteHeader(status)
		io.WriteString(w, a.body)
	}))
	t.Cleanup(srv.Close)
	return srv, func() []recorded {
		mu.Lock()
		defer mu.Unlock()
		return append([]recorded(nil), seen...)
	}
}

// providers builds each provider's client against baseURL.
var providerNames = []string{"greenapi", "wawp", "ryzeapi"}

func newGateway(t *testing.T, provider, baseURL string, hc *http.Client) Gateway {
	t.Helper()
	gw, err := New(provider, Config{BaseURL: baseURL, Instance: testInstance, Token: testToken}, hc)
	require.NoError(t, err)
	return gw
}

// clientOf exposes a gateway's plumbing to tests.
func clientOf(gw Gateway) *client {
	switch g := gw.(type) {
	case *GreenAPI:
		return g.c
	case *Wawp:
		return g.c
	case *RyzeAPI:
		return g.c
	}
	panic("unknown gateway")
}

// unlimited lifts the rate limits, for tests that call faster than the
// gateways allow.
func unlimited(gw Gateway) Gateway {
	c := clientOf(gw)
	for _, l := range c.limiters {
		l.SetLimit(rate.Inf)
	}
	c.shared.SetLimit(rate.Inf)
	return gw
}

// assertNoToken fails when s holds the token in any printed form.
func assertNoToken(t *testing.T, s string) {
	t.Helper()
	for _, form := range []string{testToken, url.PathEscape(testToken), url.QueryEscape(testToken), "T0ken"} {
		assert.NotContains(t, s, form)
	}
}

var allKinds = []error{ErrNotMember, ErrForbidden, ErrUnauthorized, ErrInvalid, ErrNotConnected, ErrQuota, ErrRateLimited, ErrUnavailable,
	ErrUnconfirmed, ErrSessionMissing, ErrPlanExpired, ErrNotSupported, ErrWrongEndpoint}

// requireKind checks that err is an *Error of exactly the wanted kind
// (and of the kind that one refines, if any) and status, and returns it.
func requireKind(t *testing.T, err error, kind error, status int) *Error {
	t.Helper()
	var e *Error
	require.ErrorAs(t, err, &e)
	for _, k := range allKinds {
		assert.Equal(t, k == kind || errors.Is(kind, k), errors.Is(err, k), "errors.Is(err, %v) for %v", k, err)
	}
	assert.Equal(t, status, e.Status, "status of %v", err)
	assertNoToken(t, err.Error())
	return e
}

// callAll runs every Gateway method once and returns their errors.
func callAll(ctx context.Context, gw Gateway) map[string]error {
	errs := map[string]error{}
	_, errs["Leave"] = gw.Leave(ctx, testGroup)
	_, errs["SendText"] = gw.SendText(ctx, testGroup, "bye")
	_, errs["Group"] = gw.Group(ctx, testGroup)
	_, errs["Groups"] = gw.Groups(ctx)
	errs["Promote"] = gw.Promote(ctx, testGroup, testUser)
	_, errs["State"] = gw.State(ctx)
	_, errs["LastActivity"] = gw.LastActivity(ctx, testGroup)
	return errs
}

func TestNew(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name     string
		provider string
		cfg      Config
		wantType Gateway
		wantErr  string
	}{
		{name: "greenapi", provider: "greenapi", cfg: Config{Instance: testInstance, Token: testToken}, wantType: &GreenAPI{}},
		{name: "wawp", provider: "wawp", cfg: Config{Instance: "ABC123", Token: testToken, Rate: 2}, wantType: &Wawp{}},
		{name: "ryzeapi", provider: "ryzeapi", cfg: Config{Instance: "my-instance", Token: testToken}, wantType: &RyzeAPI{}},
		{name: "unknown provider", provider: "twilio", cfg: Config{Instance: "x", Token: testToken}, wantErr: `unknown provider "twilio"`},
		{name: "missing instance and token", provider: "ryzeapi", wantErr: "Instance is required; Token is required"},
		{name: "token with a newline", provider: "ryzeapi", cfg: Config{Instance: "x", Token: testToken + "\n"}, wantErr: "Token contains spaces or control characters"},
		{name: "relative base URL", provider: "wawp", cfg: Config{BaseURL: "api.wawp.net", Instance: "x", Token: testToken}, wantErr: "must be an absolute http(s) URL"},
		{name: "base URL with a query", provider: "wawp", cfg: Config{BaseURL: "https://api.wawp.net/?a=b", Instance: "x", Token: testToken}, wantErr: "must not have a query"},
		{name: "green api instance not a number", provider: "greenapi", cfg: Config{Instance: "../x", Token: testToken}, wantErr: "Instance must be a number (Green API's idInstance)"},
		{name: "negative wawp rate", provider: "wawp", cfg: Config{Instance: "x", Token: testToken, Rate: -1}, wantErr: "Rate must be a positive number"},
		{name: "NaN wawp rate", provider: "wawp", cfg: Config{Instance: "x", Token: testToken, Rate: math.NaN()}, wantErr: "Rate must be a positive number"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			gw, err := New(tt.provider, tt.cfg, nil)
			if tt.wantErr != "" {
				require.Error(t, err)
				assert.Nil(t, gw)
				assert.Contains(t, err.Error(), tt.wantErr)
				assertNoToken(t, err.Error())
				return
			}
			require.NoError(t, err)
			assert.IsType(t, tt.wantType, gw)
			assert.Equal(t, DefaultBaseURL(tt.provider), clientOf(gw).base)
		})
	}
}

func TestNewDoesNotModifyHTTPClient(t *testing.T) {
	t.Parallel()
	hc := &http.Client{Timeout: time.Second}
	gw := newGateway(t, "greenapi", "https://example.com/base/", hc)
	assert.Nil(t, hc.CheckRedirect)
	assert.Equal(t, "https://example.com/base", clientOf(gw).base)
	assert.Equal(t, time.Second, clientOf(gw).hc.Timeout)
}

// TestLimiterConfiguration checks every limiter against the documented
// rates: in any half-open window of length T, a token bucket with burst b
// and rate r admits at most b + ceil(r·T) - 1 requests (the burst at the
// start, then one every 1/r).
func TestLimiterConfiguration(t *testing.T) {
	t.Parallel()
	tests := []struct {
		provider string
		op       string
		window   time.Duration
		max      int
	}{
		{"greenapi", greenLeave, time.Second, 10},
		{"greenapi", greenAdmin, time.Second, 10},
		{"greenapi", greenSend, time.Second, 50},
		{"greenapi", greenGroup, time.Second, 1},
		{"greenapi", greenChats, time.Second, 1},
		{"greenapi", greenState, time.Second, 1},
		{"ryzeapi", ryzeLeave, time.Minute, 100},
		{"ryzeapi", ryzeSend, time.Minute, 100},
		{"wawp", wawpLeave, time.Second, 5},
	}
	for _, tt := range tests {
		t.Run(tt.provider+"/"+tt.op, func(t *testing.T) {
			c := clientOf(newGateway(t, tt.provider, "", nil))
			l := c.limiter(tt.op)
			got := l.Burst() + int(math.Ceil(float64(l.Limit())*tt.window.Seconds())) - 1
			assert.LessOrEqual(t, got, tt.max)
			// A run may use at least 95 % of the limit, in one process or
			// shared (the shared bucket takes the same rate and burst).
			assert.GreaterOrEqual(t, float64(l.Limit())*tt.window.Seconds(), 0.95*float64(tt.max), "calls a window")
			// The window the late-slot check is sized by is the gateway's.
			assert.Equal(t, tt.window, c.window)
		})
	}
	g := clientOf(newGateway(t, "greenapi", "", nil))
	assert.NotSame(t, g.limiter(greenLeave), g.limiter(greenSend), "Green API limits each method separately")
	y := clientOf(newGateway(t, "ryzeapi", "", nil))
	assert.Same(t, y.limiter(ryzeLeave), y.limiter(ryzeSend), "RyzeAPI limits the token as a whole")
}

func TestWawpRateOverride(t *testing.T) {
	t.Parallel()
	w, err := NewWawp(Config{Instance: "x", Token: testToken, Rate: 0.5}, nil)
	require.NoError(t, err)
	assert.Equal(t, rate.Limit(0.5*rateMargin), w.c.limiter(wawpLeave).Limit())
}

// TestGreenAPILeaveRateLimit shows the limiter holding at the server: 50
// concurrent leaves never put more than 10 in any one-second window.
func TestGreenAPILeaveRateLimit(t *testing.T) {
	t.Parallel()
	var mu sync.Mutex
	var arrivals []time.Time
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		mu.Lock()
		arrivals = append(arrivals, time.Now())
		mu.Unlock()
		io.WriteString(w, `{"leaveGroup":true}`)
	}))
	t.Cleanup(srv.Close)
	gw := newGateway(t, "greenapi", srv.URL, nil)

	var wg sync.WaitGroup
	for range 50 {
		wg.Go(func() {
			_, err := gw.Leave(context.Background(), testGroup)
			assert.NoError(t, err)
		})
	}
	wg.Wait()

	require.Len(t, arrivals, 50)
	sort.Slice(arrivals, func(i, j int) bool { return arrivals[i].Before(arrivals[j]) })
	for i, start := range arrivals {
		n := 0
		for _, a := range arrivals[i:] {
			if a.Sub(start) < time.Second {
				n++
			}
		}
		assert.LessOrEqual(t, n, 10, "requests in the second from arrival %d", i)
	}
}

// TestLimiterWaitRespectsContext: a call that cannot get a slot before its
// deadline fails at once, without sending anything.
func TestLimiterWaitRespectsContext(t *testing.T) {
	t.Parallel()
	srv, seen := serve(t, answer{body: `{"stateInstance":"authorized"}`})
	gw := newGateway(t, "greenapi", srv.URL, nil)
	_, err := gw.State(context.Background())
	require.NoError(t, err)

	ctx, cancel := context.WithTimeout(context.Background(), 50*time.Millisecond)
	defer cancel()
	start := time.Now()
	_, err = gw.State(ctx)
	requireKind(t, err, ErrRateLimited, 0)
	assert.Less(t, time.Since(start), time.Second)
	assert.Len(t, seen(), 1)
	assert.False(t, Transient(err) && outcomeMayBeUnknown(err), "nothing was sent")
}

// outcomeMayBeUnknown mirrors how the job layer reads an error: no answer
// arrived, so the call may have worked.
func outcomeMayBeUnknown(err error) bool {
	var e *Error
	return errors.As(err, &e) && e.Status == 0 && errors.Is(err, ErrUnavailable)
}

// deadlineTransport records the deadline of each request's context.
type deadlineTransport struct {
	mu        sync.Mutex
	deadlines []time.Time
}

func (d *deadlineTransport) RoundTrip(r *http.Request) (*http.Response, error) {
	dl, ok := r.Context().Deadline()
	if !ok {
		return nil, errors.New("no deadline")
	}
	d.mu.Lock()
	d.deadlines = append(d.deadlines, dl)
	d.mu.Unlock()
	return &http.Response{StatusCode: 200, Header: http.Header{}, Body: io.NopCloser(strings.NewReader(`{"stateInstance":"authorized"}`)), Request: r}, nil
}

func TestEveryCallHasADeadline(t *testing.T) {
	t.Parallel()
	tr := &deadlineTransport{}
	gw := newGateway(t, "greenapi", "https://gw.example", &http.Client{Transport: tr})

	start := time.Now()
	_, err := gw.State(context.Background())
	require.NoError(t, err)
	require.Len(t, tr.deadlines, 1)
	assert.WithinDuration(t, start.Add(defaultTimeout), tr.deadlines[0], time.Second)

	unlimited(gw)
	want := time.Now().Add(3 * time.Second)
	ctx, cancel := context.WithDeadline(context.Background(), want)
	defer cancel()
	_, err = gw.State(ctx)
	require.NoError(t, err)
	assert.Equal(t, want, tr.deadlines[1], "the caller's deadline wins")
}

// TestTokenNeverInErrors runs every method of every provider against
// broken gateways and checks the token appears in no error text.
func TestTokenNeverInErrors(t *testing.T) {
	t.Parallel()
	refused := func(t *testing.T) string {
		ln, err := net.Listen("tcp", "127.0.0.1:0")
		require.NoError(t, err)
		addr := ln.Addr().String()
		ln.Close()
		return "http://" + addr
	}
	reset := func(t *testing.T) string {
		srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			conn, _, err := w.(http.Hijacker).Hijack()
			if err != nil {
				return
			}
			if tc, ok := conn.(*net.TCPConn); ok {
				tc.SetLinger(0) // close with RST
			}
			conn.Close()
		}))
		t.Cleanup(srv.Close)
		return srv.URL
	}
	slow := func(t *testing.T) string {
		srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			// Reading the body lets the server notice the client leaving.
			io.Copy(io.Discard, r.Body)
			select {
			case <-r.Context().Done():
			case <-time.After(5 * time.Second):
			}
		}))
		t.Cleanup(srv.Close)
		return srv.URL
	}
	echo500 := func(t *testing.T) string {
		// A gateway error page that quotes the request URL, token and all.
		srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			w.WriteHeader(http.StatusInternalServerError)
			io.WriteString(w, "<html>internal error at "+r.URL.String()+" token="+r.Header.Get("token")+" "+r.Header.Get("access-token")+"</html>")
		}))
		t.Cleanup(srv.Close)
		return srv.URL
	}
	tests := []struct {
		name    string
		base    func(t *testing.T) string
		timeout time.Duration
		status  int
		cause   error // expected somewhere in the chain
	}{
		{name: "connection refused", base: refused, timeout: 5 * time.Second},
		{name: "connection reset", base: reset, timeout: 5 * time.Second},
		{name: "timeout", base: slow, timeout: 100 * time.Millisecond, cause: context.DeadlineExceeded},
		{name: "500 quoting the URL", base: echo500, timeout: 5 * time.Second, status: 500},
	}
	for _, tt := range tests {
		for _, provider := range providerNames {
			t.Run(tt.name+"/"+provider, func(t *testing.T) {
				t.Parallel()
				gw := unlimited(newGateway(t, provider, tt.base(t), nil))
				errs := callAll(context.Background(), withTimeout(gw, tt.timeout))
				for method, err := range errs {
					e := requireKind(t, err, ErrUnavailable, tt.status)
					assert.Equal(t, provider, e.Provider, method)
					if tt.cause != nil {
						assert.ErrorIs(t, err, tt.cause, method)
					}
					if provider == "greenapi" && tt.status == 0 {
						// The URL is still shown, with the token replaced.
						assert.Contains(t, err.Error(), "/"+e.Op+"/REDACTED", method)
					}
				}
			})
		}
	}
}

// timeoutGateway bounds each call of a Gateway, as the job layer does.
type timeoutGateway struct {
	Gateway
	d time.Duration
}

func withTimeout(gw Gateway, d time.Duration) Gateway { return timeoutGateway{gw, d} }

func (g timeoutGateway) ctx(ctx context.Context) (context.Context, context.CancelFunc) {
	return context.WithTimeout(ctx, g.d)
}

func (g timeoutGateway) Leave(ctx context.Context, jid string) (LeaveResult, error) {
	ctx, cancel := g.ctx(ctx)
	defer cancel()
	return g.Gateway.Leave(ctx, jid)
}

func (g timeoutGateway) SendText(ctx context.Context, chatID, text string) (string, error) {
	ctx, cancel := g.ctx(ctx)
	defer cancel()
	return g.Gateway.SendText(ctx, chatID, text)
}

func (g timeoutGateway) Group(ctx context.Context, ref string) (Group, error) {
	ctx, cancel := g.ctx(ctx)
	defer cancel()
	return g.Gateway.Group(ctx, ref)
}

func (g timeoutGateway) Groups(ctx context.Context) ([]GroupSummary, error) {
	ctx, cancel := g.ctx(ctx)
	defer cancel()
	return g.Gateway.Groups(ctx)
}

func (g timeoutGateway) Promote(ctx context.Context, groupJID, participant string) error {
	ctx, cancel := g.ctx(ctx)
	defer cancel()
	return g.Gateway.Promote(ctx, groupJID, participant)
}

func (g timeoutGateway) State(ctx context.Context) (State, error) {
	ctx, cancel := g.ctx(ctx)
	defer cancel()
	return g.Gateway.State(ctx)
}

func (g timeoutGateway) Me(ctx context.Context) (string, error) {
	ctx, cancel := g.ctx(ctx)
	defer cancel()
	return g.Gateway.Me(ctx)
}

func (g timeoutGateway) LastActivity(ctx context.Context, groupJID string) (time.Time, error) {
	ctx, cancel := g.ctx(ctx)
	defer cancel()
	return g.Gateway.LastActivity(ctx, groupJID)
}

func (g timeoutGateway) InviteLink(ctx context.Context, grp Group) (string, error) {
	ctx, cancel := g.ctx(ctx)
	defer cancel()
	return g.Gateway.InviteLink(ctx, grp)
}

// TestRedirectNotFollowed: a redirect would carry the token elsewhere.
func TestRedirectNotFollowed(t *testing.T) {
	t.Parallel()
	elsewhere, seenElsewhere := serve(t, answer{body: `{"leaveGroup":true}`})
	for _, provider := range providerNames {
		t.Run(provider, func(t *testing.T) {
			srv, _ := serve(t, answer{status: http.StatusFound, header: map[string]string{"Location": elsewhere.URL + "/x"}})
			_, err := newGateway(t, provider, srv.URL, nil).Leave(context.Background(), testGroup)
			e := requireKind(t, err, ErrUnavailable, http.StatusFound)
			assert.Contains(t, e.Message, "redirect")
		})
	}
	assert.Empty(t, seenElsewhere())
}

// TestBadInputNotSent: malformed input is refused before any request.
func TestBadInputNotSent(t *testing.T) {
	t.Parallel()
	calls := []struct {
		name string
		call func(gw Gateway) error
	}{
		{"Leave user JID", func(gw Gateway) error { _, err := gw.Leave(context.Background(), testUser); return err }},
		{"Leave empty", func(gw Gateway) error { _, err := gw.Leave(context.Background(), ""); return err }},
		{"Leave with path", func(gw Gateway) error { _, err := gw.Leave(context.Background(), "1203634062/../x@g.us"); return err }},
		{"Leave uppercase domain", func(gw Gateway) error {
			_, err := gw.Leave(context.Background(), "120363406289005073@G.US")
			return err
		}},
		{"SendText bad chat", func(gw Gateway) error { _, err := gw.SendText(context.Background(), "hello", "bye"); return err }},
		{"SendText empty text", func(gw Gateway) error { _, err := gw.SendText(context.Background(), testGroup, " \n"); return err }},
		{"SendText invalid UTF-8", func(gw Gateway) error { _, err := gw.SendText(context.Background(), testGroup, "bye \xff"); return err }},
		{"SendText too long", func(gw Gateway) error {
			_, err := gw.SendText(context.Background(), testGroup, strings.Repeat("a", 65537))
			return err
		}},
		{"Group by name", func(gw Gateway) error { _, err := gw.Group(context.Background(), "Team chat"); return err }},
		{"Promote group JID as participant", func(gw Gateway) error { return gw.Promote(context.Background(), testGroup, testGroup) }},
		{"Promote bad group", func(gw Gateway) error { return gw.Promote(context.Background(), "x@g.us", testUser) }},
	}
	for _, provider := range providerNames {
		for _, c := range calls {
			t.Run(provider+"/"+c.name, func(t *testing.T) {
				srv, seen := serve(t, answer{body: `{}`})
				err := c.call(newGateway(t, provider, srv.URL, nil))
				e := requireKind(t, err, ErrInvalid, 0)
				assert.NotEmpty(t, e.Message)
				assert.Empty(t, seen())
			})
		}
	}
}

// TestTextLimits: each gateway's limit is accepted exactly and refused
// one character over, counted in UTF-16 units as WhatsApp does.
func TestTextLimits(t *testing.T) {
	t.Parallel()
	tests := []struct {
		provider string
		max      int
		answer   string
	}{
		{"greenapi", 20000, `{"idMessage":"X"}`},
		{"wawp", 4096, `{"id":"X"}`},
		{"ryzeapi", 65536, `{"success":true,"data":{"messageId":"X"}}`},
	}
	for _, tt := range tests {
		t.Run(tt.provider, func(t *testing.T) {
			srv, seen := serve(t, answer{body: tt.answer})
			gw := unlimited(newGateway(t, tt.provider, srv.URL, nil))
			_, err := gw.SendText(context.Background(), testGroup, strings.Repeat("é", tt.max))
			require.NoError(t, err)
			_, err = gw.SendText(context.Background(), testGroup, strings.Repeat("é", tt.max+1))
			requireKind(t, err, ErrInvalid, 0)
			// An emoji is two UTF-16 units.
			_, err = gw.SendText(context.Background(), testGroup, strings.Repeat("a", tt.max-1)+"😀")
			requireKind(t, err, ErrInvalid, 0)
			assert.Len(t, seen(), 1)
		})
	}
}

func TestRetryAfter(t *testing.T) {
	t.Parallel()
	now := time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)
	tests := []struct {
		name        string
		header      map[string]string
		status      int
		resetHeader bool
		want        time.Duration
	}{
		{name: "seconds", header: map[string]string{"Retry-After": "7"}, status: 429, want: 7 * time.Second},
		{name: "HTTP date", header: map[string]string{"Retry-After": "Sun, 01 Mar 2026 12:00:30 GMT"}, status: 429, want: 30 * time.Second},
		{name: "date in the past", header: map[string]string{"Retry-After": "Sun, 01 Mar 2026 11:00:00 GMT"}, status: 429, want: 0},
		{name: "garbage", header: map[string]string{"Retry-After": "soon"}, status: 429, want: 0},
		{name: "huge", header: map[string]string{"Retry-After": "99999999999999999999"}, status: 429, want: maxWait},
		{name: "on a 503", header: map[string]string{"Retry-After": "3"}, status: 503, want: 3 * time.Second},
		{name: "reset unix seconds", header: map[string]string{"X-RateLimit-Reset": "1772366445"}, status: 429, resetHeader: true, want: 45 * time.Second},
		{name: "reset as a delay", header: map[string]string{"X-RateLimit-Reset": "12"}, status: 429, resetHeader: true, want: 12 * time.Second},
		// Below 1e9 (2001) a value cannot be a reset time to come: it is a
		// delay, however long, and so capped.
		{name: "reset as a long delay", header: map[string]string{"X-RateLimit-Reset": "5000000"}, status: 429, resetHeader: true, want: maxWait},
		{name: "reset passed", header: map[string]string{"X-RateLimit-Reset": "1772366000"}, status: 429, resetHeader: true, want: 0},
		{name: "reset ignored when not a 429", header: map[string]string{"X-RateLimit-Reset": "1772366445"}, status: 503, resetHeader: true, want: 0},
		{name: "reset ignored for other gateways", header: map[string]string{"X-RateLimit-Reset": "1772366445"}, status: 429, want: 0},
		{name: "Retry-After wins", header: map[string]string{"Retry-After": "2", "X-RateLimit-Reset": "1772366445"}, status: 429, resetHeader: true, want: 2 * time.Second},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c := &client{now: func() time.Time { return now }, resetHeader: tt.resetHeader}
			h := http.Header{}
			for k, v := range tt.header {
				h.Set(k, v)
			}
			assert.Equal(t, tt.want, c.retryAfter(&response{header: h}, tt.status))
		})
	}
}

func TestErrorText(t *testing.T) {
	t.Parallel()
	e := &Error{Provider: "ryzeapi", Op: "group/leave", Status: 404, Kind: ErrNotMember, Message: "Group not found"}
	assert.Equal(t, "ryzeapi group/leave: not a member (HTTP 404): Group not found", e.Error())
	assert.Equal(t, "p op: error", (&Error{Provider: "p", Op: "op"}).Error(), "a zero Kind must not panic")
	assert.False(t, errors.Is(&Error{}, ErrInvalid))
}

func TestExcerptIsShortAndClean(t *testing.T) {
	t.Parallel()
	c, err := newClient("greenapi", Config{Instance: "1", Token: testToken}, nil)
	require.NoError(t, err)
	long := strings.Repeat("x", 5000) + testToken
	got := c.excerpt([]byte("line one\n\tline\x00two " + long))
	assert.True(t, strings.HasPrefix(got, "line one line two xxx"), got)
	assert.Len(t, []rune(got), maxMessage+1, "cut at maxMessage characters")
	assert.True(t, strings.HasSuffix(got, "x…"), "and marked as cut: %q", got)
	assert.Equal(t, "(empty)", c.excerpt([]byte(" \n")))
	assert.Equal(t, "a REDACTED b", c.clean("a "+testToken+" b"))
	assert.Equal(t, "a REDACTED b", c.clean("a "+url.QueryEscape(testToken)+" b"))
}

// recordingLimiter is a Config.Limiter that records what it is asked and
// answers with err.
type recordingLimiter struct {
	mu    sync.Mutex
	calls []string
	err   error
}

func (l *recordingLimiter) ReserveRate(_ context.Context, key string, perSecond float64, burst int) (time.Time, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.calls = append(l.calls, fmt.Sprintf("%s %.2f/s burst %d", key, perSecond, burst))
	return time.Now(), l.err
}

func TestSharedLimiterTakesTheMethodsRates(t *testing.T) {
	t.Parallel()
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		_, _ = w.Write([]byte(`{"leaveGroup":true,"removeAdmin":false}`))
	}))
	defer srv.Close()
	lim := &recordingLimiter{}
	gw, err := New("greenapi", Config{BaseURL: srv.URL, Instance: testInstance, Token: testToken, Limiter: lim}, nil)
	require.NoError(t, err)
	_, err = gw.Leave(context.Background(), testGroup)
	require.NoError(t, err)
	l := clientOf(gw).limiter(greenLeave)
	require.Equal(t, []string{fmt.Sprintf("greenapi/%s/leaveGroup %.2f/s burst %d", testInstance, float64(l.Limit()), l.Burst())}, lim.calls)
	assert.Equal(t, 1.0, l.Tokens(), "the process's own limiter is left alone")

	// No slot: nothing is sent, and the job layer sees a rate limit.
	lim.err = context.DeadlineExceeded
	_, err = gw.Leave(context.Background(), testGroup)
	require.ErrorIs(t, err, ErrRateLimited)
	assert.NotContains(t, err.Error(), testToken)
}
