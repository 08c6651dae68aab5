package bot

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"time"

	"github.com/riverqueue/river"
	"github.com/slack-go/slack"

	"github.com/waleave/waleave/leave"
	"github.com/waleave/waleave/store"
	"github.com/waleave/waleave/templates"
	"github.com/waleave/waleave/whatsapp"
)

// A stale scan (/wa-leave bulk --stale <age> [<filter>]) finds the
// groups where the last message is older than the age, as far as the
// gateway can tell. That takes one gateway call per group, and at Green
// API's 1 call a second a few hundred groups take minutes, so the
// command only records the scan and its candidate groups, with a River
// job, and answers at once. The job checks the groups in order at the
// gateway's pace (the client's limiter paces the calls), records each
// answer as it comes, so a crash or a restart resumes at the first group
// not yet checked, and shows its progress in one Slack message. At the
// end that message becomes the bulk card of the stale groups (the scan's
// ID is the bulk request's), with the groups whose last activity cannot
// be told listed apart and not included; when no group is stale, it
// says so and has nothing to confirm.

// staleScanArgs is the River job that runs one scan.
type staleScanArgs struct {
	ScanID string `json:"scan_id"`
}

// Kind names the job in River's table.
func (staleScanArgs) Kind() string { return staleScanKind }

const staleScanKind = "stale_scan"

const (
	// scanRunTimeout bounds one run of a scan job. A scan of hundreds of
	// groups takes many runs: each checks groups until the next check
	// might not fit, then snoozes to continue at once (see scanGroups).
	// Runs stay under River's rescue of stuck jobs (a minute and ten
	// seconds), so a run is never taken for dead while it works.
	scanRunTimeout = 50 * time.Second
	// scanProgressEvery is the least time between two redraws of a
	// scan's progress: within "at most once a second", and within what
	// Slack allows for chat.update on one message over minutes.
	scanProgressEvery = 2 * time.Second
	// scanMessage is what the scan's own post is, in its metadata (see
	// postTag). The post becomes the bulk request's card, whose ID is
	// the scan's, so it is tagged as that card: a lost answer to it is
	// found again like a card's.
	scanMessage = cardMessage
)

// staleBulkMaker makes the bulk request of a finished scan's stale
// groups: its parent, with the scan's ID and the scan's message as its
// card, and a child per stale group, in one transaction that also runs
// done (which ends the scan, so that a scan ends in one bulk request at
// most). unknown are the groups whose last activity could not be told,
// which the card lists apart.
type staleBulkMaker interface {
	makeStaleBulk(ctx context.Context, sc *store.Scan, stale, unknown []store.ScanGroup, done store.Enqueue) error
}

// makeStaleBulk is not available until bulk requests are: see the
// report; the scan's tests use their own maker.
func (b *Bot) makeStaleBulk(context.Context, *store.Scan, []store.ScanGroup, []store.ScanGroup, store.Enqueue) error {
	return errors.New("bulk requests are not available")
}

// staleScanWorker runs scans.
type staleScanWorker struct {
	river.WorkerDefaults[staleScanArgs]
	b *Bot
}

// Timeout is one run's deadline (scanRunTimeout).
func (w *staleScanWorker) Timeout(*river.Job[staleScanArgs]) time.Duration {
	return scanRunTimeout
}

