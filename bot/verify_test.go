package bot

import (
	"bytes"
	"io"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"testing"
	"time"
)

// Slack's published worked example from "Verifying requests from Slack".
const (
	exampleSecret    = "8f742231b10e8888abcd99yyyzzz85a5"
	exampleTimestamp = "1531420618"
	exampleSignature = "v0=a2114d57b48eac39b9ad189dd8316235a7b4a8d21a10bd27519666489c69b503"
	exampleBody      = "token=xyzz0WbapA4vBCDEFasx0q6G&team_id=T1DC2JH3J&team_domain=testteamnow&channel_id=G8PSS9T3V&channel_name=foobar&user_id=U2CERLKJA&user_name=roadrunner&command=%2Fwebhook-collect&text=&response_url=https%3A%2F%2Fhooks.slack.com%2Fcommands%2FT1DC2JH3J%2F397700885554%2F96rGlfmibIGlgcZRskXaIFfN&trigger_id=398738663015.47445629121.803a0bc887a14d10d2c447fce8b6703c"
)

var exampleTime = time.Unix(1531420618, 0)

// recorder is the next handler: it remembers whether it ran and what body it
// read, which must be the verified bytes.
type recorder struct {
	called bool
	body   []byte
}

func (rec *recorder) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	rec.called = true
	rec.body, _ = io.ReadAll(r.Body)
	w.WriteHeader(http.StatusNoContent)
}

func TestSignMatchesSlackExample(t *testing.T) {
	if got := Sign(exampleSecret, exampleTime, []byte(exampleBody)); got != exampleSignature {
		t.Fatalf("Sign = %s, want %s", got, exampleSignature)
	}
}

