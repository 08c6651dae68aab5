package store

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/waleave/waleave/leave"
)

// ErrNotOffered is returned by SetSuccessor for a participant that the
// card did not offer: a select's value comes from the client, so it is
// checked against what was stored rather than trusted.
var ErrNotOffered = errors.New("participant was not offered as successor")

// DefaultNumber names the one WhatsApp number of a bot configured
// without WA_INSTANCES, and every request and directory row made before
// there could be several.
const DefaultNumber = "default"

// DirectoryEntry is one group in the directory.
type DirectoryEntry struct {
	// Number is the WhatsApp number that is in the group.
	Number  string
	JID     string
	Subject string
	// LastSeen is when the gateway last listed the group.
	LastSeen time.Time
}

// directoryRefreshedKey is the meta key holding when the directory was
// last replaced by a successful listing: the default number's key is the
// one it had before there were several.
func directoryRefreshedKey(number string) string {
	if number == DefaultNumber {
		return "directory_refreshed_at"
	}
	return "directory_refreshed_at:" + number
}

// ReplaceDirectory makes entries the whole directory, as listed at now:
// listed groups are inserted or updated, groups no longer listed are
// dropped (the instance has left them). Only a successful listing should
// be passed: a failed one must leave the previous directory alone, so
// the caller simply does not call this.
func (s *DB) ReplaceDirectory(ctx context.Context, entries []DirectoryEntry, now time.Time) error {
	return s.ReplaceNumberDirectory(ctx, DefaultNumber, entries, now)
}

// ReplaceNumberDirectory is ReplaceDirectory for one number's groups;
// other numbers' groups are left alone.
func (s *DB) ReplaceNumberDirectory(ctx context.Context, number string, entries []DirectoryEntry, now time.Time) error {
	return s.inTx(ctx, func(tx dbTx) error {
		// Readers use another connection and see the old directory or the
		// new one, never a mix: the swap is one transaction.
		if tx.dialect == PostgreSQL {
			// Two replicas refreshing at once would otherwise interleave
			// their deletes and inserts into a union of both listings;
			// EXCLUSIVE still lets plain reads through.
			if _, err := tx.exec(ctx, `LOCK TABLE directory IN EXCLUSIVE MODE`); err != nil {
				return fmt.Errorf("replace directory: %w", err)
			}
		}
		if _, err := tx.exec(ctx, `DELETE FROM directory WHERE number = ?`, number); err != nil {
			return fmt.Errorf("replace directory: %w", err)
		}
		stmt, err := tx.PrepareContext(ctx, tx.dialect.rebind(`INSERT INTO directory (number, jid, subject, last_seen) VALUES (?, ?, ?, ?)
			ON CONFLICT (number, jid) DO UPDATE SET subject = excluded.subject`))
		if err != nil {
			return fmt.Errorf("replace directory: %w", err)
		}
		defer stmt.Close()
		for _, e := range entries {
			if _, err := stmt.ExecContext(ctx, number, e.JID, e.Subject, ms(now)); err != nil {
				return fmt.Errorf("replace directory: %w", err)
			}
		}
		_, err = tx.exec(ctx, `INSERT INTO meta (key, value) VALUES (?, ?) ON CONFLICT (key) DO UPDATE SET value = excluded.value`,
			directoryRefreshedKey(number), strconv.FormatInt(ms(now), 10))
		if err != nil {
			return fmt.Errorf("replace directory: %w", err)
		}
		return nil
	})
}

// Directory returns the default number's groups, by subject (case
// ignored), then JID.
func (s *DB) Directory(ctx context.Context) ([]DirectoryEntry, error) {
	return s.NumbersDirectory(ctx, DefaultNumber)
}

