package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"strings"
	"sync"
	"time"
)

// standInCall is one Web API call (or response_url post) the stand-in
// for Slack received.
type standInCall struct {
	// Method is the Web API method ("chat.postMessage"), or
	// "response_url" for a post to a command's or click's response URL.
	Method string
	Form   url.Values
	// TS is the message ts the stand-in answered with, or the one
	// updated (chat.update).
	TS string
}

// standInSlack is an in-process stand-in for the few Slack Web API
// methods waleave calls (auth.test, chat.postMessage, chat.update,
// chat.postEphemeral, users.info; anything else gets {"ok":true}), so
// `waleave demo` runs the real program with no Slack workspace. It
// records every call and tells watch about it as it arrives.
type standInSlack struct {
	srv   *http.Server
	url   string
	watch func(standInCall)

	mu      sync.Mutex
	calls   []standInCall
	seq     int
	changed chan struct{} // closed and replaced on every call
}

// startStandInSlack serves the stand-in on a loopback port until Close.
func startStandInSlack(watch func(standInCall)) (*standInSlack, error) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return nil, fmt.Errorf("stand-in Slack: %w", err)
	}
	s := &standInSlack{url: "http://" + ln.Addr().String(), watch: watch, changed: make(chan struct{})}
	s.srv = &http.Server{Handler: http.HandlerFunc(s.serve), ReadHeaderTimeout: 5 * time.Second}
	go func() { _ = s.srv.Serve(ln) }()
	return s, nil
}

// APIURL is the value for SLACK_API_URL.
func (s *standInSlack) APIURL() string { return s.url + "/api/" }

// ResponseURL is a response_url that posts back to the stand-in.
func (s *standInSlack) ResponseURL(name string) string { return s.url + "/response/" + name }

// Close stops the stand-in.
func (s *standInSlack) Close() error {
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
	defer cancel()
	return s.srv.Shutdown(ctx)
}

func (s *standInSlack) serve(w http.ResponseWriter, r *http.Request) {
	body, err := io.ReadAll(io.LimitReader(r.Body, 4<<20))
	if err != nil {
		http.Error(w, "bad request", http.StatusBadRequest)
		return
	}
	if name, ok := strings.CutPrefix(r.URL.Path, "/response/"); ok {
		var msg struct {
			Text string `json:"text"`
		}
		_ = json.Unmarshal(body, &msg)
		s.record(standInCall{Method: "response_url", Form: url.Values{"name": {name}, "text": {msg.Text}}})
		return
	}
	method, ok := strings.CutPrefix(r.URL.Path, "/api/")
	if !ok {
		http.NotFound(w, r)
		return
	}
	form, _ := url.ParseQuery(string(body))
	if strings.HasPrefix(r.Header.Get("Content-Type"), "application/json") {
		form = jsonForm(body)
	}
	ch := form.Get("channel")
	call := standInCall{Method: method, Form: form}
	var answer map[string]any
	switch method {
	case "auth.test":
		answer = map[string]any{"url": "https://demo.slack.invalid/", "team": "Demo", "user": "waleave", "team_id": "T0DEMO", "user_id": "U0DEMOBOT", "bot_id": "B0DEMOBOT"}
	case "users.info":
		answer = map[string]any{"user": map[string]any{"id": form.Get("user"), "name": strings.ToLower(form.Get("user")), "tz": "UTC"}}
	case "chat.postMessage", "chat.postEphemeral":
		call.TS = s.nextTS()
		answer = map[string]any{"channel": ch, "ts": call.TS, "message_ts": call.TS}
	case "chat.update":
		call.TS = form.Get("ts")
		answer = map[string]any{"channel": ch, "ts": call.TS}
	default:
		answer = map[string]any{}
	}
	answer["ok"] = true
	s.record(call)
	w.Header().Set("Content-Type", "application/json")
	_ = json.NewEncoder(w).Encode(answer)
}

// jsonForm flattens a JSON body's top level into form values, for
// methods slack-go posts as JSON.
func jsonForm(body []byte) url.Values {
	var m map[string]json.RawMessage
	form := url.Values{}
	if json.Unmarshal(body, &m) != nil {
		return form
	}
	for k, v := range m {
		var s string
		if json.Unmarshal(v, &s) == nil {
			form.Set(k, s)
		} else {
			form.Set(k, string(v))
		}
	}
	return form
}

func (s *standInSlack) nextTS() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.seq++
	return fmt.Sprintf("1700000000.%06d", s.seq)
}

// record tells watch about c, then lets waitFor see it: whoever waits
// for a call finds it already shown.
func (s *standInSlack) record(c standInCall) {
	if s.watch != nil {
		s.watch(c)
	}
	s.mu.Lock()
	s.calls = append(s.calls, c)
	close(s.changed)
	s.changed = make(chan struct{})
	s.mu.Unlock()
}

// waitFor waits until a recorded call satisfies ok and returns it.
func (s *standInSlack) waitFor(ctx context.Context, timeout time.Duration, ok func(standInCall) bool) (standInCall, error) {
	deadline := time.NewTimer(timeout)
	defer deadline.Stop()
	seen := 0
	for {
		s.mu.Lock()
		calls, changed := s.calls[seen:], s.changed
		seen = len(s.calls)
		s.mu.Unlock()
		for _, c := range calls {
			if ok(c) {
				return c, nil
			}
		}
		select {
		case <-changed:
		case <-deadline.C:
			return standInCall{}, errors.New("timed out")
		case <-ctx.Done():
			return standInCall{}, ctx.Err()
		}
	}
}
