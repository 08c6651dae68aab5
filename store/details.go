package store

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"time"

	"github.com/waleave/waleave/leave"
)

// ErrNotOffered is returned by SetSuccessor for a participant that the
// card did not offer: a select's value comes from the client, so it is
// checked against what was stored rather than trusted.
var ErrNotOffered = errors.New("participant was not offered as successor")

// Pick is an ambiguous command waiting for its author to pick a group.
type Pick struct {
	UserID    string
	ChannelID string
	// Command is the caller's encoding of what was asked (goodbye, flags).
	Command string
	// Candidates are the group JIDs that were offered.
	Candidates []string
	CreatedAt  time.Time
}

// SavePick stores p, replacing the user's previous pick in that channel:
// only the newest list of candidates can be answered.
func (s *Requests) SavePick(ctx context.Context, p Pick) error {
	_, err := s.exec(ctx, `INSERT INTO group_picks (user_id, channel_id, command, candidates, created_at) VALUES (?, ?, ?, ?, ?)
		ON CONFLICT (user_id, channel_id) DO UPDATE SET command = excluded.command, candidates = excluded.candidates, created_at = excluded.created_at`,
		p.UserID, p.ChannelID, p.Command, encodeJIDs(p.Candidates), ms(p.CreatedAt))
	if err != nil {
		return fmt.Errorf("save pick: %w", err)
	}
	return nil
}

// TakePick returns and deletes the user's pick in channel if jid was one
// of its candidates and it was made at or after since. Taking it deletes
// it, so a double click starts one request. It returns ErrNotFound when
// there is no such pick (none, too old, or jid was not offered in it).
func (s *Requests) TakePick(ctx context.Context, user, channel, jid string, since time.Time) (*Pick, error) {
	var out *Pick
	err := s.inTx(ctx, func(tx dbTx) error {
		p := Pick{UserID: user, ChannelID: channel}
		var candidates string
		var created int64
		// Locked until the delete below, so two replicas handling a
		// double click cannot both take the pick.
		err := tx.queryRow(ctx, `SELECT command, candidates, created_at FROM group_picks WHERE user_id = ? AND channel_id = ?`+tx.dialect.forUpdate(), user, channel).
			Scan(&p.Command, &candidates, &created)
		if errors.Is(err, sql.ErrNoRows) {
			return ErrNotFound
		}
		if err != nil {
			return fmt.Errorf("take pick: %w", err)
		}
		p.Candidates, p.CreatedAt = decodeJIDs(candidates), fromMS(created)
		if p.CreatedAt.Before(since) {
			// Expired: drop it, and say there is nothing to pick.
			if _, err := tx.exec(ctx, `DELETE FROM group_picks WHERE user_id = ? AND channel_id = ?`, user, channel); err != nil {
				return fmt.Errorf("take pick: %w", err)
			}
			out = nil
			return nil
		}
		if !slices.Contains(p.Candidates, jid) {
			return ErrNotFound
		}
		if _, err := tx.exec(ctx, `DELETE FROM group_picks WHERE user_id = ? AND channel_id = ?`, user, channel); err != nil {
			return fmt.Errorf("take pick: %w", err)
		}
		out = &p
		return nil
	})
	if err != nil {
		return nil, err
	}
	if out == nil {
		return nil, ErrNotFound
	}
	return out, nil
}

// Details states: what the card knows about the group.
const (
	// DetailsOK: size and the instance's admin role are known.
	DetailsOK = "ok"
	// DetailsPartial: the gateway answered, but whether the instance is an
	// admin is unknown (its own JID is not known or not in the list).
	DetailsPartial = "partial"
	// DetailsUnavailable: the gateway did not answer in time.
	DetailsUnavailable = "unavailable"
)

// Details is what the gateway told about a request's group.
type Details struct {
	// State is DetailsOK, DetailsPartial or DetailsUnavailable.
	State string
	// Subject replaces the stored subject when not empty.
	Subject    string
	Size       int
	IsAdmin    bool
	OnlyAdmin  bool
	Successors []string
}

