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

// scanStore is what stale scans need of the store.
type scanStore interface {
	CreateScan(ctx context.Context, sc *store.Scan, groups []store.ScanGroup, enqueue store.Enqueue) error
	Scan(ctx context.Context, id string) (*store.Scan, error)
	ScanGroups(ctx context.Context, id string) ([]store.ScanGroup, error)
	RecordScanResult(ctx context.Context, id string, seq int, result store.ScanResult, last time.Time, detail string, now time.Time) error
	ScanTried(ctx context.Context, id string, seq int) (int, error)
	ScanPostUnderWay(ctx context.Context, id string, at time.Time) error
	ScanPosted(ctx context.Context, id, ts string) error
	ScanShown(ctx context.Context, id string, checked int, at time.Time) error
	EndScan(ctx context.Context, id string, state store.ScanState, requestID, failure string, now time.Time) (bool, error)
	ScanDoneTx(id, requestID, cardTS string, now time.Time) store.Enqueue
}

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
	// might not fit, then snoozes to continue at once (see Work).
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

// makeStaleBulk records the bulk request of a finished scan's stale
// groups as /wa-leave bulk records one (recordBulk), from the command
// the scan kept: the same number, goodbye, time and checks. The request
// takes the scan's ID, and the scan's message as its card, which the
// outbox then redraws as the bulk card (listing the groups that cannot
// be told apart, see staleNotIncluded); done, which ends the scan,
// commits with it, so a scan ends in one bulk request at most. A
// refusal (the number's allow-list changed, --at passed during the
// scan) is a *scanRefused, and ErrScanEnded means an earlier run made
// the request.
func (b *Bot) makeStaleBulk(ctx context.Context, scan *store.Scan, stale []store.ScanGroup, done store.Enqueue) error {
	cmd, err := ParseCommand(scan.Command)
	if err != nil || cmd.Kind != CommandBulk {
		// Parsed when the scan began; a command that no longer parses
		// (the grammar changed since) is read for its essentials only.
		cmd = Command{Kind: CommandBulk, Stale: scan.Idle, Filter: scan.Filter, From: scan.Number}
	}
	cmd.From = scan.Number
	if len(b.fromNumbers(cmd)) == 0 {
		// The number was taken out of the configuration during the scan.
		return &scanRefused{text: templates.UnknownNumber(scan.Number, b.numberNames())}
	}
	sc := slack.SlashCommand{TeamID: scan.TeamID, ChannelID: scan.ChannelID, UserID: scan.RequesterID, UserName: scan.UserName, ResponseURL: scan.ResponseURL, Text: scan.Command}
	groups := make([]bulkGroup, len(stale))
	for i, g := range stale {
		groups[i] = bulkGroup{number: scan.Number, jid: g.JID, subject: g.Subject}
	}
	var ended error
	_, _, _, no := b.recordBulkAs(ctx, sc, cmd, groups, func(p *store.Request) store.Enqueue {
		p.ID = scan.ID
		return func(ctx context.Context, tx *sql.Tx) error {
			ended = done(ctx, tx)
			return ended
		}
	})
	switch {
	case errors.Is(ended, store.ErrScanEnded):
		return ended
	case no == nil || no.msg == nil:
		return nil
	case no.problem != "":
		return &scanRefused{text: no.problem}
	}
	return &scanRefused{text: no.msg.Text}
}

// scanRefused is a bulk request the end of a scan could not record, with
// the requester's answer.
type scanRefused struct{ text string }

