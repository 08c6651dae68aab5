package store

import (
	"context"
	"database/sql"
	"fmt"
	"time"
)

// ClaimOutbox returns up to limit requests that owe Slack a card post, a
// card update or an outcome reply, oldest first, and leases them until
// now+lease so that another poster (another replica, or this one's next
// scan) leaves them alone while they are being sent. A lease that runs out
// (the poster died) makes the row eligible again.
func (s *DB) ClaimOutbox(ctx context.Context, now time.Time, lease time.Duration, limit int) ([]*Request, error) {
	var out []*Request
	err := s.inTx(ctx, func(tx *sql.Tx) error {
		rows, err := tx.QueryContext(ctx, `SELECT `+requestColumns+` FROM requests
			WHERE (card_version > card_posted_version OR reply_needed = 1) AND outbox_lease < ?
			ORDER BY updated_at, id LIMIT ?`, ms(now), limit)
		if err != nil {
			return fmt.Errorf("claim outbox: %w", err)
		}
		defer rows.Close()
		for rows.Next() {
			r, err := scanRequest(rows)
			if err != nil {
				return fmt.Errorf("claim outbox: %w", err)
			}
			out = append(out, r)
		}
		if err := rows.Err(); err != nil {
			return fmt.Errorf("claim outbox: %w", err)
		}
		rows.Close()
		until := ms(now.Add(lease))
		for _, r := range out {
			if _, err := tx.ExecContext(ctx, `UPDATE requests SET outbox_lease = ? WHERE id = ?`, until, r.ID); err != nil {
				return fmt.Errorf("claim outbox: %w", err)
			}
		}
		return nil
	})
	return out, err
}

// CardPosted records that version of the request's card is in Slack at
// ts, and releases the outbox lease.
func (s *DB) CardPosted(ctx context.Context, id, ts string, version int) error {
	_, err := s.write.ExecContext(ctx, `UPDATE requests SET card_ts = ?,
		card_posted_version = MAX(card_posted_version, ?), outbox_lease = 0 WHERE id = ?`, ts, version, id)
	if err != nil {
		return fmt.Errorf("record card post: %w", err)
	}
	return nil
}

// ReplyPosted records that the outcome reply is in the card's thread.
func (s *DB) ReplyPosted(ctx context.Context, id, ts string) error {
	_, err := s.write.ExecContext(ctx, `UPDATE requests SET reply_needed = 0, reply_ts = ?, outbox_lease = 0 WHERE id = ?`, ts, id)
	if err != nil {
		return fmt.Errorf("record reply post: %w", err)
	}
	return nil
}

// RetryOutboxAt releases the request's lease so that it is claimed again
// at the given time (after a Slack rate limit or outage).
func (s *DB) RetryOutboxAt(ctx context.Context, id string, at time.Time) error {
	_, err := s.write.ExecContext(ctx, `UPDATE requests SET outbox_lease = ? WHERE id = ?`, ms(at), id)
	if err != nil {
		return fmt.Errorf("reschedule outbox: %w", err)
	}
	return nil
}

// DropOutbox gives up on Slack delivery for a request (the channel is gone
// or the bot was removed), so the outbox does not retry it forever.
func (s *DB) DropOutbox(ctx context.Context, id string) error {
	_, err := s.write.ExecContext(ctx, `UPDATE requests SET card_posted_version = card_version, reply_needed = 0, outbox_lease = 0 WHERE id = ?`, id)
	if err != nil {
		return fmt.Errorf("drop outbox: %w", err)
	}
	return nil
}
