package store

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"time"
)

// Scans is the store of stale-group scans (/wa-leave bulk --stale): each
// scan, its candidate groups and what their checks found.
type Scans struct{ *core }

// Scans returns the stale scans' store.
func (s *DB) Scans() *Scans { return &Scans{s.core} }

// ScanState is where a stale-group scan is. The values are stored.
type ScanState string

// The states of a scan.
const (
	// ScanScanning: groups are still being checked.
	ScanScanning ScanState = "scanning"
	// ScanDone: every group was checked; RequestID names the bulk
	// request made of the stale ones ("" when none was stale).
	ScanDone ScanState = "done"
	// ScanFailed: the gateway refused to go on (the instance is not
	// connected, its token is wrong, …); Failure says why.
	ScanFailed ScanState = "failed"
)

// ScanResult is what a scan found out about one group. The values are
// stored.
type ScanResult string

// The results of a group's check.
const (
	// ScanUnchecked: not checked yet.
	ScanUnchecked ScanResult = ""
	// ScanStale: its last message is older than the scan's age.
	ScanStale ScanResult = "stale"
	// ScanRecent: it had a message within the age.
	ScanRecent ScanResult = "recent"
	// ScanUnknown: the gateway cannot tell when it last had a message
	// (no history, not a member any more, no answer after retries).
	ScanUnknown ScanResult = "unknown"
)

// Scan is a stale-group scan (/wa-leave bulk --stale <age>): who asked,
// for which groups and age, and how far it got. Its ID is also the ID of
// the bulk request it ends in, and its Slack message (the progress)
// becomes that request's card.
type Scan struct {
	ID          string
	TeamID      string
	ChannelID   string
	RequesterID string
	UserName    string
	ResponseURL string
	// Command is the command as typed; the bulk request is recorded from
	// it at the end (its goodbye, time and options).
	Command string
	Number  string
	// Filter is the name filter the groups were chosen by ("" = all).
	Filter string
	// Idle is the age asked for; Cutoff is the scan's start less Idle:
	// a group whose last message is before Cutoff is stale.
	Idle    time.Duration
	Cutoff  time.Time
	State   ScanState
	Failure string
	// MessageTS is the Slack message showing the progress; PostingAt is
	// when its post began, while the answer is not in (a lost answer is
	// looked for before posting again).
	MessageTS string
	PostingAt time.Time
	// ShownChecked is how many checked groups the message shows (-1:
	// none yet), ShownAt when it was last drawn: the progress is redrawn
	// at most once per scanProgressEvery.
	ShownChecked int
	ShownAt      time.Time
	RequestID    string
	CreatedAt    time.Time
	UpdatedAt    time.Time
}

// ScanGroup is one candidate group of a scan and what its check found.
type ScanGroup struct {
	Seq          int
	JID          string
	Subject      string
	Result       ScanResult
	LastActivity time.Time
	// Detail says why the result is unknown.
	Detail    string
	Tries     int
	CheckedAt time.Time
}

// ErrScanNotFound: no scan has that ID.
var ErrScanNotFound = errors.New("scan not found")

const scanColumns = `id, team_id, channel_id, requester_id, user_name, response_url, command, number, filter,
	idle_seconds, cutoff, state, failure, message_ts, posting_at, shown_checked,
	shown_at, request_id, created_at, updated_at`