// Work runs one run of a scan: it checks the groups not checked yet,
// in order, until they are all checked (and ends the scan) or the run's
// time is nearly up (and comes back at once).
func (w *staleScanWorker) Work(ctx context.Context, job *river.Job[staleScanArgs]) error {
	b := w.b
	sc, err := b.store.Scan(ctx, job.Args.ScanID)
	switch {
	case errors.Is(err, store.ErrScanNotFound):
		return nil // removed by retention
	case err != nil:
		return err
	case sc.State != store.ScanScanning:
		return nil // ended by an earlier run
	}
	groups, err := b.store.ScanGroups(ctx, sc.ID)
	if err != nil {
		return err
	}
	if stop, err := b.showScan(ctx, sc, groups, false); err != nil || stop {
		return err
	}
	n := b.num(sc.Number)
	for i := range groups {
		g := &groups[i]
		if g.Result != store.ScanUnchecked {
			continue
		}
		if d, ok := ctx.Deadline(); ok && time.Until(d) < b.opts.GatewayTimeout+5*time.Second {
			// The next check might not fit in this run: the next run,
			// at once, continues with this group.
			if _, err := b.showScan(ctx, sc, groups, false); err != nil {
				return err
			}
			return river.JobSnooze(0)
		}
		callCtx, cancel := context.WithTimeout(ctx, b.opts.GatewayTimeout)
		at, err := n.Gateway.LastActivity(callCtx, g.JID)
		cancel()
		b.countGateway(n, "last_activity", err)
		if ctx.Err() != nil {
			return ctx.Err() // stopping: the group is checked again next run
		}
		result, why := scanResult(sc, at, err)
		switch {
		case err != nil && whatsapp.Transient(err):
			tries, terr := b.store.ScanTried(ctx, sc.ID, g.Seq)
			if terr != nil {
				return terr
			}
			if tries < b.opts.MaxAttempts {
				wait, ok := whatsapp.RetryAfter(err)
				if !ok {
					wait = backoff(b.opts.Backoff, tries)
				}
				b.log.Info("stale scan: gateway check failed; trying again", "scan", sc.ID, "group", g.JID, "tries", tries, "retry_in", wait, "err", err)
				return river.JobSnooze(wait)
			}
			result, why = store.ScanUnknown, templates.StaleWhyNoAnswer
		case err != nil && instanceTrouble(err):
			return b.failScan(ctx, sc, groups, err)
		}
		if err := b.store.RecordScanResult(ctx, sc.ID, g.Seq, result, at, why, b.opts.Now()); err != nil {
			return err
		}
		g.Result, g.LastActivity, g.Detail = result, at, why
		if stop, err := b.showScan(ctx, sc, groups, false); err != nil || stop {
			return err
		}
	}
	return b.finishScan(ctx, sc, groups)
}

// scanResult is what one check found: stale when the last message is
// before the scan's cutoff, recent when it is not, unknown (and why) when
// the gateway cannot tell. A failure that stops the check is decided by
// the caller; the rest count as "cannot tell".
func scanResult(sc *store.Scan, at time.Time, err error) (store.ScanResult, string) {
	switch {
	case err == nil && at.IsZero():
		return store.ScanUnknown, templates.StaleWhyNoHistory
	case err == nil && at.Before(sc.Cutoff):
		return store.ScanStale, ""
	case err == nil:
		return store.ScanRecent, ""
	case errors.Is(err, whatsapp.ErrNotMember):
		return store.ScanUnknown, templates.StaleWhyNotMember
	}
	return store.ScanUnknown, templates.StaleWhyRefused
}

// instanceTrouble reports whether a check failed for a reason that holds
// for every group (the credentials, the connection, the plan): the scan
// stops rather than calling every other group "cannot tell".
func instanceTrouble(err error) bool {
	return errors.Is(err, whatsapp.ErrUnauthorized) || errors.Is(err, whatsapp.ErrNotConnected) ||
		errors.Is(err, whatsapp.ErrQuota) || errors.Is(err, whatsapp.ErrNotSupported)
}

// failScan ends a scan the gateway will not let go on, and says why in
// its message.
func (b *Bot) failScan(ctx context.Context, sc *store.Scan, groups []store.ScanGroup, cause error) error {
	reason := templates.StaleStopReason(leave.OutcomeOf(cause, leave.StepLeave))
	b.log.Warn("stale scan stopped: the gateway refused", "scan", sc.ID, "err", cause)
	sc.State, sc.Failure = store.ScanFailed, reason
	if _, err := b.showScan(ctx, sc, groups, true); err != nil {
		return err
	}
	_, err := b.store.EndScan(ctx, sc.ID, store.ScanFailed, "", reason, b.opts.Now())
	return err
}

// finishScan ends a scan whose groups are all checked: with a bulk
// request of its stale groups, whose card takes the place of the scan's
// message, or, when none is stale, with the message saying so.
func (b *Bot) finishScan(ctx context.Context, sc *store.Scan, groups []store.ScanGroup) error {
	var stale, unknown []store.ScanGroup
	for _, g := range groups {
		switch g.Result {
		case store.ScanStale:
			stale = append(stale, g)
		case store.ScanUnknown:
			unknown = append(unknown, g)
		}
	}
	if len(stale) == 0 {
		sc.State = store.ScanDone
		if _, err := b.showScan(ctx, sc, groups, true); err != nil {
			return err
		}
		_, err := b.store.EndScan(ctx, sc.ID, store.ScanDone, "", "", b.opts.Now())
		return err
	}
	if sc.MessageTS == "" {
		// Its message is what the card replaces; without one (Slack was
		// down all along) the card is posted on its own.
		b.log.Info("stale scan ends without its progress message; the card is posted anew", "scan", sc.ID)
	}
	err := b.staleBulk.makeStaleBulk(ctx, sc, stale, unknown, b.store.ScanDoneTx(sc.ID, sc.ID, b.opts.Now()))
	if errors.Is(err, store.ErrScanEnded) {
		return nil // an earlier run made it
	}
	if err != nil {
		return fmt.Errorf("stale scan %s: make the bulk request: %w", sc.ID, err)
	}
	b.log.Info("stale scan done", "scan", sc.ID, "groups", len(groups), "stale", len(stale), "unknown", len(unknown))
	return nil
}

