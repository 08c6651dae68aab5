package whatsapp

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math"
	"net/http"
	"net/http/httptrace"
	"net/url"
	"regexp"
	"strconv"
	"strings"
	"time"
	"unicode"
	"unicode/utf16"
	"unicode/utf8"

	"golang.org/x/time/rate"
)

const (
	// maxBody caps what is read of one answer: the documented answers are
	// a few hundred bytes, and a gateway (or a proxy in front of it) that
	// sends more must not be able to exhaust memory.
	maxBody = 1 << 20
	// maxListBody is the cap for group and chat lists, which grow with the
	// account (Green API's getChats lists every chat, not just groups).
	maxListBody = 16 << 20
	// maxMessage bounds the gateway text kept in an *Error: enough to
	// recognise the failure, not enough to flood logs and audit rows.
	maxMessage = 200
	// rateMargin is the share of a documented limit the client uses.
	// With bursts of one, calls leave at least 1/(margin·limit) apart,
	// so the limit+1 calls a window must not hold span 1/margin windows:
	// 3.6 % of a window (36 ms of a second) to spare for a call that
	// reaches the gateway later than the ones after it (network jitter,
	// a slow wake-up). A third of that is the client's (see lateSlot),
	// the rest the network's; at 0.965 a run still reaches 96.5 % of
	// the limit.
	rateMargin = 0.965
	// lateTries bounds how often a call that woke up too late for its
	// slot takes another (see wait) before it gives up, unsent.
	lateTries = 3
	// redacted replaces the token wherever it could be printed.
	redacted = "REDACTED"
)

// client is the HTTP plumbing the three providers share. It bounds every
// call with a timeout, waits for the rate limiter, reads capped bodies and
// turns every failure into a redacted *Error. It never retries: the job
// layer decides that, knowing whether the call may already have worked.
type client struct {
	provider string
	base     string
	token    string
	secrets  []string // the forms the token can take in printed text
	header   http.Header
	hc       *http.Client
	// now is time.Now except in tests; it turns X-RateLimit-Reset and
	// Retry-After dates into waits.
	now func() time.Time
	// limiters holds per-method limiters (Green API limits each method
	// separately); methods without one share the shared limiter.
	limiters map[string]*rate.Limiter
	shared   *rate.Limiter
	// across, when set, takes the limiters' rates and bursts across
	// processes instead (see Config.Limiter), under keys that start with
	// limitKey (provider and instance: never the token).
	across   Limiter
	limitKey string
	// window is how long the gateway's counting window is: a second
	// (Green API's per-method limits, Wawp's default rate), a minute
	// (RyzeAPI's per-token limit).
	window time.Duration
	// classify turns an answer into an *Error, or nil when it is a success.
	classify func(rq *request, r *response) *Error
	// resetHeader says that the gateway's X-RateLimit-Reset header is
	// meaningful (RyzeAPI sends it as unix seconds).
	resetHeader bool
}

// request is one gateway call.
type request struct {
	op     string // the gateway's method name, for errors and the limiter
	method string
	path   string // already escaped; appended to the base URL
	query  url.Values
	body   any // sent as JSON when non-nil
	// group is set for calls about one group, where the gateway's own 404
	// means the group is not there for us; elsewhere a 404 means a wrong
	// URL.
	group bool
	// sessionStatus is set where a "status" string in a 2xx answer is the
	// session's state, so "FAILED" (WAHA's) is a state, not the call's
	// outcome.
	sessionStatus bool
	// limit overrides maxBody.
	limit int64
}

// response is a gateway's answer, read in full (up to the cap).
type response struct {
	status    int
	header    http.Header
	body      []byte
	truncated bool
}