// CreateScan records a new scan (state scanning) and its groups, in
// order, and runs enqueue (the scan's job) in the same transaction.
func (s *Scans) CreateScan(ctx context.Context, sc *Scan, groups []ScanGroup, enqueue Enqueue) error {
	if sc.ID == "" {
		sc.ID = NewID()
	}
	if sc.Number == "" {
		sc.Number = DefaultNumber
	}
	sc.State, sc.ShownChecked = ScanScanning, -1
	if sc.UpdatedAt.IsZero() {
		sc.UpdatedAt = sc.CreatedAt
	}
	return s.inTx(ctx, func(tx dbTx) error {
		_, err := tx.exec(ctx, `INSERT INTO stale_scans (`+scanColumns+`)
			VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`,
			sc.ID, sc.TeamID, sc.ChannelID, sc.RequesterID, sc.UserName, sc.ResponseURL, sc.Command, sc.Number, sc.Filter,
			int64(sc.Idle/time.Second), ms(sc.Cutoff), string(sc.State), "", "", 0, sc.ShownChecked,
			0, "", ms(sc.CreatedAt), ms(sc.UpdatedAt))
		if err != nil {
			return fmt.Errorf("insert scan: %w", err)
		}
		for i, g := range groups {
			if _, err := tx.exec(ctx, `INSERT INTO stale_scan_groups (scan_id, seq, jid, subject) VALUES (?, ?, ?, ?)`,
				sc.ID, i, g.JID, g.Subject); err != nil {
				return fmt.Errorf("insert scan group: %w", err)
			}
		}
		if enqueue != nil {
			return enqueue(ctx, tx.Tx)
		}
		return nil
	})
}

// Scan returns the scan with the given ID, or ErrScanNotFound.
func (s *Scans) Scan(ctx context.Context, id string) (*Scan, error) {
	var sc Scan
	var idle, cutoff, postingAt, shownAt, created, updated int64
	var state string
	err := s.queryRow(ctx, `SELECT `+scanColumns+` FROM stale_scans WHERE id = ?`, id).Scan(
		&sc.ID, &sc.TeamID, &sc.ChannelID, &sc.RequesterID, &sc.UserName, &sc.ResponseURL, &sc.Command, &sc.Number, &sc.Filter,
		&idle, &cutoff, &state, &sc.Failure, &sc.MessageTS, &postingAt, &sc.ShownChecked,
		&shownAt, &sc.RequestID, &created, &updated)
	if errors.Is(err, sql.ErrNoRows) {
		return nil, ErrScanNotFound
	}
	if err != nil {
		return nil, fmt.Errorf("get scan %s: %w", id, err)
	}
	sc.Idle, sc.Cutoff, sc.State = time.Duration(idle)*time.Second, fromMS(cutoff), ScanState(state)
	sc.PostingAt, sc.ShownAt, sc.CreatedAt, sc.UpdatedAt = fromMS(postingAt), fromMS(shownAt), fromMS(created), fromMS(updated)
	return &sc, nil
}

// ScanGroups lists a scan's groups in their order, with what each check
// found so far.
func (s *Scans) ScanGroups(ctx context.Context, id string) ([]ScanGroup, error) {
	rows, err := s.queryRows(ctx, `SELECT seq, jid, subject, result, last_activity, detail, tries, checked_at
		FROM stale_scan_groups WHERE scan_id = ? ORDER BY seq`, id)
	if err != nil {
		return nil, fmt.Errorf("scan groups %s: %w", id, err)
	}
	defer rows.Close()
	var out []ScanGroup
	for rows.Next() {
		var g ScanGroup
		var result string
		var last, checked int64
		if err := rows.Scan(&g.Seq, &g.JID, &g.Subject, &result, &last, &g.Detail, &g.Tries, &checked); err != nil {
			return nil, fmt.Errorf("scan groups %s: %w", id, err)
		}
		g.Result, g.LastActivity, g.CheckedAt = ScanResult(result), fromMS(last), fromMS(checked)
		out = append(out, g)
	}
	return out, rows.Err()
}

// RecordScanResult records what the check of a scan's group seq found,
// unless it was recorded already (a run that resumed after a crash may
// check a group whose answer was stored just before it).
func (s *Scans) RecordScanResult(ctx context.Context, id string, seq int, result ScanResult, last time.Time, detail string, now time.Time) error {
	_, err := s.exec(ctx, `UPDATE stale_scan_groups SET result = ?, last_activity = ?, detail = ?, checked_at = ?
		WHERE scan_id = ? AND seq = ? AND result = ''`, string(result), ms(last), detail, ms(now), id, seq)
	if err != nil {
		return fmt.Errorf("record scan result: %w", err)
	}
	return nil
}