func TestVerifySlack(t *testing.T) {
	freshBody := "command=%2Fwa-leave&text=Phoenix&user_id=U1"
	signed := func(ts time.Time, body string) http.Header {
		h := http.Header{}
		h.Set("Content-Type", "application/x-www-form-urlencoded")
		h.Set("X-Slack-Request-Timestamp", strconv.FormatInt(ts.Unix(), 10))
		h.Set("X-Slack-Signature", Sign(exampleSecret, ts, []byte(body)))
		return h
	}
	with := func(h http.Header, key, value string) http.Header {
		h = h.Clone()
		if value == "" {
			h.Del(key)
		} else {
			h.Set(key, value)
		}
		return h
	}
	exampleHeader := http.Header{
		"Content-Type":              {"application/x-www-form-urlencoded"},
		"X-Slack-Request-Timestamp": {exampleTimestamp},
		"X-Slack-Signature":         {exampleSignature},
	}
	big := strings.Repeat("a", maxBodyBytes+1)

	tests := []struct {
		name     string
		secret   string
		now      time.Time
		header   http.Header
		body     string
		wantCode int
		wantNext bool
	}{
		{"slack worked example", exampleSecret, exampleTime, exampleHeader, exampleBody, http.StatusNoContent, true},
		{"example four minutes later", exampleSecret, exampleTime.Add(4*time.Minute + 59*time.Second), exampleHeader, exampleBody, http.StatusNoContent, true},
		{"example exactly five minutes later", exampleSecret, exampleTime.Add(5 * time.Minute), exampleHeader, exampleBody, http.StatusNoContent, true},
		{"example exactly five minutes earlier", exampleSecret, exampleTime.Add(-5 * time.Minute), exampleHeader, exampleBody, http.StatusNoContent, true},
		{"stale timestamp", exampleSecret, exampleTime.Add(5*time.Minute + time.Second), exampleHeader, exampleBody, http.StatusUnauthorized, false},
		{"future timestamp", exampleSecret, exampleTime.Add(-5*time.Minute - time.Second), exampleHeader, exampleBody, http.StatusUnauthorized, false},
		{"wall clock rejects the example", exampleSecret, time.Now(), exampleHeader, exampleBody, http.StatusUnauthorized, false},
		{"wrong secret", "not-the-secret", exampleTime, exampleHeader, exampleBody, http.StatusUnauthorized, false},
		{"empty secret", "", exampleTime, exampleHeader, exampleBody, http.StatusUnauthorized, false},
		{"tampered body", exampleSecret, exampleTime, exampleHeader, strings.Replace(exampleBody, "U2CERLKJA", "U2CERLKJB", 1), http.StatusUnauthorized, false},
		{"wrong signature", exampleSecret, exampleTime, with(exampleHeader, "X-Slack-Signature", "v0="+strings.Repeat("0", 64)), exampleBody, http.StatusUnauthorized, false},
		{"uppercase hex signature", exampleSecret, exampleTime, with(exampleHeader, "X-Slack-Signature", "v0="+strings.ToUpper(exampleSignature[3:])), exampleBody, http.StatusNoContent, true},
		{"signature without version", exampleSecret, exampleTime, with(exampleHeader, "X-Slack-Signature", exampleSignature[3:]), exampleBody, http.StatusUnauthorized, false},
		{"signature with other version", exampleSecret, exampleTime, with(exampleHeader, "X-Slack-Signature", "v1="+exampleSignature[3:]), exampleBody, http.StatusUnauthorized, false},
		{"signature not hex", exampleSecret, exampleTime, with(exampleHeader, "X-Slack-Signature", "v0="+strings.Repeat("z", 64)), exampleBody, http.StatusUnauthorized, false},
		{"signature truncated", exampleSecret, exampleTime, with(exampleHeader, "X-Slack-Signature", exampleSignature[:len(exampleSignature)-2]), exampleBody, http.StatusUnauthorized, false},
		{"signature too long", exampleSecret, exampleTime, with(exampleHeader, "X-Slack-Signature", exampleSignature+"00"), exampleBody, http.StatusUnauthorized, false},
		{"missing signature", exampleSecret, exampleTime, with(exampleHeader, "X-Slack-Signature", ""), exampleBody, http.StatusUnauthorized, false},
		{"missing timestamp", exampleSecret, exampleTime, with(exampleHeader, "X-Slack-Request-Timestamp", ""), exampleBody, http.StatusUnauthorized, false},
		{"missing both headers", exampleSecret, exampleTime, http.Header{}, exampleBody, http.StatusUnauthorized, false},
		{"timestamp not a number", exampleSecret, exampleTime, with(exampleHeader, "X-Slack-Request-Timestamp", "1531420618.5"), exampleBody, http.StatusUnauthorized, false},
		{"timestamp with sign", exampleSecret, exampleTime, with(exampleHeader, "X-Slack-Request-Timestamp", "+1531420618"), exampleBody, http.StatusUnauthorized, false},
		{"timestamp at int64 max", exampleSecret, exampleTime, with(exampleHeader, "X-Slack-Request-Timestamp", "9223372036854775807"), exampleBody, http.StatusUnauthorized, false},
		{"timestamp at int64 min", exampleSecret, exampleTime, with(exampleHeader, "X-Slack-Request-Timestamp", "-9223372036854775808"), exampleBody, http.StatusUnauthorized, false},
		{"timestamp beyond int64", exampleSecret, exampleTime, with(exampleHeader, "X-Slack-Request-Timestamp", "99999999999999999999"), exampleBody, http.StatusUnauthorized, false},
		{"freshly signed", exampleSecret, exampleTime, signed(exampleTime, freshBody), freshBody, http.StatusNoContent, true},
		{"empty body signed", exampleSecret, exampleTime, signed(exampleTime, ""), "", http.StatusNoContent, true},
		{"oversize body", exampleSecret, exampleTime, signed(exampleTime, big), big, http.StatusRequestEntityTooLarge, false},
		{"ssl check", "", exampleTime, http.Header{"Content-Type": {"application/x-www-form-urlencoded"}}, "ssl_check=1&token=xyz", http.StatusOK, false},
		{"ssl check without content type", "", exampleTime, http.Header{}, "token=xyz&ssl_check=1", http.StatusOK, false},
		{"ssl check in json is not one", "", exampleTime, http.Header{"Content-Type": {"application/json"}}, "ssl_check=1", http.StatusUnauthorized, false},
		{"ssl check text in a command", "", exampleTime, http.Header{}, "command=%2Fwa-leave&text=ssl_check%3D1", http.StatusUnauthorized, false},
		{"ssl check value other than 1", "", exampleTime, http.Header{}, "ssl_check=0", http.StatusUnauthorized, false},
		{"ssl check substring of another field", "", exampleTime, http.Header{}, "xssl_check=1", http.StatusUnauthorized, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			next := &recorder{}
			h := VerifySlack(discardLog, tt.secret, func() time.Time { return tt.now })(next)
			req := httptest.NewRequest(http.MethodPost, "/slack/commands", strings.NewReader(tt.body))
			req.Header = tt.header
			w := httptest.NewRecorder()
			h.ServeHTTP(w, req)

			if got := w.Code; got != tt.wantCode {
				t.Errorf("status = %d, want %d", got, tt.wantCode)
			}
			if next.called != tt.wantNext {
				t.Fatalf("next called = %v, want %v", next.called, tt.wantNext)
			}
			if tt.wantNext && !bytes.Equal(next.body, []byte(tt.body)) {
				t.Errorf("next saw body %q, want %q", next.body, tt.body)
			}
			if tt.wantCode == http.StatusOK && w.Body.Len() != 0 {
				t.Errorf("ssl_check body = %q, want empty", w.Body)
			}
		})
	}
}