// newClient checks the configuration every provider needs and builds the
// shared plumbing. hc may be nil; it is copied, never modified.
func newClient(provider string, cfg Config, hc *http.Client) (*client, error) {
	if problems := CheckConfig(provider, cfg); len(problems) > 0 {
		texts := make([]string, len(problems))
		for i, p := range problems {
			texts[i] = p.Field + " " + p.Problem
		}
		return nil, fmt.Errorf("whatsapp: %s: %s", provider, strings.Join(texts, "; "))
	}
	base := cfg.BaseURL
	if base == "" {
		base = DefaultBaseURL(provider)
	}
	u, _ := url.Parse(base) // checked by CheckConfig

	c := &client{
		provider: provider,
		base:     strings.TrimRight(u.String(), "/"),
		token:    cfg.Token,
		header:   http.Header{"Accept": {"application/json"}},
		now:      time.Now,
		across:   cfg.Limiter,
		limitKey: provider + "/" + cfg.Instance + "/",
		window:   time.Second,
	}
	if cfg.Number != "" {
		c.limitKey = cfg.Number + "/" + c.limitKey
	}
	for _, s := range []string{cfg.Token, url.PathEscape(cfg.Token), url.QueryEscape(cfg.Token)} {
		if !contains(c.secrets, s) {
			c.secrets = append(c.secrets, s)
		}
	}
	if hc == nil {
		hc = &http.Client{}
	}
	cp := *hc
	// A redirect would carry the token (in the URL, or in a custom header
	// that net/http does not strip) to wherever it points, and turns a
	// POST into a GET. The gateways do not redirect API calls, so one
	// means a wrong base URL: stop and report it.
	cp.CheckRedirect = func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }
	c.hc = &cp
	c.classify = c.classifyDefault
	return c, nil
}

func contains(list []string, s string) bool {
	for _, x := range list {
		if x == s {
			return true
		}
	}
	return false
}

// newLimiter allows perSecond requests a second, less the safety margin,
// with at most burst of them back to back. With a burst of one, any
// window holds at most the limit (see rateMargin).
func newLimiter(perSecond float64, burst int) *rate.Limiter {
	return rate.NewLimiter(rate.Limit(perSecond*rateMargin), burst)
}

// lateSlot is how late after its slot a call may still go out: a third
// of what rateMargin leaves to spare in the gateway's window (12 ms of a
// second). A call later than that could reach the gateway within one
// window of the calls reserved after it, so it takes the next free slot
// instead, and the one it missed stays unused.
func (c *client) lateSlot() time.Duration {
	return time.Duration((1/rateMargin - 1) / 3 * float64(c.window))
}

// wait waits for op's turn under its rate limit: this process's limiter,
// or the same rate and burst shared across processes. It reserves a
// slot, sleeps until it and checks that it did not wake up too late for
// it (lateSlot): slots are handed out back to back, so a waiting caller
// loses no time to another's wake-up, and a late wake-up cannot bunch
// calls.
func (c *client) wait(ctx context.Context, op string) (time.Time, error) {
	l := c.limiter(op)
	late := c.lateSlot()
	for try := 1; ; try++ {
		slot, err := c.reserve(ctx, op, l)
		if err != nil {
			return time.Time{}, err
		}
		if d := time.Until(slot); d > 0 {
			t := time.NewTimer(d)
			select {
			case <-t.C:
			case <-ctx.Done():
				t.Stop()
				return time.Time{}, ctx.Err()
			}
		}
		if time.Since(slot) <= late {
			return slot, nil
		}
		if try >= lateTries {
			// Going this late could bunch it with the calls after it; it
			// is not sent, as when no slot comes before the deadline.
			return time.Time{}, fmt.Errorf("rate %s: woke up late for %d slots in a row", op, try)
		}
	}
}

// reserve takes the next slot for op and returns when it is; it reserves
// nothing and fails when the slot is after ctx's deadline.
func (c *client) reserve(ctx context.Context, op string, l *rate.Limiter) (time.Time, error) {
	if c.across != nil {
		key := c.limitKey + op
		if _, own := c.limiters[op]; !own {
			key = c.limitKey + "*"
		}
		return c.across.ReserveRate(ctx, key, float64(l.Limit()), l.Burst())
	}
	now := time.Now()
	r := l.ReserveN(now, 1)
	if !r.OK() {
		return time.Time{}, fmt.Errorf("rate %s: burst %d below one call", op, l.Burst())
	}
	slot := now.Add(r.DelayFrom(now))
	if d, ok := ctx.Deadline(); ok && slot.After(d) {
		r.CancelAt(now)
		return time.Time{}, fmt.Errorf("rate %s: next slot after the deadline: %w", op, context.DeadlineExceeded)
	}
	return slot, nil
}