// ScanTried counts a failed try of a scan group's check and returns how
// many there have been.
func (s *Scans) ScanTried(ctx context.Context, id string, seq int) (int, error) {
	var tries int
	err := s.inTx(ctx, func(tx dbTx) error {
		if _, err := tx.exec(ctx, `UPDATE stale_scan_groups SET tries = tries + 1 WHERE scan_id = ? AND seq = ?`, id, seq); err != nil {
			return err
		}
		return tx.queryRow(ctx, `SELECT tries FROM stale_scan_groups WHERE scan_id = ? AND seq = ?`, id, seq).Scan(&tries)
	})
	if err != nil {
		return 0, fmt.Errorf("count scan try: %w", err)
	}
	return tries, nil
}

// ScanPostUnderWay marks the scan's Slack message as being posted (at),
// or clears the mark (a zero at) when Slack refused it.
func (s *Scans) ScanPostUnderWay(ctx context.Context, id string, at time.Time) error {
	_, err := s.exec(ctx, `UPDATE stale_scans SET posting_at = ? WHERE id = ?`, ms(at), id)
	if err != nil {
		return fmt.Errorf("mark scan post: %w", err)
	}
	return nil
}

// ScanPosted records the scan's Slack message.
func (s *Scans) ScanPosted(ctx context.Context, id, ts string) error {
	_, err := s.exec(ctx, `UPDATE stale_scans SET message_ts = ?, posting_at = 0 WHERE id = ? AND message_ts = ''`, ts, id)
	if err != nil {
		return fmt.Errorf("record scan post: %w", err)
	}
	return nil
}

// ScanShown records that the scan's message shows checked groups as of
// at: the progress throttle, kept in the table so that it holds for
// whichever process runs the scan next.
func (s *Scans) ScanShown(ctx context.Context, id string, checked int, at time.Time) error {
	_, err := s.exec(ctx, `UPDATE stale_scans SET shown_checked = ?, shown_at = ?, updated_at = ? WHERE id = ?`, checked, ms(at), ms(at), id)
	if err != nil {
		return fmt.Errorf("record scan progress: %w", err)
	}
	return nil
}

// EndScan ends a scan that is still scanning: done (requestID names the
// bulk request made of it, "" when none) or failed (failure says why).
// It reports whether this call ended it.
func (s *Scans) EndScan(ctx context.Context, id string, state ScanState, requestID, failure string, now time.Time) (bool, error) {
	res, err := s.exec(ctx, `UPDATE stale_scans SET state = ?, request_id = ?, failure = ?, updated_at = ?
		WHERE id = ? AND state = ?`, string(state), requestID, failure, ms(now), id, string(ScanScanning))
	if err != nil {
		return false, fmt.Errorf("end scan: %w", err)
	}
	n, err := res.RowsAffected()
	return n == 1, err
}

// ErrScanEnded: the scan was no longer scanning (another run ended it).
var ErrScanEnded = errors.New("the scan has ended already")

// ScanDoneTx is an Enqueue that ends a scan as done, naming the bulk
// request made of it, in the transaction that records that request: the
// request and the scan's end commit together, or neither does. cardTS,
// when set, is the scan's message, which becomes the request's card (the
// outbox then redraws it as the card). It fails with ErrScanEnded when
// the scan has ended already.
func (s *Scans) ScanDoneTx(id, requestID, cardTS string, now time.Time) Enqueue {
	return func(ctx context.Context, tx *sql.Tx) error {
		t := dbTx{Tx: tx, dialect: s.dialect}
		res, err := t.exec(ctx, `UPDATE stale_scans SET state = ?, request_id = ?, updated_at = ?
			WHERE id = ? AND state = ?`, string(ScanDone), requestID, ms(now), id, string(ScanScanning))
		if err != nil {
			return fmt.Errorf("end scan: %w", err)
		}
		if n, err := res.RowsAffected(); err != nil || n != 1 {
			return errors.Join(ErrScanEnded, err)
		}
		if cardTS != "" {
			if _, err := t.exec(ctx, `UPDATE requests SET card_ts = ? WHERE id = ? AND card_ts = ''`, cardTS, requestID); err != nil {
				return fmt.Errorf("card of scan %s: %w", id, err)
			}
		}
		return nil
	}
}