// TestVerifySlackOversizeStream covers a body whose size is not announced in
// Content-Length, so only the MaxBytesReader can catch it.
func TestVerifySlackOversizeStream(t *testing.T) {
	next := &recorder{}
	h := VerifySlack(discardLog, exampleSecret, func() time.Time { return exampleTime })(next)
	body := strings.Repeat("a", maxBodyBytes+1)
	req := httptest.NewRequest(http.MethodPost, "/slack/interactions", io.MultiReader(strings.NewReader(body)))
	req.ContentLength = -1
	req.Header.Set("X-Slack-Request-Timestamp", exampleTimestamp)
	req.Header.Set("X-Slack-Signature", Sign(exampleSecret, exampleTime, []byte(body)))
	w := httptest.NewRecorder()
	h.ServeHTTP(w, req)
	if w.Code != http.StatusRequestEntityTooLarge || next.called {
		t.Fatalf("status = %d, next called = %v; want 413 and not called", w.Code, next.called)
	}
}

// TestVerifySlackBodyAtLimit checks the cap is inclusive: a body of exactly
// maxBodyBytes is still a request we verify.
func TestVerifySlackBodyAtLimit(t *testing.T) {
	next := &recorder{}
	h := VerifySlack(discardLog, exampleSecret, func() time.Time { return exampleTime })(next)
	body := strings.Repeat("a", maxBodyBytes)
	req := httptest.NewRequest(http.MethodPost, "/slack/interactions", strings.NewReader(body))
	req.Header.Set("X-Slack-Request-Timestamp", exampleTimestamp)
	req.Header.Set("X-Slack-Signature", Sign(exampleSecret, exampleTime, []byte(body)))
	w := httptest.NewRecorder()
	h.ServeHTTP(w, req)
	if w.Code != http.StatusNoContent || len(next.body) != maxBodyBytes {
		t.Fatalf("status = %d, next saw %d bytes; want 204 and %d", w.Code, len(next.body), maxBodyBytes)
	}
}

// countingReader is an endless body that counts what was read of it.
type countingReader struct{ n int }

func (c *countingReader) Read(p []byte) (int, error) {
	for i := range p {
		p[i] = 'a'
	}
	c.n += len(p)
	return len(p), nil
}

// A request without signature headers, or with a stale timestamp or a
// malformed signature, is refused after a few kilobytes of its body, not
// a megabyte: many of them must not cost memory.
func TestVerifySlackReadsLittleOfUnsignedBodies(t *testing.T) {
	h := VerifySlack(discardLog, exampleSecret, func() time.Time { return exampleTime })(&recorder{})
	for name, headers := range map[string]map[string]string{
		"no headers":          {},
		"stale timestamp":     {"X-Slack-Request-Timestamp": "1531420000", "X-Slack-Signature": exampleSignature},
		"malformed signature": {"X-Slack-Request-Timestamp": exampleTimestamp, "X-Slack-Signature": "v0=zz"},
	} {
		body := &countingReader{}
		req := httptest.NewRequest(http.MethodPost, "/slack/commands", body)
		req.ContentLength = -1
		for k, v := range headers {
			req.Header.Set(k, v)
		}
		w := httptest.NewRecorder()
		h.ServeHTTP(w, req)
		if w.Code != http.StatusUnauthorized || body.n > 2*maxUnsignedBytes {
			t.Errorf("%s: status %d after reading %d bytes; want 401 after at most %d", name, w.Code, body.n, 2*maxUnsignedBytes)
		}
	}
	// An ssl_check probe needs no signature, and still passes.
	w := httptest.NewRecorder()
	req := httptest.NewRequest(http.MethodPost, "/slack/commands", strings.NewReader("ssl_check=1&token=xyzz0WbapA4vBCDEFasx0q6G"))
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	h.ServeHTTP(w, req)
	if w.Code != http.StatusOK {
		t.Errorf("ssl_check: status %d, want 200", w.Code)
	}
}

func FuzzVerify(f *testing.F) {
	f.Add(exampleTimestamp, exampleSignature, []byte(exampleBody))
	f.Add(exampleTimestamp, "v0=", []byte(""))
	f.Add("-1", "v0=zz", []byte("ssl_check=1"))
	f.Add("9223372036854775807", exampleSignature, []byte("payload=%7B%7D"))
	f.Fuzz(func(t *testing.T, ts, sig string, body []byte) {
		next := &recorder{}
		h := VerifySlack(discardLog, exampleSecret, func() time.Time { return exampleTime })(next)
		req := httptest.NewRequest(http.MethodPost, "/slack/commands", bytes.NewReader(body))
		req.Header.Set("X-Slack-Request-Timestamp", ts)
		req.Header.Set("X-Slack-Signature", sig)
		w := httptest.NewRecorder()
		h.ServeHTTP(w, req)

		// Only a correct signature over a fresh timestamp may reach next.
		sec, err := strconv.ParseInt(ts, 10, 64)
		genuine := err == nil && sig != "" &&
			strings.EqualFold(sig, Sign(exampleSecret, time.Unix(sec, 0), body)) &&
			ts == strconv.FormatInt(sec, 10) &&
			exampleTime.Sub(time.Unix(sec, 0)).Abs() <= maxSkew
		if next.called != genuine {
			t.Fatalf("next called = %v for genuine = %v (status %d)", next.called, genuine, w.Code)
		}
		if next.called && !bytes.Equal(next.body, body) {
			t.Fatalf("next saw a different body")
		}
		switch w.Code {
		case http.StatusOK, http.StatusUnauthorized, http.StatusNoContent:
		default:
			t.Fatalf("unexpected status %d", w.Code)
		}
	})
}