func (c *client) limiter(op string) *rate.Limiter {
	if l, ok := c.limiters[op]; ok {
		return l
	}
	return c.shared
}

// call sends rq and, when out is non-nil, decodes a successful answer into
// it. Every failure is an *Error.
func (c *client) call(ctx context.Context, rq *request, out any) (*response, error) {
	if _, ok := ctx.Deadline(); !ok {
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeout(ctx, defaultTimeout)
		defer cancel()
	}
	target := c.base + rq.path
	if len(rq.query) > 0 {
		target += "?" + rq.query.Encode()
	}
	var encoded []byte
	if rq.body != nil {
		b, err := json.Marshal(rq.body)
		if err != nil {
			return nil, c.fail(rq.op, 0, ErrInvalid, "encoding the request", err)
		}
		encoded = b
	}
	// Nothing has been sent when the wait fails, so this is reported as a
	// rate limit (transient, outcome known) rather than as unavailability.
	slot, err := c.wait(ctx, rq.op)
	if err != nil {
		return nil, c.fail(rq.op, 0, ErrRateLimited, "not sent: no slot under the client-side rate limit before the deadline", err)
	}
	// Getting a connection (a dial, a TLS handshake: a round trip or
	// three) can make the call late for its slot, after calls whose slots
	// come later found one idle: checked again once the connection is
	// there, just before the request is written. Should no slot come
	// before the deadline, the call goes as it is.
	trace := &httptrace.ClientTrace{GotConn: func(httptrace.GotConnInfo) {
		if time.Since(slot) > c.lateSlot() {
			_, _ = c.wait(ctx, rq.op)
		}
		Sending(ctx)()
	}}
	var body io.Reader
	if encoded != nil {
		body = bytes.NewReader(encoded)
	}
	req, err := http.NewRequestWithContext(httptrace.WithClientTrace(ctx, trace), rq.method, target, body)
	if err != nil {
		return nil, c.fail(rq.op, 0, ErrInvalid, "building the request", err)
	}
	req.Header = c.header.Clone()
	if rq.body != nil {
		req.Header.Set("Content-Type", "application/json")
	}

	resp, err := c.hc.Do(req)
	if err != nil {
		return nil, c.fail(rq.op, 0, ErrUnavailable, transportMessage(err), err)
	}
	defer resp.Body.Close()
	limit := rq.limit
	if limit == 0 {
		limit = maxBody
	}
	data, err := io.ReadAll(io.LimitReader(resp.Body, limit+1))
	if err != nil {
		return nil, c.fail(rq.op, resp.StatusCode, ErrUnavailable, "reading the answer: "+transportMessage(err), err)
	}
	r := &response{status: resp.StatusCode, header: resp.Header, body: data}
	if int64(len(data)) > limit {
		r.body, r.truncated = data[:limit], true
	}
	if e := c.classify(rq, r); e != nil {
		return r, e
	}
	if out == nil {
		return r, nil
	}
	if r.truncated {
		return r, c.fail(rq.op, r.status, ErrUnavailable, fmt.Sprintf("answer longer than %d bytes", limit), nil)
	}
	if err := json.Unmarshal(r.body, out); err != nil {
		return r, c.unexpected(rq, r, "malformed answer", err)
	}
	return r, nil
}

// transportMessage says in a few words why no usable answer arrived.
func transportMessage(err error) string {
	var ne interface{ Timeout() bool }
	switch {
	case errors.Is(err, context.DeadlineExceeded), errors.As(err, &ne) && ne.Timeout():
		return "no answer before the deadline"
	case errors.Is(err, context.Canceled):
		return "cancelled while waiting for the answer"
	}
	return "no answer"
}

// fail builds a classified error. Everything printable goes through the
// redaction here, so no caller can forget it.
func (c *client) fail(op string, status int, kind error, msg string, cause error) *Error {
	return &Error{
		Provider: c.provider,
		Op:       op,
		Status:   status,
		Kind:     kind,
		Message:  c.clean(msg),
		Err:      c.redactErr(cause),
	}
}

// invalid rejects bad input before anything is sent.
func (c *client) invalid(op, format string, args ...any) *Error {
	return c.fail(op, 0, ErrInvalid, fmt.Sprintf(format, args...), nil)
}

// unexpected reports a success status whose body is not what the gateway
// documents: the outcome is unclear, so it counts as unavailable.
func (c *client) unexpected(rq *request, r *response, what string, cause error) *Error {
	return c.fail(rq.op, r.status, ErrUnavailable, what+": "+c.excerpt(r.body), cause)
}

// redact replaces every form of the token in s.
func (c *client) redact(s string) string {
	for _, t := range c.secrets {
		s = strings.ReplaceAll(s, t, redacted)
	}
	return s
}

// redactErr returns err with the token removed from its text. A
// *url.Error (which prints the whole URL, and Green API's URL holds the
// token) is rebuilt around the redacted URL so errors.Is still sees the
// cause; any other error that quotes the token is flattened to text.
func (c *client) redactErr(err error) error {
	if err == nil {
		return nil
	}
	if ue, ok := err.(*url.Error); ok {
		err = &url.Error{Op: ue.Op, URL: c.redact(ue.URL), Err: ue.Err}
	}
	if s := err.Error(); c.redact(s) != s {
		return errors.New(c.redact(s))
	}
	return err
}

// clean makes gateway text fit for an error message: valid UTF-8 on one
// line, without the token, and short.
func (c *client) clean(s string) string {
	s = strings.ToValidUTF8(s, "\uFFFD")
	s = strings.Join(strings.FieldsFunc(s, func(r rune) bool { return unicode.IsSpace(r) || unicode.IsControl(r) }), " ")
	s = c.redact(s)
	if utf8.RuneCountInString(s) > maxMessage {
		s = string([]rune(s)[:maxMessage]) + "…"
	}
	return s
}

// excerpt is a short, clean piece of a body for messages.
func (c *client) excerpt(body []byte) string {
	if len(bytes.TrimSpace(body)) == 0 {
		return "(empty)"
	}
	// Redact before clipping: clipping first could cut a token in two and
	// leave a piece of it that redact no longer recognises.
	s := c.redact(string(body))
	if n := 8 * maxMessage; len(s) > n {
		s = s[:n]
	}
	return c.clean(s)
}

// message is the gateway's own description of a failure, and whether it
// came from a structured (JSON) body rather than from raw text.
func (c *client) message(body []byte) (string, bool) {
	if m, ok := decodeAny(body).(map[string]any); ok {
		if s := messageOf(m, 0); s != "" {
			return c.clean(s), true
		}
	}
	return c.excerpt(body), false
}

// messageOf finds an error text in the shapes the gateways use:
// {"error":{"message"}} (RyzeAPI), {"message"} and {"status","message",
// "error"} (Wawp/WAHA, where message may be a list), {"description"}
// (Green API) and {"error":"..."}.
func messageOf(m map[string]any, depth int) string {
	if e, ok := m["error"].(map[string]any); ok && depth < 3 {
		if s := messageOf(e, depth+1); s != "" {
			return s
		}
	}
	for _, k := range []string{"message", "description", "error", "detail", "msg", "errorMessage"} {
		switch v := m[k].(type) {
		case string:
			if strings.TrimSpace(v) != "" {
				return v
			}
		case []any:
			var parts []string
			for _, x := range v {
				if s, ok := x.(string); ok && s != "" {
					parts = append(parts, s)
				}
			}
			if len(parts) > 0 {
				return strings.Join(parts, "; ")
			}
		}
	}
	return ""
}

// The gateways' words for failures whose HTTP status is ambiguous (400 is
// used for validation, for "not a member" and for "not connected").
var (
	unauthorizedText = regexp.MustCompile(`(?i)unauthori[sz]ed|unauthenticated|(invalid|wrong|missing|expired|bad)\s+(instance\s+|account\s+)?(access[\s_-]?)?token|token\s+does\s*n[o'’]?t\s+match`)
	// sessionMissingText is a gateway saying it has no session or
	// instance by that name (WAHA: "We didn't find a session with name
	// 'default'. Please start it first…"), which is about WA_INSTANCE,
	// not about the group, whatever the status.
	sessionMissingText = regexp.MustCompile(`(?i)(instance|session)\s+(was\s+)?not\s+found|no\s+such\s+(instance|session)|did\s*n['’]?t\s+find\s+(a|the|any)\s+(session|instance)|(instance|session)\s+(is\s+|was\s+|has\s+been\s+)deleted|(instance|session)\s+does\s*n[o'’]?t\s+exist`)
	// planExpiredText is an instance whose paid period is over (Green
	// API: "Instance account is expired. Renew your instance from
	// personal area").
	planExpiredText  = regexp.MustCompile(`(?i)(instance|account|plan|subscription|tariff)\s+(account\s+)?(is\s+|has\s+)?expired|renew\s+your\s+(instance|plan|subscription)`)
	notConnectedText = regexp.MustCompile(`(?i)not\s+connected|disconnected|not\s+logged\s+in|logged\s*out|not\s+authori[sz]ed|\bstarting\b|session\s+(is\s+)?not\s+(working|ready|started|running)|session\s+status|under\s+\w+\s+status|scan[\s_]?qr|\bexpired\b`)
	notMemberText    = regexp.MustCompile(`(?i)not\s+an?\s+(member|participant)|not\s+in\s+(the|this)\s+group|group\s+(was\s+)?not\s+found|item-not-found|no\s+such\s+group`)
	forbiddenText    = regexp.MustCompile(`(?i)not\s+allowed|forbidden|permission|not\s+(an?\s+)?admin|super[\s-]?admin|only\s+admins?|failed\s+to\s+set\s+group\s+admin`)
	invalidText      = regexp.MustCompile(`(?i)validation|invalid|required|bad\s+request|participant\s+not\s+found|malformed`)
	// routeMissText is a web framework's 404 for a path or method it has
	// no route for (Express/NestJS "Cannot POST /x", FastAPI's bare "Not
	// Found"): the gateway never saw the call, so it says nothing about
	// the group.
	routeMissText = regexp.MustCompile(`(?i)^\s*not\s+found\s*$|\bcannot\s+(get|post|put|patch|delete)\s+/|\bno\s+route\b|\broute\s+not\s+found|\b(endpoint|method)\s+not\s+(found|allowed|supported)`)
	// aboutGroupText is a 404 that speaks of a group, chat or membership:
	// only such a 404 may mean "not a member" (SPEC §5).
	aboutGroupText = regexp.MustCompile(`(?i)\b(group|chat|participant|member)s?\b|@g\.us`)
)

// messageKind reads a failure's kind from the gateway's words, or nil when
// they say nothing recognisable. Order matters: "session not found" is a
// missing session, not a missing group, and an expired plan is not a
// logged-out instance.
func messageKind(msg string) error {
	switch {
	case msg == "":
		return nil
	case unauthorizedText.MatchString(msg):
		return ErrUnauthorized
	case sessionMissingText.MatchString(msg):
		return ErrSessionMissing
	case planExpiredText.MatchString(msg):
		return ErrPlanExpired
	case notConnectedText.MatchString(msg):
		return ErrNotConnected
	case notMemberText.MatchString(msg):
		return ErrNotMember
	case forbiddenText.MatchString(msg):
		return ErrForbidden
	case invalidText.MatchString(msg):
		return ErrInvalid
	}
	return nil
}