func (e *scanRefused) Error() string { return "bulk request refused: " + e.text }

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
	sc, err := b.scanStore.Scan(ctx, job.Args.ScanID)
	switch {
	case errors.Is(err, store.ErrScanNotFound):
		return nil // removed by retention
	case err != nil:
		return err
	case sc.State != store.ScanScanning:
		return nil // ended by an earlier run
	}
	groups, err := b.scanStore.ScanGroups(ctx, sc.ID)
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
		if d, ok := ctx.Deadline(); b.stopping.Load() || ok && time.Until(d) < b.opts.GatewayTimeout+5*time.Second {
			// The next check might not fit in this run, or the process
			// is stopping: the next run (here at once, or after the
			// restart, or on another replica) continues with this group.
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
			tries, terr := b.scanStore.ScanTried(ctx, sc.ID, g.Seq)
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
		if err := b.scanStore.RecordScanResult(ctx, sc.ID, g.Seq, result, at, why, b.opts.Now()); err != nil {
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
// for every group (the credentials, the connection, the plan, a gateway
// without the history call): the scan stops rather than calling every
// other group "cannot tell".
func instanceTrouble(err error) bool {
	return errors.Is(err, whatsapp.ErrUnauthorized) || errors.Is(err, whatsapp.ErrNotConnected) ||
		errors.Is(err, whatsapp.ErrQuota) || errors.Is(err, whatsapp.ErrNotSupported) ||
		errors.Is(err, whatsapp.ErrWrongEndpoint)
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
	_, err := b.scanStore.EndScan(ctx, sc.ID, store.ScanFailed, "", reason, b.opts.Now())
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
		_, err := b.scanStore.EndScan(ctx, sc.ID, store.ScanDone, "", "", b.opts.Now())
		return err
	}
	if sc.MessageTS == "" {
		// Its message is what the card replaces; without one (Slack was
		// down all along) the card is posted on its own.
		b.log.Info("stale scan ends without its progress message; the card is posted anew", "scan", sc.ID)
	}
	err := b.makeStaleBulk(ctx, sc, stale, b.scanStore.ScanDoneTx(sc.ID, sc.ID, sc.MessageTS, b.opts.Now()))
	var refused *scanRefused
	switch {
	case errors.Is(err, store.ErrScanEnded):
		return nil // an earlier run made it
	case errors.As(err, &refused):
		b.log.Warn("stale scan: its bulk request was refused", "scan", sc.ID, "err", err)
		sc.State, sc.Failure = store.ScanFailed, refused.text
		if _, err := b.showScan(ctx, sc, groups, true); err != nil {
			return err
		}
		_, err := b.scanStore.EndScan(ctx, sc.ID, store.ScanFailed, "", refused.text, b.opts.Now())
		return err
	}
	if err != nil {
		return fmt.Errorf("stale scan %s: make the bulk request: %w", sc.ID, err)
	}
	b.log.Info("stale scan done", "scan", sc.ID, "groups", len(groups), "stale", len(stale), "unknown", len(unknown))
	return nil
}

// staleNotIncluded are the groups the stale scan that made the bulk
// request id could not tell the last activity of, for its card; none
// when the request does not come from a scan.
func (b *Bot) staleNotIncluded(ctx context.Context, id string) ([]templates.StaleGroup, error) {
	groups, err := b.scanStore.ScanGroups(ctx, id)
	if err != nil {
		return nil, err
	}
	var out []templates.StaleGroup
	for _, g := range groups {
		if g.Result == store.ScanUnknown {
			out = append(out, templates.StaleGroup{JID: g.JID, Subject: g.Subject, Why: g.Detail})
		}
	}
	return out, nil
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
			if err := b.scanStore.ScanPosted(ctx, sc.ID, ts); err != nil {
				return false, err
			}
			sc.MessageTS = ts
		}
	}
	if ts == "" {
		if err := b.scanStore.ScanPostUnderWay(ctx, sc.ID, now); err != nil {
			return false, err
		}
		sc.PostingAt = now
		_, ts, err = b.slack.PostMessageContext(ctx, sc.ChannelID, append(opts, postTag(sc.ID, scanMessage))...)
		b.countSlack("chat.postMessage", err)
		if err != nil {
			var rl *slack.RateLimitedError
			if errors.As(err, &rl) || slackErrorCode(err) != "" {
				// Slack answered: the message is certainly not there.
				_ = b.scanStore.ScanPostUnderWay(ctx, sc.ID, time.Time{})
				sc.PostingAt = time.Time{}
			}
			if slackTroubleOf(err) == slackRefused {
				return true, b.scanUndeliverable(ctx, sc, err)
			}
			return false, b.scanSlackTrouble(sc, final, err)
		}
		if err := b.scanStore.ScanPosted(ctx, sc.ID, ts); err != nil {
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
	if err := b.scanStore.ScanShown(ctx, sc.ID, v.Checked, now); err != nil {
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
	_, err := b.scanStore.EndScan(ctx, sc.ID, store.ScanFailed, "", "slack refused the scan's message: "+cause.Error(), b.opts.Now())
	return err
}

// scanPerGroup is how long a scan takes per group at worst: Green API's
// 1 call a second for its history, less the client's margin.
const scanPerGroup = 1112 * time.Millisecond

// startStaleScan begins /wa-leave bulk --stale: it chooses the number and
// the candidate groups (its directory's, whose names contain cmd.Filter
// when one is given) and records the scan with its job, in one
// transaction, then answers at once: the scan runs in the background at
// the gateway's pace and shows its progress in the channel. Whatever the
// bulk request will be refused for at the end is checked here first (the
// number's allow-list, WALEAVE_BULK_MAX, --at), so that a long scan does
// not end in a refusal it could have had at once. The answer is nil,
// with an error, only when the scan could not be recorded.
func (b *Bot) startStaleScan(ctx context.Context, sc slack.SlashCommand, cmd Command) (*slack.Msg, error) {
	groups, msg := b.bulkFilter(ctx, cmd)
	if msg != nil {
		if cmd.Filter == "" {
			msg = ephemeralMsg(templates.StaleScanNothingToCheck(""))
		}
		b.metrics.commands.WithLabelValues("bad_input").Inc()
		return msg, nil
	}
	number, msg := b.bulkNumber(cmd, groups)
	if msg != nil {
		return msg, nil
	}
	n := b.num(number)
	var candidates []store.ScanGroup
	seen := map[string]bool{}
	for _, g := range groups {
		if g.number == number && !seen[g.jid] {
			seen[g.jid] = true
			candidates = append(candidates, store.ScanGroup{JID: g.jid, Subject: g.subject})
		}
	}
	// The stale groups are a part of these: a scan of no more than
	// WALEAVE_BULK_MAX groups never finds more than its bulk request may
	// hold, and its length is bounded too.
	if len(candidates) > b.opts.BulkMax {
		b.metrics.commands.WithLabelValues("bad_input").Inc()
		return ephemeralMsg(templates.BulkTooMany(len(candidates), b.opts.BulkMax)), nil
	}
	if !n.narrows(sc.UserID, sc.ChannelID) {
		b.metrics.commands.WithLabelValues("refused").Inc()
		return ephemeralMsg(templates.NotAllowedNumber(number)), nil
	}
	now := b.opts.Now()
	// The run time is checked now and set when the card is: --in counts
	// from the card, which is what people confirm.
	zoneUnknown, no := b.schedule(ctx, sc, cmd, &store.Request{ExpiresAt: now.Add(b.opts.RequestTTL)}, now)
	if no != nil {
		b.metrics.commands.WithLabelValues("bad_input").Inc()
		return no.msg, nil
	}
	scan := &store.Scan{
		TeamID: sc.TeamID, ChannelID: sc.ChannelID, RequesterID: sc.UserID, UserName: sc.UserName, ResponseURL: sc.ResponseURL,
		Command: sc.Text, Number: number, Filter: cmd.Filter, Idle: cmd.Stale, Cutoff: now.Add(-cmd.Stale), CreatedAt: now,
	}
	if err := b.recordScan(ctx, scan, candidates); err != nil {
		b.metrics.commands.WithLabelValues("error").Inc()
		return nil, err
	}
	b.metrics.commands.WithLabelValues("recorded").Inc()
	text := templates.StaleScanStarted(len(candidates), cmd.Stale, cmd.Filter, time.Duration(len(candidates))*scanPerGroup)
	if zoneUnknown {
		text += " " + templates.ReadAsUTC()
	}
	if n.dryRun {
		text = templates.DryRun(text)
	}
	return ephemeralMsg(text), nil
}

// recordScan records scan and its groups with the scan's job, in one
// transaction.
func (b *Bot) recordScan(ctx context.Context, scan *store.Scan, groups []store.ScanGroup) error {
	err := b.scanStore.CreateScan(ctx, scan, groups, func(ctx context.Context, tx *sql.Tx) error {
		_, err := b.jobs.InsertTx(ctx, tx, staleScanArgs{ScanID: scan.ID}, &river.InsertOpts{MaxAttempts: 25})
		return err
	})
	if err != nil {
		return fmt.Errorf("record stale scan: %w", err)
	}
	b.log.Info("stale scan recorded", "scan", scan.ID, "user", scan.RequesterID, "channel", scan.ChannelID, "number", scan.Number, "groups", len(groups), "idle", scan.Idle)
	return nil
}