// staleScanView is what the scan's message shows of sc and its groups.
func (b *Bot) staleScanView(sc *store.Scan, groups []store.ScanGroup) templates.StaleScan {
	v := templates.StaleScan{
		ScanID: sc.ID, RequesterID: sc.RequesterID, Idle: sc.Idle, Filter: sc.Filter, Total: len(groups),
		Done: sc.State == store.ScanDone, Failed: sc.State == store.ScanFailed, Failure: sc.Failure,
		DryRun: b.num(sc.Number).dryRun,
	}
	for _, g := range groups {
		if g.Result != store.ScanUnchecked {
			v.Checked++
		}
		switch g.Result {
		case store.ScanStale:
			v.Stale++
		case store.ScanUnknown:
			v.Unknown = append(v.Unknown, templates.StaleGroup{JID: g.JID, Subject: g.Subject, Why: g.Detail})
		}
	}
	return v
}

// showScan brings the scan's Slack message up to date: it posts it when
// it is not out yet, and redraws it when what it shows has changed and
// the last redraw is scanProgressEvery old (always, with final). A
// progress redraw that fails is left for the next one; stop reports
// that the scan was ended because Slack refuses its message (the bot is
// not in the channel), and the requester was told.
func (b *Bot) showScan(ctx context.Context, sc *store.Scan, groups []store.ScanGroup, final bool) (stop bool, err error) {
	v := b.staleScanView(sc, groups)
	now := b.opts.Now()
	if sc.MessageTS != "" && !final && (v.Checked == sc.ShownChecked || now.Sub(sc.ShownAt) < scanProgressEvery) {
		return false, nil
	}
	opts := []slack.MsgOption{slack.MsgOptionBlocks(templates.StaleScanBlocks(v)...), slack.MsgOptionText(templates.StaleScanText(v), false)}
	ts := sc.MessageTS
	if ts == "" && !sc.PostingAt.IsZero() {
		// An earlier post's answer was lost: the message may be in the
		// channel already.
		if ts, err = b.outbox.findPost(ctx, &store.Request{ID: sc.ID}, scanMessage, sc.ChannelID, "", sc.PostingAt); err != nil {
			return false, b.scanSlackTrouble(sc, final, err)
		}
		if ts != "" {
			if err := b.store.ScanPosted(ctx, sc.ID, ts); err != nil {
				return false, err
			}
			sc.MessageTS = ts
		}
	}
	if ts == "" {
		if err := b.store.ScanPostUnderWay(ctx, sc.ID, now); err != nil {
			return false, err
		}
		sc.PostingAt = now
		_, ts, err = b.slack.PostMessageContext(ctx, sc.ChannelID, append(opts, postTag(sc.ID, scanMessage))...)
		b.countSlack("chat.postMessage", err)
		if err != nil {
			var rl *slack.RateLimitedError
			if errors.As(err, &rl) || slackErrorCode(err) != "" {
				// Slack answered: the message is certainly not there.
				_ = b.store.ScanPostUnderWay(ctx, sc.ID, time.Time{})
				sc.PostingAt = time.Time{}
			}
			if slackTroubleOf(err) == slackRefused {
				return true, b.scanUndeliverable(ctx, sc, err)
			}
			return false, b.scanSlackTrouble(sc, final, err)
		}
		if err := b.store.ScanPosted(ctx, sc.ID, ts); err != nil {
			return false, err
		}
		sc.MessageTS, sc.PostingAt = ts, time.Time{}
	} else {
		_, _, _, err = b.slack.UpdateMessageContext(ctx, sc.ChannelID, ts, opts...)
		b.countSlack("chat.update", err)
		if err != nil && slackTroubleOf(err) != slackRefused {
			return false, b.scanSlackTrouble(sc, final, err)
		}
		if err != nil {
			// The message was deleted, or the channel archived: the scan
			// goes on, and its card is posted anew at the end.
			b.log.Warn("slack refused a scan progress update", "scan", sc.ID, "err", err)
		}
	}
	if err := b.store.ScanShown(ctx, sc.ID, v.Checked, now); err != nil {
		return false, err
	}
	sc.ShownChecked, sc.ShownAt = v.Checked, now
	return false, nil
}