// forgedHeader looks signed: a fresh timestamp and 64 hex characters, all a
// request needs before its body is read. Anyone can send it.
func forgedHeader(now time.Time) http.Header {
	h := http.Header{}
	h.Set("X-Slack-Request-Timestamp", strconv.FormatInt(now.Unix(), 10))
	h.Set("X-Slack-Signature", "v0="+strings.Repeat("ab", 32))
	return h
}

// A forged signature lifts the unsigned cap, so the signed cap is what a
// forger can make us read: it fits Slack's bodies (a few kilobytes), not
// SPEC's 1 MiB ceiling. 300 KiB is refused as too large after at most the
// cap has been read.
func TestVerifySlackCapsForgedBodies(t *testing.T) {
	h := VerifySlack(discardLog, exampleSecret, func() time.Time { return exampleTime })(&recorder{})
	body := &countingReader{}
	req := httptest.NewRequest(http.MethodPost, "/slack/commands", io.LimitReader(body, 300<<10))
	req.ContentLength = -1
	req.Header = forgedHeader(exampleTime)
	w := httptest.NewRecorder()
	h.ServeHTTP(w, req)
	if w.Code != http.StatusRequestEntityTooLarge || body.n > 256<<10+32<<10 {
		t.Fatalf("status %d after reading %d bytes; want 413 after at most about 256 KiB", w.Code, body.n)
	}
}

// stuckBody is a request body that says when it is first read and then
// blocks until released.
type stuckBody struct {
	reading chan<- struct{}
	release <-chan struct{}
	once    bool
}

func (s *stuckBody) Read(p []byte) (int, error) {
	if !s.once {
		s.once = true
		s.reading <- struct{}{}
	}
	<-s.release
	return 0, io.ErrUnexpectedEOF
}

// However many connections send headers that look signed, only
// maxBodiesReading bodies are read (and held) at once; the next request
// waits bodyWait for a turn and is then answered 503 without a byte of
// its body read. Once the readers are done, turns are free again.
func TestVerifySlackLimitsBodiesReadAtOnce(t *testing.T) {
	now := time.Now()
	h := VerifySlack(discardLog, exampleSecret, func() time.Time { return now })(&recorder{})
	reading, release := make(chan struct{}), make(chan struct{})
	done := make(chan int, maxBodiesReading)
	for range maxBodiesReading {
		req := httptest.NewRequest(http.MethodPost, "/slack/commands", &stuckBody{reading: reading, release: release})
		req.ContentLength = -1
		req.Header = forgedHeader(now)
		go func() {
			w := httptest.NewRecorder()
			h.ServeHTTP(w, req)
			done <- w.Code
		}()
	}
	for range maxBodiesReading {
		<-reading
	}

	extra := &countingReader{}
	req := httptest.NewRequest(http.MethodPost, "/slack/commands", io.LimitReader(extra, 1<<10))
	req.Header = forgedHeader(now)
	w := httptest.NewRecorder()
	h.ServeHTTP(w, req)
	if w.Code != http.StatusServiceUnavailable || extra.n != 0 {
		t.Errorf("with every turn taken: status %d after reading %d bytes; want 503 after none", w.Code, extra.n)
	}

	close(release)
	for range maxBodiesReading {
		if code := <-done; code != http.StatusUnauthorized {
			t.Errorf("stuck body: status %d, want 401", code)
		}
	}
	body := "command=%2Fwa-leave&text=Phoenix&user_id=U1"
	req = httptest.NewRequest(http.MethodPost, "/slack/commands", strings.NewReader(body))
	req.Header.Set("X-Slack-Request-Timestamp", strconv.FormatInt(now.Unix(), 10))
	req.Header.Set("X-Slack-Signature", Sign(exampleSecret, now, []byte(body)))
	w = httptest.NewRecorder()
	h.ServeHTTP(w, req)
	if w.Code != http.StatusNoContent {
		t.Errorf("after the flood: status %d, want 204", w.Code)
	}
}
