package store

import (
	"context"
	"fmt"
	"time"

	"github.com/waleave/waleave/leave"
)

// OwedRef names a request that owes Slack something.
type OwedRef struct {
	ID        string
	ChannelID string
}

// Owed returns up to limit requests that owe Slack a card post, a card
// update or an outcome reply and are not leased at now, oldest change
// first. It reads only IDs (it runs often under a burst, and the poster
// re-reads each row when it sends); Lease claims the ones the caller can
// send.
func (s *Outbox) Owed(ctx context.Context, now time.Time, limit int) ([]OwedRef, error) {
	rows, err := s.queryRows(ctx, `SELECT id, channel_id FROM requests
		WHERE (card_version > card_posted_version OR reply_needed = 1) AND outbox_lease < ?
		ORDER BY updated_at, id LIMIT ?`, ms(now), limit)
	if err != nil {
		return nil, fmt.Errorf("read outbox: %w", err)
	}
	defer rows.Close()
	var out []OwedRef
	for rows.Next() {
		var o OwedRef
		if err := rows.Scan(&o.ID, &o.ChannelID); err != nil {
			return nil, fmt.Errorf("read outbox: %w", err)
		}
		out = append(out, o)
	}
	return out, rows.Err()
}

// Lease claims a request's outbox work for owner (a replica's River
// client ID) until the given time, so another poster (another replica)
// leaves it alone while it is being sent. It reports false when someone
// else holds an unexpired lease. A lease that runs out, or whose owner's
// heartbeat stops (ReclaimFromDead), makes the row eligible again.
func (s *Outbox) Lease(ctx context.Context, id, owner string, now, until time.Time) (bool, error) {
	res, err := s.exec(ctx, `UPDATE requests SET outbox_lease = ?, outbox_owner = ? WHERE id = ? AND outbox_lease < ?`, ms(until), owner, id, ms(now))
	if err != nil {
		return false, fmt.Errorf("lease outbox: %w", err)
	}
	n, err := res.RowsAffected()
	return n == 1, err
}

// Extend renews a lease this poster holds: it moves the lease that runs
// out at held to until, and reports false when the row's lease is no
// longer held (it ran out and another poster took the row, or it was
// released). A poster extends before each send, so a message is never
// sent by two posters at once however long it waited in its queue. A
// zero until releases the lease.
func (s *Outbox) Extend(ctx context.Context, id string, held, until time.Time) (bool, error) {
	res, err := s.exec(ctx, `UPDATE requests SET outbox_lease = ? WHERE id = ? AND outbox_lease = ?`, ms(until), id, ms(held))
	if err != nil {
		return false, fmt.Errorf("extend outbox lease: %w", err)
	}
	n, err := res.RowsAffected()
	return n == 1, err
}

// Post names one of the messages a request posts (rather than updates) in
// Slack, for PostUnderWay.
type Post int

const (
	// CardPost is the request's card in its channel.
	CardPost Post = iota
	// ReplyPost is the outcome reply in the card's thread.
	ReplyPost
)

// PostUnderWay records, before the poster calls Slack, that the post of
// one of the request's messages began at. Slack has no idempotency key:
// a post whose answer is lost (the process dies, the call times out, the
// answer cannot be written) may still be in Slack, and this mark is how
// the next attempt knows to look for it first (around at) rather than
// post it again. CardPosted and ReplyPosted clear it. When it cannot be
// written the poster must not post.
func (s *Outbox) PostUnderWay(ctx context.Context, id string, p Post, at time.Time) error {
	col := "card_posting"
	if p == ReplyPost {
		col = "reply_posting"
	}
	if _, err := s.exec(ctx, `UPDATE requests SET `+col+` = ? WHERE id = ?`, ms(at), id); err != nil {
		return fmt.Errorf("mark post under way: %w", err)
	}
	return nil
}