// scanSlackTrouble is what a failed Slack call means for the scan: the
// final message must go out (the job tries again), a progress redraw can
// wait for the next one.
func (b *Bot) scanSlackTrouble(sc *store.Scan, final bool, err error) error {
	if final {
		return fmt.Errorf("stale scan %s: show the end: %w", sc.ID, err)
	}
	b.log.Warn("stale scan progress not shown; the scan goes on", "scan", sc.ID, "err", err)
	return nil
}

// scanUndeliverable ends a scan whose message Slack refuses to post
// (the bot is not in the channel): the requester is told through the
// command's response_url, as for a card.
func (b *Bot) scanUndeliverable(ctx context.Context, sc *store.Scan, cause error) error {
	text := templates.CardRefused()
	if notInChannel(cause) {
		text = templates.NotInChannel()
	}
	b.log.Warn("slack refused a stale scan's message; the scan is stopped", "scan", sc.ID, "channel", sc.ChannelID, "err", cause)
	if sc.ResponseURL != "" {
		if err := postResponse(ctx, sc.ResponseURL, &slack.WebhookMessage{ResponseType: slack.ResponseTypeEphemeral, Text: text}); err != nil {
			b.log.Warn("could not tell the requester why the scan stopped", "scan", sc.ID, "err", err)
		}
	}
	_, err := b.store.EndScan(ctx, sc.ID, store.ScanFailed, "", "slack refused the scan's message: "+cause.Error(), b.opts.Now())
	return err
}

// staleScan is a /wa-leave bulk --stale command, parsed and checked:
// who asked where, the number whose groups are scanned, the age and
// filter, what the bulk request will carry (goodbye, run time), and the
// candidate groups in the order they are checked.
type staleScan struct {
	TeamID, ChannelID, UserID, ResponseURL, TZ string
	Number                                     *number
	Idle                                       time.Duration
	Filter                                     string
	Goodbye                                    string
	RunAt                                      time.Time
	Groups                                     []store.DirectoryEntry
}

// scanPerGroup is how long a scan takes per group at worst: Green API's
// 1 call a second for its history, less the client's margin.
const scanPerGroup = 1112 * time.Millisecond

// startStaleScan records a scan of s.Groups with its job, in one
// transaction, and returns the answer for the requester: the scan runs
// in the background and shows its progress in the channel. It also
// returns the scan's ID, which will be its bulk request's.
func (b *Bot) startStaleScan(ctx context.Context, s staleScan) (id, reply string, err error) {
	now := b.opts.Now()
	sc := &store.Scan{
		TeamID: s.TeamID, ChannelID: s.ChannelID, RequesterID: s.UserID, ResponseURL: s.ResponseURL, TZ: s.TZ,
		Number: s.Number.Name, Filter: s.Filter, Idle: s.Idle, Cutoff: now.Add(-s.Idle),
		Goodbye: s.Goodbye, RunAt: s.RunAt, CreatedAt: now,
	}
	groups := make([]store.ScanGroup, len(s.Groups))
	for i, g := range s.Groups {
		groups[i] = store.ScanGroup{JID: g.JID, Subject: g.Subject}
	}
	err = b.store.CreateScan(ctx, sc, groups, func(ctx context.Context, tx *sql.Tx) error {
		_, err := b.jobs.InsertTx(ctx, tx, staleScanArgs{ScanID: sc.ID}, &river.InsertOpts{MaxAttempts: 25})
		return err
	})
	if err != nil {
		return "", "", fmt.Errorf("record stale scan: %w", err)
	}
	b.log.Info("stale scan recorded", "scan", sc.ID, "user", s.UserID, "channel", s.ChannelID, "number", s.Number.Name, "groups", len(groups), "idle", s.Idle)
	text := templates.StaleScanStarted(len(groups), s.Idle, s.Filter, time.Duration(len(groups))*scanPerGroup)
	if s.Number.dryRun {
		text = templates.DryRun(text)
	}
	return sc.ID, text, nil
}
