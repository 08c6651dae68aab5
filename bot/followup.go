package bot

import (
	"context"
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