// statusKind is what an HTTP status means on its own.
func statusKind(status int) error {
	switch {
	case status == http.StatusUnauthorized:
		return ErrUnauthorized
	case status == http.StatusForbidden:
		return ErrForbidden
	case status == http.StatusNotFound:
		return ErrNotMember
	case status == http.StatusTooManyRequests:
		return ErrRateLimited
	case status == http.StatusNotImplemented:
		// RyzeAPI: "not supported by the embedded whatsmeow"; asking
		// again cannot help, and the group ID is not at fault.
		return ErrNotSupported
	case status == http.StatusRequestTimeout, status == 499, status >= 500:
		return ErrUnavailable
	case status >= 400:
		return ErrInvalid
	}
	// 1xx and 3xx never reach an API client that works.
	return ErrUnavailable
}

// classifyDefault is the classification every provider starts from.
func (c *client) classifyDefault(rq *request, r *response) *Error {
	if r.status >= 200 && r.status < 300 {
		return c.bodyError(rq, r)
	}
	if r.status >= 300 && r.status < 400 {
		return c.fail(rq.op, r.status, ErrUnavailable, "unexpected redirect; check the gateway base URL", nil)
	}
	msg, structured := c.message(r.body)
	return c.statusError(rq, r, r.status, msg, structured)
}

// statusError classifies a failure status, refined by the gateway's words
// where the status alone is ambiguous.
func (c *client) statusError(rq *request, r *response, status int, msg string, structured bool) *Error {
	kind := statusKind(status)
	switch {
	case status == http.StatusUnauthorized, status == http.StatusTooManyRequests, status == http.StatusNotImplemented:
		// Unambiguous.
	case kind == ErrUnavailable:
		// Only the gateway's own JSON is trusted to turn an outage into a
		// state a person must fix: a proxy's HTML error page may say
		// "disconnected" about itself.
		if k := messageKind(msg); structured && errors.Is(k, ErrNotConnected) {
			kind = k
		}
	case status == http.StatusForbidden:
		// A refusal, unless it says the credentials are wrong (RyzeAPI:
		// "Instance token does not match this instance") or the group is
		// not ours. "You are not authorized to leave this group" is a
		// refusal, though Green API's 400s use the same words for a
		// logged-out instance.
		if k := messageKind(msg); errors.Is(k, ErrUnauthorized) || k == ErrNotMember {
			kind = k
		}
	case status == http.StatusNotFound:
		// A 404 means "not a member" only when the gateway itself says so
		// about the group: its own words, in its own JSON, naming a
		// group, chat or membership. A missing session or instance says
		// so too ("We didn't find a session…"), and a web server's route
		// miss or an HTML page (a wrong WA_API_URL or method; Green API
		// documents its 404 as "wrong HTTP method") says nothing about
		// the group: either would otherwise report a group left that
		// never was. Both say what to check instead.
		k := messageKind(msg)
		switch {
		case k != nil && k != ErrNotMember:
			kind = k
		case rq.group && !routeMissText.MatchString(msg) && (k == ErrNotMember || structured && aboutGroupText.MatchString(msg)):
			kind = ErrNotMember
		default:
			msg = "no such endpoint (check WA_API_URL): " + msg
			kind = ErrInvalid
			if rq.group {
				kind = ErrWrongEndpoint
			}
		}
	default:
		if k := messageKind(msg); k != nil {
			kind = k
		}
	}
	e := c.fail(rq.op, r.status, kind, msg, nil)
	e.RetryAfter = c.retryAfter(r, status)
	return e
}

