package store

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"time"
)

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
func (s *Directory) ReplaceDirectory(ctx context.Context, entries []DirectoryEntry, now time.Time) error {
	return s.ReplaceNumberDirectory(ctx, DefaultNumber, entries, now)
}

// ReplaceNumberDirectory is ReplaceDirectory for one number's groups;
// other numbers' groups are left alone.
func (s *Directory) ReplaceNumberDirectory(ctx context.Context, number string, entries []DirectoryEntry, now time.Time) error {
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
func (s *Directory) Directory(ctx context.Context) ([]DirectoryEntry, error) {
	return s.NumbersDirectory(ctx, DefaultNumber)
}

// NumbersDirectory returns the groups of the numbers named (every
// number's when none is), by subject (case ignored), then JID, then
// number: a group two numbers are in is listed once for each.
func (s *Directory) NumbersDirectory(ctx context.Context, numbers ...string) ([]DirectoryEntry, error) {
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
func (s *Directory) DirectoryGroup(ctx context.Context, jid string) (e DirectoryEntry, ok bool, err error) {
	return s.NumberDirectoryGroup(ctx, DefaultNumber, jid)
}

// NumberDirectoryGroup is DirectoryGroup for one number.
func (s *Directory) NumberDirectoryGroup(ctx context.Context, number, jid string) (e DirectoryEntry, ok bool, err error) {
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
func (s *Directory) DirectoryRefreshed(ctx context.Context) (time.Time, error) {
	return s.NumberDirectoryRefreshed(ctx, DefaultNumber)
}

// NumberDirectoryRefreshed is DirectoryRefreshed for one number.
func (s *Directory) NumberDirectoryRefreshed(ctx context.Context, number string) (time.Time, error) {
	v, err := s.meta(ctx, directoryRefreshedKey(number))
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
func (s *Directory) RemoveFromDirectory(ctx context.Context, jid string) error {
	return s.RemoveFromNumberDirectory(ctx, DefaultNumber, jid)
}

// RemoveFromNumberDirectory is RemoveFromDirectory for one number: the
// group stays in the directories of the other numbers in it.
func (s *Directory) RemoveFromNumberDirectory(ctx context.Context, number, jid string) error {
	if _, err := s.exec(ctx, `DELETE FROM directory WHERE number = ? AND jid = ?`, number, jid); err != nil {
		return fmt.Errorf("remove from directory: %w", err)
	}
	return nil
}
