package bot

import (
	"bytes"
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
	// maxBodyBytes caps what we read from Slack. Real command and
	// interaction bodies are a few kilobytes; the cap stops an unauthenticated
	// client from making us buffer (and hash) an arbitrarily large body.
	maxBodyBytes = 1 << 20
	// maxUnsignedBytes bounds what is read of a request without signature
	// headers: Slack's ssl_check probe (ssl_check=1&token=…) is far
	// smaller.
	maxUnsignedBytes = 4 << 10

	// maxSkew is Slack's replay window: a signed request older or newer than
	// this is refused even if its signature is good.
	maxSkew = 5 * time.Minute

	signatureVersion = "v0"
)

// VerifySlack returns middleware that lets a request through to the next
// handler only when it carries a valid Slack signature (X-Slack-Signature
// over the raw body, keyed with secret) and an X-Slack-Request-Timestamp
// within five minutes of now. Anything else gets 401 and nothing more; a body
// over 1 MiB gets 413. Slack's ssl_check probe is answered 200 with an empty
// body before verification, as Bolt does: it only tests our TLS set-up and
// reaches no handler.
// An empty secret refuses every request, so a missing configuration can never
// open the door. now may be nil for the wall clock.
// Each refusal is logged at debug with its reason (never the body): at info
// anyone on the internet could fill the log, but whoever debugs a wrong
// signing secret or a skewed clock needs to see why.
//
// The next handler sees the exact bytes that were verified in r.Body, so
// slack.SlashCommandParse and slack.InteractionCallbackParse work unchanged.
func VerifySlack(log *slog.Logger, secret string, now func() time.Time) func(http.Handler) http.Handler {
	if now == nil {
		now = time.Now
	}
	return func(next http.Handler) http.Handler {
		return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			refuse := func(status int, reason string) {
				log.Debug("slack request refused", "path", r.URL.Path, "status", status, "reason", reason)
				http.Error(w, http.StatusText(status), status)
			}
			// Only a request whose headers carry a fresh, well-formed
			// signature may make us read (and hold) up to 1 MiB; without
			// one, only an ssl_check probe can pass, and it is tiny. So
			// unsigned requests cost little, however many arrive.
			sig, problem := signature(secret, now(), r.Header)
			signed := problem == ""
			limit, tooLarge, why := int64(maxBodyBytes), http.StatusRequestEntityTooLarge, "body over 1 MiB"
			if !signed {
				limit, tooLarge, why = maxUnsignedBytes, http.StatusUnauthorized, problem+", and a body too large for an ssl_check probe"
			}
			if r.ContentLength > limit {
				refuse(tooLarge, why)
				return
			}
			body, err := io.ReadAll(http.MaxBytesReader(w, r.Body, limit))
			if err != nil {
				if _, ok := errors.AsType[*http.MaxBytesError](err); ok {
					refuse(tooLarge, why)
					return
				}
				refuse(http.StatusUnauthorized, "body could not be read")
				return
			}
			if isSSLCheck(r.Header, body) {
				w.WriteHeader(http.StatusOK)
				return
			}
			// Hash the timestamp exactly as sent, not re-formatted:
			// "+1531420618" parses to the same number but was not what
			// Slack signed.
			if !signed {
				refuse(http.StatusUnauthorized, problem)
				return
			}
			if !hmac.Equal(sig, mac(secret, r.Header.Get("X-Slack-Request-Timestamp"), body)) {
				refuse(http.StatusUnauthorized, "signature does not match the body (a wrong SLACK_SIGNING_SECRET?)")
				return
			}
			r.Body = io.NopCloser(bytes.NewReader(body))
			r.ContentLength = int64(len(body))
			next.ServeHTTP(w, r)
		})
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