// SetDetails stores a pending request's group details and bumps its card
// version, so the card shows them. It applies only while the request is
// pending and has no details yet (or only "unavailable" ones, which a
// late answer may replace), and reports whether it did.
func (s *Requests) SetDetails(ctx context.Context, id string, d Details, now time.Time) (bool, error) {
	res, err := s.exec(ctx, `UPDATE requests SET details_state = ?,
		group_subject = CASE WHEN ? <> '' THEN ? ELSE group_subject END,
		group_size = ?, is_admin = ?, only_admin = ?, successors = ?,
		updated_at = ?, card_version = card_version + 1
		WHERE id = ? AND state = ? AND details_state IN ('', ?)`,
		d.State, d.Subject, d.Subject, d.Size, b2i(d.IsAdmin), b2i(d.OnlyAdmin), encodeJIDs(d.Successors),
		ms(now), id, leave.Pending, DetailsUnavailable)
	if err != nil {
		return false, fmt.Errorf("set details: %w", err)
	}
	n, err := res.RowsAffected()
	if err == nil && n == 1 {
		s.owed() // the card shows them
	}
	return n == 1, err
}

// SetSuccessor records the participant to make admin before leaving,
// chosen by user on a pending card. jid must be one of the request's
// Successors (ErrNotOffered otherwise); a request that is no longer
// pending is refused with ErrConflict.
func (s *Requests) SetSuccessor(ctx context.Context, id, jid, by string, now time.Time) (*Request, error) {
	return s.transition(ctx, id, change{
		from: []leave.State{leave.Pending}, to: leave.Pending, actor: by, action: "successor chosen", detail: jid, now: now,
		set: []string{"successor = ?"}, args: []any{jid},
		check: func(r *Request) error {
			if !r.OnlyAdmin || !slices.Contains(r.Successors, jid) {
				return ErrNotOffered
			}
			if !now.Before(r.ExpiresAt) {
				return ErrExpired
			}
			return nil
		},
	}, nil)
}

// SetPromoted records that the successor was made admin, with an audit
// row, so that a retry does not promote again. The promotion step is
// over, so the next step starts its own attempt count.
func (s *Requests) SetPromoted(ctx context.Context, id, jid, detail string, status int, now time.Time) error {
	return s.inTx(ctx, func(tx dbTx) error {
		if _, err := tx.exec(ctx, `UPDATE requests SET promoted_at = ?, attempts = 0, updated_at = ? WHERE id = ?`, ms(now), ms(now), id); err != nil {
			return fmt.Errorf("set promoted: %w", err)
		}
		if detail == "" {
			detail = jid
		} else {
			detail = jid + ": " + detail
		}
		return s.addAudit(ctx, tx, AuditEntry{RequestID: id, At: now, Actor: "waleave", Action: "successor promoted", Detail: detail, GatewayStatus: status})
	})
}

// SetInviteLink keeps the group's invite link on the request, with an
// audit row holding it, so the group can be rejoined after the leave.
func (s *Requests) SetInviteLink(ctx context.Context, id, link string, now time.Time) error {
	return s.inTx(ctx, func(tx dbTx) error {
		if _, err := tx.exec(ctx, `UPDATE requests SET invite_link = ?, updated_at = ? WHERE id = ?`, link, ms(now), id); err != nil {
			return fmt.Errorf("set invite link: %w", err)
		}
		return s.addAudit(ctx, tx, AuditEntry{RequestID: id, At: now, Actor: "waleave", Action: "invite link kept", Detail: link})
	})
}

// encodeJIDs stores a list of JIDs as a JSON array ("" for none).
func encodeJIDs(jids []string) string {
	if len(jids) == 0 {
		return ""
	}
	b, err := json.Marshal(jids)
	if err != nil {
		return "" // a []string always marshals
	}
	return string(b)
}

// decodeJIDs reads what encodeJIDs wrote; anything unreadable is no list.
func decodeJIDs(s string) []string {
	if s == "" {
		return nil
	}
	var out []string
	if json.Unmarshal([]byte(s), &out) != nil {
		return nil
	}
	return out
}