// bodyError finds a failure reported with a success status: an explicit
// {"success":false} or {"ok":false}, an "error" field, or a plain-text
// "Error: ..." answer.
func (c *client) bodyError(rq *request, r *response) *Error {
	v := decodeAny(r.body)
	if v == nil {
		t := bytes.TrimSpace(r.body)
		if len(t) >= 5 && strings.EqualFold(string(t[:5]), "error") {
			msg := c.excerpt(t)
			return c.fail(rq.op, r.status, kindOr(messageKind(msg), ErrUnavailable), msg, nil)
		}
		return nil
	}
	m, ok := v.(map[string]any)
	if !ok {
		return nil
	}
	failed := m["success"] == false || m["ok"] == false
	switch e := m["error"].(type) {
	case string:
		failed = failed || strings.TrimSpace(e) != ""
	case map[string]any:
		failed = failed || len(e) > 0
	}
	if s, ok := m["status"].(string); ok && (strings.EqualFold(s, "error") || (strings.EqualFold(s, "failed") && !rq.sessionStatus)) {
		failed = true
	}
	if !failed {
		return nil
	}
	msg := c.clean(messageOf(m, 0))
	if msg == "" {
		msg = c.excerpt(r.body)
	}
	return c.fail(rq.op, r.status, kindOr(messageKind(msg), ErrUnavailable), msg, nil)
}

func kindOr(kind, fallback error) error {
	if kind == nil {
		return fallback
	}
	return kind
}

// maxWait bounds a requested wait so that absurd header values cannot
// overflow a Duration.
const maxWait = 24 * time.Hour

// retryAfter is the wait a failed answer asked for: Retry-After (seconds
// or an HTTP date), else, on a 429 from a gateway that sends it,
// X-RateLimit-Reset (unix seconds).
func (c *client) retryAfter(r *response, status int) time.Duration {
	now := c.now()
	if v := strings.TrimSpace(r.header.Get("Retry-After")); v != "" {
		if n, err := strconv.ParseFloat(v, 64); err == nil {
			return seconds(n)
		}
		if t, err := http.ParseTime(v); err == nil {
			return clampWait(t.Sub(now))
		}
	}
	if c.resetHeader && status == http.StatusTooManyRequests {
		if n, err := strconv.ParseFloat(strings.TrimSpace(r.header.Get("X-RateLimit-Reset")), 64); err == nil && !math.IsNaN(n) {
			// Documented as unix seconds; a small number can only be a
			// delay in seconds, as some gateways send it.
			if n < 1e9 {
				return seconds(n)
			}
			if n > float64(math.MaxInt64/int64(time.Second)) {
				return maxWait
			}
			return clampWait(time.Unix(int64(math.Ceil(n)), 0).Sub(now))
		}
	}
	return 0
}

func seconds(n float64) time.Duration {
	if math.IsNaN(n) || n <= 0 {
		return 0
	}
	if n >= maxWait.Seconds() {
		return maxWait
	}
	return time.Duration(n * float64(time.Second))
}

func clampWait(d time.Duration) time.Duration {
	return min(max(d, 0), maxWait)
}

// checkGroup rejects a malformed group JID before anything is sent.
func (c *client) checkGroup(op, jid string) error {
	if !IsGroupJID(jid) {
		return c.invalid(op, "%q is not a group JID (…@g.us)", jid)
	}
	return nil
}

// checkChat accepts a group JID or a user JID as a message destination.
func (c *client) checkChat(op, jid string) error {
	if !IsGroupJID(jid) && !isUserJID(jid) {
		return c.invalid(op, "%q is not a chat JID (…@g.us, …@c.us, …@s.whatsapp.net or …@lid)", jid)
	}
	return nil
}

// checkText rejects a message the gateway would refuse. Length counts
// UTF-16 code units, as the JavaScript gateways and WhatsApp do: that is
// never fewer than characters, so the check errs on the side of refusing.
func (c *client) checkText(op, text string, max int) error {
	switch {
	case strings.TrimSpace(text) == "":
		return c.invalid(op, "empty message")
	case !utf8.ValidString(text):
		return c.invalid(op, "message is not valid UTF-8")
	}
	n := 0
	for _, r := range text {
		n += utf16.RuneLen(r)
	}
	if n > max {
		return c.invalid(op, "message is %d characters long; the gateway accepts at most %d", n, max)
	}
	return nil
}

// escapeSegment escapes one path segment, including the "@" that
// url.PathEscape leaves alone: the gateways document JIDs in paths as
// 1203…%40g.us.
func escapeSegment(s string) string {
	return strings.ReplaceAll(url.PathEscape(s), "@", "%40")
}

