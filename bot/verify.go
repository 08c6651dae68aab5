package bot

import (
	"bytes"
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"io"
	"log/slog"
	"mime"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"
)

const (
	// maxBodyBytes caps what we read of a signed request. Slack's own
	// bodies are far smaller: a command is a few hundred bytes plus its
	// text (the goodbye is capped at 1,000 characters, at most 12 bytes
	// each once form-encoded), and a click carries our card, a few
	// kilobytes. 256 KiB leaves room for Slack to grow its payloads while
	// keeping what a forged request can make us hold a quarter of SPEC's
	// 1 MiB: a signature is only checked once the body is read, so
	// anyone can send headers that look signed.
	maxBodyBytes = 256 << 10
	// maxUnsignedBytes bounds what is read of a request without signature
	// headers: Slack's ssl_check probe (ssl_check=1&token=…) is far
	// smaller.
	maxUnsignedBytes = 4 << 10

	// maxBodiesReading is how many bodies are read (and held, until their
	// signature is checked) at once, across both Slack routes: what
	// unauthenticated clients can make us hold is at most this many times
	// maxBodyBytes (8 MiB), however many connections they open. Reading a
	// real Slack body takes well under a millisecond, so 32 is far more
	// than Slack's own traffic needs at once.
	maxBodiesReading = 32
	// bodyWait is how long a request waits for a turn to have its body
	// read before it is answered 503: long enough to ride out a burst,
	// short enough to leave the rest of Slack's three seconds.
	bodyWait = time.Second
	// bodyReadTimeout bounds the reading of one body once it has a turn,
	// so a client that trickles its body cannot keep a turn for the
	// server's whole ReadTimeout. Slack sends its few kilobytes at once.
	bodyReadTimeout = 2 * time.Second
	// maxKeptBuffer is the largest read buffer kept for the next request.
	// Real bodies fit it, so the hot path reuses its buffers; bigger ones
	// (a forged flood's) are left to the garbage collector, so the memory
	// a flood took is returned once it ends.
	maxKeptBuffer = 16 << 10

	// maxSkew is Slack's replay window: a signed request older or newer than
	// this is refused even if its signature is good.
	maxSkew = 5 * time.Minute

	signatureVersion = "v0"
)

// VerifySlack returns middleware that lets a request through to the next
// handler only when it carries a valid Slack signature (X-Slack-Signature
// over the raw body, keyed with secret) and an X-Slack-Request-Timestamp
// within five minutes of now. Anything else gets 401 and nothing more; a body
// over 256 KiB gets 413, and a request that cannot have its body read
// within a second, because maxBodiesReading others are being read, gets
// 503. Slack's ssl_check probe is answered 200 with an empty body before
// verification, as Bolt does: it only tests our TLS set-up and reaches no
// handler.
// An empty secret refuses every request, so a missing configuration can never
// open the door. now may be nil for the wall clock.
// Each refusal is logged at debug with its reason (never the body): at info
// anyone on the internet could fill the log, but whoever debugs a wrong
// signing secret or a skewed clock needs to see why.
//
// The next handler sees the exact bytes that were verified in r.Body, so
// slack.SlashCommandParse and slack.InteractionCallbackParse work unchanged.
//
// One middleware shares its turns among every route it wraps: build it once.
func VerifySlack(log *slog.Logger, secret string, now func() time.Time) func(http.Handler) http.Handler {
	return newVerifier(log, secret, now).wrap
}

// verifier is VerifySlack's state: the turns to read a body, each with
// the buffer it reads into.
type verifier struct {
	log    *slog.Logger
	secret string
	now    func() time.Time
	// turns holds one read buffer per body that may be read at once
	// (nil until first used); taking one is taking a turn.
	turns chan []byte
}

func newVerifier(log *slog.Logger, secret string, now func() time.Time) *verifier {
	if now == nil {
		now = time.Now
	}
	v := &verifier{log: log, secret: secret, now: now, turns: make(chan []byte, maxBodiesReading)}
	for range maxBodiesReading {
		v.turns <- nil
	}
	return v
}

func (v *verifier) wrap(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		// Only a request whose headers carry a fresh, well-formed
		// signature may make us read (and hold) up to maxBodyBytes;
		// without one, only an ssl_check probe can pass, and it is tiny.
		refuse := func(status int, reason string) {
			v.log.Debug("slack request refused", "path", r.URL.Path, "status", status, "reason", reason)
			http.Error(w, http.StatusText(status), status)
		}
		sig, problem := signature(v.secret, v.now(), r.Header)
		signed := problem == ""
		limit, tooLarge, why := int64(maxBodyBytes), http.StatusRequestEntityTooLarge, "body over the cap"
		if !signed {
			limit, tooLarge, why = maxUnsignedBytes, http.StatusUnauthorized, problem+", and a body too large for an ssl_check probe"
		}
		if r.ContentLength > limit {
			refuse(tooLarge, why)
			return
		}
		// Anyone can make headers look signed, so every body waits its
		// turn: what is held before a signature is checked is bounded
		// by the turns, not by the connections.
		buf, ok := v.take(r.Context())
		if !ok {
			w.Header().Set("Retry-After", "1")
			refuse(http.StatusServiceUnavailable, "too many bodies being read at once")
			return
		}
		body, err := v.read(w, r, buf, limit)
		status, reason := 0, "" // 0: verified
		switch {
		case errors.Is(err, errTooLarge):
			status, reason = tooLarge, why
		case err != nil:
			status, reason = http.StatusUnauthorized, "body could not be read"
		case isSSLCheck(r.Header, body):
			status = http.StatusOK
		case !signed:
			status, reason = http.StatusUnauthorized, problem
		// Hash the timestamp exactly as sent, not re-formatted:
		// "+1531420618" parses to the same number but was not what
		// Slack signed.
		case !hmac.Equal(sig, mac(v.secret, r.Header.Get("X-Slack-Request-Timestamp"), body)):
			status, reason = http.StatusUnauthorized, "signature does not match the body (a wrong SLACK_SIGNING_SECRET?)"
		}
		// The next handler gets a copy of the verified body, so the turn
		// and its buffer go back before the handler runs.
		var verified []byte
		if status == 0 {
			verified = bytes.Clone(body)
		}
		v.give(body)
		switch status {
		case 0:
			r.Body = io.NopCloser(bytes.NewReader(verified))
			r.ContentLength = int64(len(verified))
			next.ServeHTTP(w, r)
		case http.StatusOK:
			w.WriteHeader(http.StatusOK)
		default:
			refuse(status, reason)
		}
	})
}