// NumbersDirectory returns the groups of the numbers named (every
// number's when none is), by subject (case ignored), then JID, then
// number: a group two numbers are in is listed once for each.
func (s *DB) NumbersDirectory(ctx context.Context, numbers ...string) ([]DirectoryEntry, error) {
	where, args := "", []any{}
	if len(numbers) > 0 {
		where = ` WHERE number IN (?` + strings.Repeat(", ?", len(numbers)-1) + `)`
		for _, n := range numbers {
			args = append(args, n)
		}
	}
	rows, err := s.queryRows(ctx, `SELECT number, jid, subject, last_seen FROM directory`+where+` ORDER BY lower(subject), jid, number`, args...)
	if err != nil {
		return nil, fmt.Errorf("read directory: %w", err)
	}
	defer rows.Close()
	var out []DirectoryEntry
	for rows.Next() {
		var e DirectoryEntry
		var seen int64
		if err := rows.Scan(&e.Number, &e.JID, &e.Subject, &seen); err != nil {
			return nil, fmt.Errorf("read directory: %w", err)
		}
		e.LastSeen = fromMS(seen)
		out = append(out, e)
	}
	return out, rows.Err()
}

// DirectoryGroup returns the directory's entry for one group; ok is false
// when the group is not in it.
func (s *DB) DirectoryGroup(ctx context.Context, jid string) (e DirectoryEntry, ok bool, err error) {
	return s.NumberDirectoryGroup(ctx, DefaultNumber, jid)
}

// NumberDirectoryGroup is DirectoryGroup for one number.
func (s *DB) NumberDirectoryGroup(ctx context.Context, number, jid string) (e DirectoryEntry, ok bool, err error) {
	var seen int64
	err = s.queryRow(ctx, `SELECT number, jid, subject, last_seen FROM directory WHERE number = ? AND jid = ?`, number, jid).Scan(&e.Number, &e.JID, &e.Subject, &seen)
	if errors.Is(err, sql.ErrNoRows) {
		return DirectoryEntry{}, false, nil
	}
	if err != nil {
		return DirectoryEntry{}, false, fmt.Errorf("read directory: %w", err)
	}
	e.LastSeen = fromMS(seen)
	return e, true, nil
}

// DirectoryRefreshed is when the directory was last replaced; zero when
// it never was.
func (s *DB) DirectoryRefreshed(ctx context.Context) (time.Time, error) {
	return s.NumberDirectoryRefreshed(ctx, DefaultNumber)
}

// NumberDirectoryRefreshed is DirectoryRefreshed for one number.
func (s *DB) NumberDirectoryRefreshed(ctx context.Context, number string) (time.Time, error) {
	v, err := s.Meta(ctx, directoryRefreshedKey(number))
	if err != nil || v == "" {
		return time.Time{}, err
	}
	n, err := strconv.ParseInt(v, 10, 64)
	if err != nil {
		return time.Time{}, fmt.Errorf("read directory time: %w", err)
	}
	return fromMS(n), nil
}

// RemoveFromDirectory drops one group, which the instance has just left,
// so that its name stops resolving before the next refresh.
func (s *DB) RemoveFromDirectory(ctx context.Context, jid string) error {
	return s.RemoveFromNumberDirectory(ctx, DefaultNumber, jid)
}

// RemoveFromNumberDirectory is RemoveFromDirectory for one number: the
// group stays in the directories of the other numbers in it.
func (s *DB) RemoveFromNumberDirectory(ctx context.Context, number, jid string) error {
	if _, err := s.exec(ctx, `DELETE FROM directory WHERE number = ? AND jid = ?`, number, jid); err != nil {
		return fmt.Errorf("remove from directory: %w", err)
	}
	return nil
}

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
func (s *DB) SavePick(ctx context.Context, p Pick) error {
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
func (s *DB) TakePick(ctx context.Context, user, channel, jid string, since time.Time) (*Pick, error) {
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
func (s *DB) SetDetails(ctx context.Context, id string, d Details, now time.Time) (bool, error) {
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
func (s *DB) SetSuccessor(ctx context.Context, id, jid, by string, now time.Time) (*Request, error) {
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
func (s *DB) SetPromoted(ctx context.Context, id, jid, detail string, status int, now time.Time) error {
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
func (s *DB) SetInviteLink(ctx context.Context, id, link string, now time.Time) error {
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