// expectJSON rejects a success status whose body is neither empty nor
// JSON: for calls whose answer is not otherwise needed, that is how a
// wrong base URL (an HTML page with 200) shows.
func (c *client) expectJSON(rq *request, r *response) error {
	if len(bytes.TrimSpace(r.body)) == 0 {
		return nil
	}
	if r.truncated || decodeAny(r.body) == nil {
		return c.unexpected(rq, r, "answer is not JSON", nil)
	}
	return nil
}

// expectTrue accepts only an answer that is a JSON object whose key is
// true: the success marker the gateway documents ({"ok": true},
// {"success": true}). A success status with nothing, or with JSON that
// lacks the marker (Wawp passes on WAHA's bare 201 to a leave), is
// ErrUnconfirmed: the call may well have worked, so the caller checks
// rather than sending it again. An answer that is not JSON at all (a web
// page, a cut-off body) is ErrUnavailable, as before.
func (c *client) expectTrue(rq *request, r *response, key string) error {
	v := decodeAny(r.body)
	if m, ok := v.(map[string]any); ok && m[key] == true && !r.truncated {
		return nil
	}
	what := fmt.Sprintf("answer does not say %q: true", key)
	if c.readable(r, v) {
		return c.unconfirmed(rq, r, what)
	}
	return c.unexpected(rq, r, what, nil)
}

// expectObject accepts only an answer that is a JSON object: a message
// the gateway took, in whatever undocumented shape. A success status
// with an empty body, or with JSON that is not an object, is
// ErrUnconfirmed (the message may have been posted); a web page is
// ErrUnavailable.
func (c *client) expectObject(rq *request, r *response) error {
	v := decodeAny(r.body)
	if _, ok := v.(map[string]any); ok && !r.truncated {
		return nil
	}
	if c.readable(r, v) {
		return c.unconfirmed(rq, r, "answer is not a JSON object")
	}
	return c.unexpected(rq, r, "answer is not a JSON object", nil)
}

// readable reports whether a success answer is one the gateway plainly
// gave, empty or complete JSON (v is its decoded form), as opposed to a
// page from something else or a body cut off on the way.
func (c *client) readable(r *response, v any) bool {
	return !r.truncated && (v != nil || len(bytes.TrimSpace(r.body)) == 0)
}

// unreadable reports a success status whose body is cut off or is not
// JSON: the outcome is unclear, as with unexpected.
func (c *client) unreadable(rq *request, r *response) *Error {
	if r.truncated {
		limit := rq.limit
		if limit == 0 {
			limit = maxBody
		}
		return c.fail(rq.op, r.status, ErrUnavailable, fmt.Sprintf("answer longer than %d bytes", limit), nil)
	}
	return c.unexpected(rq, r, "malformed answer", nil)
}

// unconfirmed reports a success status without the documented success
// body: not transient, and not a failure either (ErrUnconfirmed).
func (c *client) unconfirmed(rq *request, r *response, what string) *Error {
	return c.fail(rq.op, r.status, ErrUnconfirmed, what+": "+c.excerpt(r.body), nil)
}

// embeddedStatus is an HTTP-like failure status that a gateway put in the
// body of a 2xx answer under one of keys, or 0.
func embeddedStatus(body []byte, keys ...string) int {
	m, ok := decodeAny(body).(map[string]any)
	if !ok {
		return 0
	}
	for _, k := range keys {
		if f, ok := m[k].(float64); ok && f >= 400 && f <= 599 && f == math.Trunc(f) {
			return int(f)
		}
	}
	return 0
}

// lastActivity reads a chat-history answer (out is its decoded form):
// the newest message's time, or a zero time when the history holds no
// message with a readable time (the gateway cannot tell). An answer with
// no message list at all is ErrUnavailable, like any answer the client
// cannot read.
func (c *client) lastActivity(rq *request, r *response, out any) (time.Time, error) {
	list, ok := historyList(out)
	if !ok {
		return time.Time{}, c.unexpected(rq, r, "no message list in the answer", nil)
	}
	t, _ := latestMessageTime(list)
	return t, nil
}