// take waits up to bodyWait for a turn to read a body and returns its
// buffer; ok is false if none came (or the client went away).
func (v *verifier) take(ctx context.Context) (buf []byte, ok bool) {
	select {
	case buf = <-v.turns:
		return buf, true
	default:
	}
	t := time.NewTimer(bodyWait)
	defer t.Stop()
	select {
	case buf = <-v.turns:
		return buf, true
	case <-t.C:
		return nil, false
	case <-ctx.Done():
		return nil, false
	}
}

// give ends a turn, keeping buf for the next one unless it grew large.
func (v *verifier) give(buf []byte) {
	if cap(buf) > maxKeptBuffer {
		buf = nil
	}
	v.turns <- buf[:0]
}

// errTooLarge: the body is longer than its limit.
var errTooLarge = errors.New("body too large")

// read reads r's body into buf (grown as the bytes arrive, never past
// limit+1), within bodyReadTimeout when the connection allows a deadline.
func (v *verifier) read(w http.ResponseWriter, r *http.Request, buf []byte, limit int64) ([]byte, error) {
	rc := http.NewResponseController(w)
	if rc.SetReadDeadline(time.Now().Add(bodyReadTimeout)) == nil {
		// The handler that follows must not inherit the short deadline:
		// net/http cancels a request's context when a read of its
		// connection fails. The next request on the connection gets the
		// server's deadlines again.
		defer rc.SetReadDeadline(time.Time{})
	}
	buf = buf[:0]
	for {
		if len(buf) == cap(buf) {
			if int64(len(buf)) > limit {
				return buf, errTooLarge
			}
			grown := make([]byte, len(buf), min(max(2*cap(buf), 4<<10), int(limit)+1))
			copy(grown, buf)
			buf = grown
		}
		n, err := r.Body.Read(buf[len(buf):cap(buf)])
		buf = buf[:len(buf)+n]
		if int64(len(buf)) > limit {
			return buf, errTooLarge
		}
		if err == io.EOF {
			return buf, nil
		}
		if err != nil {
			return buf, err
		}
	}
}

// Sign returns the X-Slack-Signature value Slack would send for body at ts.
// Tests use it to build requests that VerifySlack accepts; the header
// X-Slack-Request-Timestamp must carry ts in Unix seconds.
func Sign(secret string, ts time.Time, body []byte) string {
	return signatureVersion + "=" + hex.EncodeToString(mac(secret, strconv.FormatInt(ts.Unix(), 10), body))
}

func mac(secret, ts string, body []byte) []byte {
	h := hmac.New(sha256.New, []byte(secret))
	// hash.Hash writes never fail.
	_, _ = io.WriteString(h, signatureVersion+":"+ts+":")
	_, _ = h.Write(body)
	return h.Sum(nil)
}

// signature is the signature h carries, if the secret is set, the
// timestamp fresh and the signature well formed: all a request needs
// before its body is read. Otherwise problem says which is missing, for
// the log.
func signature(secret string, now time.Time, h http.Header) (sig []byte, problem string) {
	if secret == "" {
		return nil, "no signing secret is configured"
	}
	sec, err := strconv.ParseInt(h.Get("X-Slack-Request-Timestamp"), 10, 64)
	if err != nil {
		return nil, "no valid X-Slack-Request-Timestamp"
	}
	if !fresh(sec, now) {
		return nil, "timestamp more than five minutes from now (a replay, or a clock off)"
	}
	hexSig, ok := strings.CutPrefix(h.Get("X-Slack-Signature"), signatureVersion+"=")
	if !ok {
		return nil, "no v0= X-Slack-Signature"
	}
	got, err := hex.DecodeString(hexSig)
	if err != nil || len(got) != sha256.Size {
		return nil, "malformed X-Slack-Signature"
	}
	return got, ""
}

// fresh reports whether the Unix time sec lies within maxSkew of now, in
// either direction. Only now (trusted) takes part in arithmetic, so no
// attacker-chosen timestamp can overflow its way into the window.
func fresh(sec int64, now time.Time) bool {
	n := now.Unix()
	w := int64(maxSkew / time.Second)
	return sec >= n-w && sec <= n+w
}

// isSSLCheck reports whether the request is Slack's ssl_check probe. The body
// is parsed as a form rather than searched, so a command whose text merely
// mentions "ssl_check=1" (which Slack would encode anyway) is still verified.
func isSSLCheck(h http.Header, body []byte) bool {
	// Every request passes here: skip the form parse unless it can match.
	if !bytes.Contains(body, []byte("ssl_check=1")) {
		return false
	}
	if ct := h.Get("Content-Type"); ct != "" {
		mt, _, err := mime.ParseMediaType(ct)
		if err != nil || mt != "application/x-www-form-urlencoded" {
			return false
		}
	}
	form, err := url.ParseQuery(string(body))
	return err == nil && form.Get("ssl_check") == "1"
}