// CardPosted records that version of the request's card is in Slack at
// ts, and that no card post is under way. The lease stays: the poster may
// owe the outcome reply too, and releases the row when it is done
// (RetryOutboxAt with a zero time).
func (s *Outbox) CardPosted(ctx context.Context, id, ts string, version int) error {
	_, err := s.exec(ctx, `UPDATE requests SET card_ts = ?, card_posting = 0,
		card_posted_version = `+s.dialect.greatest()+`(card_posted_version, ?) WHERE id = ?`, ts, version, id)
	if err != nil {
		return fmt.Errorf("record card post: %w", err)
	}
	return nil
}

// ReplyPosted records that the outcome reply is in the card's thread (ts
// empty: it could not be posted there), and that no reply post is under
// way; like CardPosted it leaves the lease to the poster.
func (s *Outbox) ReplyPosted(ctx context.Context, id, ts string) error {
	_, err := s.exec(ctx, `UPDATE requests SET reply_needed = 0, reply_ts = ?, reply_posting = 0 WHERE id = ?`, ts, id)
	if err != nil {
		return fmt.Errorf("record reply post: %w", err)
	}
	return nil
}

// RetryOutboxAt releases the request's lease so that it is claimed again
// at the given time (after a Slack rate limit or outage).
func (s *Outbox) RetryOutboxAt(ctx context.Context, id string, at time.Time) error {
	_, err := s.exec(ctx, `UPDATE requests SET outbox_lease = ? WHERE id = ?`, ms(at), id)
	if err != nil {
		return fmt.Errorf("reschedule outbox: %w", err)
	}
	return nil
}

// DropOutbox gives up on Slack delivery for a request (the channel is gone
// or the bot was removed), so the outbox does not retry it forever.
func (s *Outbox) DropOutbox(ctx context.Context, id string) error {
	_, err := s.exec(ctx, `UPDATE requests SET card_posted_version = card_version, reply_needed = 0, outbox_lease = 0 WHERE id = ?`, id)
	if err != nil {
		return fmt.Errorf("drop outbox: %w", err)
	}
	return nil
}

// releaseLeases drops every outbox lease and every leave run's claim
// (ReclaimAll calls it at start-up).
// With SQLite only one process uses the database, so at start-up any was
// left by a process that died mid-delivery or mid-run, and waiting for it
// to run out would delay that request's Slack messages or its leave.
// Never call it on a shared database (see SingleProcess): other replicas
// hold live ones.
func (s *core) releaseLeases(ctx context.Context) error {
	if _, err := s.exec(ctx, `UPDATE requests SET outbox_lease = 0 WHERE outbox_lease > 0`); err != nil {
		return fmt.Errorf("release outbox leases: %w", err)
	}
	if _, err := s.exec(ctx, `UPDATE requests SET run_until = 0 WHERE state = ? AND run_until > 0`, leave.Running); err != nil {
		return fmt.Errorf("release run claims: %w", err)
	}
	return nil
}

// OnOwed has fn called after every committed change that leaves a card
// to post or update, or an outcome reply, owed to Slack: a new request,
// every state change, a confirmation, the group details. The Slack
// poster registers its wake-up here, so no caller of those changes has to
// remember to wake it. fn runs on the changing goroutine and must not
// block. (Another replica's poster learns of the change from its own
// periodic scan.)
func (s *Outbox) OnOwed(fn func()) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.onOwed = append(s.onOwed, fn)
}

// owed tells OnOwed's functions that something new is owed to Slack.
func (s *core) owed() {
	s.mu.Lock()
	fns := s.onOwed
	s.mu.Unlock()
	for _, fn := range fns {
		fn()
	}
}

// RedrawCard bumps a pending request's card version so the outbox posts
// the card again, as it is now. A click on a card drawn before cards
// carried their version is refused; this gives the clicker one that does.
// Only a click from the card itself (card's channel and ts) redraws it.
func (s *Outbox) RedrawCard(ctx context.Context, id string, card Card, now time.Time) error {
	if _, err := s.exec(ctx, `UPDATE requests SET card_version = card_version + 1, updated_at = ?
		WHERE id = ? AND state = ? AND channel_id = ? AND card_ts = ? AND card_ts <> ''`,
		ms(now), id, leave.Pending, card.ChannelID, card.TS); err != nil {
		return fmt.Errorf("redraw card: %w", err)
	}
	s.owed() // the card, drawn again
	return nil
}
