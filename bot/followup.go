package bot

import (
	"context"
	"errors"
	"net/http"
	"net/netip"
	"net/url"
	"sync"
	"time"
)

// Follow-ups are the short Slack calls made after an ack (ephemeral
// replies to a click or a command). They are best-effort and must never
// cost more than the work they report on: a flood of clicks on a decided
// card (a script, a stuck mouse, everyone at 9:00) would otherwise start
// one goroutine and one Slack call per click, without bound.
const (
	// maxFollowupsRunning is how many follow-ups call Slack at once: the
	// most workers there are (they exit when the queue is empty).
	maxFollowupsRunning = 32
	// maxFollowupsPending bounds those waiting to run; beyond it new ones
	// are dropped (and counted): Slack would rate-limit them anyway.
	maxFollowupsPending = 256
	// followupTimeout bounds a follow-up from when it was queued: a reply
	// that could not even start by then is stale, and is dropped.
	followupTimeout = 15 * time.Second
	// repeatWindow is how long an identical ephemeral message to the same
	// person, in the same channel and about the same card, is not sent
	// again.
	repeatWindow = 10 * time.Second
	// maxRemembered bounds the memory of recent messages.
	maxRemembered = 4096
)

// followups queues follow-ups for a few workers and remembers recent
// ephemeral messages.
type followups struct {
	queue chan followup
	now   func() time.Time

	mu      sync.Mutex
	workers int
	recent  map[ephemeralKey]time.Time
}

// followup is one queued call and when it stops being worth making.
type followup struct {
	fn       func(ctx context.Context)
	deadline time.Time
}

// ephemeralKey identifies a message to a person: where, to whom, about
// which card, and what.
type ephemeralKey struct{ channel, user, card, text string }

func newFollowups(now func() time.Time) *followups {
	return &followups{queue: make(chan followup, maxFollowupsPending), now: now, recent: map[ephemeralKey]time.Time{}}
}

// add queues fn, and reports whether a worker must be started for it
// (the caller starts it, so that Stop can wait for it). It reports
// ok false, and queues nothing, when the queue is full.
func (f *followups) add(fn func(ctx context.Context)) (ok, startWorker bool) {
	f.mu.Lock()
	defer f.mu.Unlock()
	select {
	case f.queue <- followup{fn: fn, deadline: time.Now().Add(followupTimeout)}:
	default:
		return false, false
	}
	if f.workers < maxFollowupsRunning {
		f.workers++
		return true, true
	}
	return true, false
}

// next hands a worker the next follow-up, or tells it to exit when there
// is none (under the lock, so add never queues work no worker will see).
func (f *followups) next() (followup, bool) {
	f.mu.Lock()
	defer f.mu.Unlock()
	select {
	case fu := <-f.queue:
		return fu, true
	default:
		f.workers--
		return followup{}, false
	}
}

// repeat reports whether the same message went to the same person within
// repeatWindow, and otherwise remembers it as sent.
func (f *followups) repeat(k ephemeralKey) bool {
	now := f.now()
	f.mu.Lock()
	defer f.mu.Unlock()
	if at, ok := f.recent[k]; ok && now.Sub(at) < repeatWindow {
		return true
	}
	if len(f.recent) >= maxRemembered {
		for k, at := range f.recent {
			if now.Sub(at) >= repeatWindow {
				delete(f.recent, k)
			}
		}
		if len(f.recent) >= maxRemembered {
			// All recent: forgetting them only risks a repeated message.
			clear(f.recent)
		}
	}
	f.recent[k] = now
	return false
}

// slackHooksHosts are where Slack's response_urls point: Slack's, and
// GovSlack's for its government workspaces.
var slackHooksHosts = map[string]bool{"hooks.slack.com": true, "hooks.slack-gov.com": true}

// checkResponseURL refuses a response_url that is not Slack's hooks host
// over https: the URL comes inside a signed payload, but the bot posts
// there with nothing to say it is Slack, so it posts nowhere else. A
// loopback address is allowed too, in either scheme: that is where tests
// (and a local Slack double) listen, and it is the caller's own machine.
// The error names no part of the URL: the URL is a credential.
func checkResponseURL(raw string) error {
	u, err := url.Parse(raw)
	switch {
	case err != nil:
		return errors.New("response_url is not a URL")
	case u.User != nil:
		return errors.New("response_url carries user information")
	case LoopbackHost(u.Hostname()) && (u.Scheme == "https" || u.Scheme == "http"):
		return nil
	case u.Scheme != "https":
		return errors.New("response_url is not https")
	case !slackHooksHosts[u.Hostname()] || (u.Port() != "" && u.Port() != "443"):
		return errors.New("response_url is not on Slack's hooks host")
	}
	return nil
}

// LoopbackHost reports whether host (a URL's host name, without a port)
// is this machine: "localhost" or a loopback IP address. Traffic to it
// does not cross a network, so plain http to it exposes nothing.
func LoopbackHost(host string) bool {
	if host == "localhost" {
		return true
	}
	ip, err := netip.ParseAddr(host)
	return err == nil && ip.IsLoopback()
}

// NoRedirects is an http.Client's CheckRedirect that follows no redirect
// and hands the caller the redirect itself, which every caller here
// treats as a failed call. Each of the bot's clients carries a credential
// (the bot token in a header or form, a gateway token in its URL, a
// response_url in its own), and Go re-sends a form body on a 307 or 308
// to wherever it points.
func NoRedirects(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }
