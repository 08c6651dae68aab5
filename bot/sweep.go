package bot

import (
	"context"
	"fmt"
	"strconv"
	"time"

	"github.com/riverqueue/river"
	"github.com/slack-go/slack"

	"github.com/waleave/waleave/leave"
	"github.com/waleave/waleave/store"
	"github.com/waleave/waleave/templates"
)

// sweepStore is what the sweep and the digest need of the store.
type sweepStore interface {
	DueWork(ctx context.Context, now, remindBefore time.Time, lead time.Duration) (store.Due, error)
	Expire(ctx context.Context, id string, now time.Time) (*store.Request, error)
	ListRequests(ctx context.Context, f store.Filter) ([]*store.Request, error)
	MarkOpsReminded(ctx context.Context, id string, now time.Time) (bool, error)
	MarkReminded(ctx context.Context, id string, now time.Time) (bool, error)
	PruneDeliveries(ctx context.Context, now time.Time) error
	UnmarkOpsReminded(ctx context.Context, id string) error
	UnmarkReminded(ctx context.Context, id string) error
}

// metaStore keeps the digest's named value (when it last ran).
type metaStore interface {
	Meta(ctx context.Context, key string) (string, error)
	SetMeta(ctx context.Context, key, value string) error
}

// opsLead is how long before a scheduled leave the ops channel is told.
const opsLead = time.Hour

// Schedule is a recurring time, such as a parsed cron spec.
type Schedule interface {
	Next(time.Time) time.Time
}

// zoned evaluates a schedule in a time zone, so "0 9 * * 1-5" means nine
// o'clock in WALEAVE_TIMEZONE whatever zone the process runs in.
type zoned struct {
	s   Schedule
	loc *time.Location
}

// Next is the schedule's next time after t, computed in the zone.
func (z zoned) Next(t time.Time) time.Time { return z.s.Next(t.In(z.loc)) }

// sweepArgs is the periodic job that expires, reminds and warns.
type sweepArgs struct{}

// Kind names the job in River's table.
func (sweepArgs) Kind() string { return "sweep" }

type sweepWorker struct {
	river.WorkerDefaults[sweepArgs]
	b *Bot
}

// Work runs one sweep.
func (w *sweepWorker) Work(ctx context.Context, _ *river.Job[sweepArgs]) error {
	return w.b.Sweep(ctx)
}

// digestArgs is the periodic ops digest.
type digestArgs struct{}

// Kind names the job in River's table.
func (digestArgs) Kind() string { return "digest" }

type digestWorker struct {
	river.WorkerDefaults[digestArgs]
	b *Bot
}

// Work posts one digest.
func (w *digestWorker) Work(ctx context.Context, _ *river.Job[digestArgs]) error {
	return w.b.Digest(ctx)
}

// periodicJobs are the leader-only recurring jobs: River runs them on one
// process, so with several replicas each reminder and digest happens once.
func (b *Bot) periodicJobs() []*river.PeriodicJob {
	jobs := []*river.PeriodicJob{
		river.NewPeriodicJob(river.PeriodicInterval(b.opts.SweepEvery), func() (river.JobArgs, *river.InsertOpts) {
			return sweepArgs{}, &river.InsertOpts{MaxAttempts: 3, UniqueOpts: river.UniqueOpts{ByPeriod: b.opts.SweepEvery}}
		}, &river.PeriodicJobOpts{RunOnStart: true}),
	}
	jobs = append(jobs, b.directoryJob())
	if b.opts.Retention > 0 {
		jobs = append(jobs, river.NewPeriodicJob(river.PeriodicInterval(retentionEvery), func() (river.JobArgs, *river.InsertOpts) {
			return retentionArgs{}, &river.InsertOpts{MaxAttempts: 3, UniqueOpts: river.UniqueOpts{ByPeriod: retentionEvery}}
		}, &river.PeriodicJobOpts{RunOnStart: true}))
	}
	if b.opts.OpsChannel != "" && b.opts.Digest != nil {
		jobs = append(jobs, river.NewPeriodicJob(zoned{b.opts.Digest, b.opts.Location}, func() (river.JobArgs, *river.InsertOpts) {
			return digestArgs{}, &river.InsertOpts{MaxAttempts: 3}
		}, nil))
	}
	return jobs
}

// Sweep does what is due now: it expires pending requests past their TTL
// (the card then says so), reminds requesters once after RemindAfter, and
// warns the ops channel an hour before each scheduled leave. Each step is
// claimed in the store first, so a sweep that runs twice acts once.
func (b *Bot) Sweep(ctx context.Context) error {
	now := b.opts.Now()
	// Deliveries whose replay window has ended need not be remembered.
	if err := b.sweepStore.PruneDeliveries(ctx, now); err != nil {
		b.log.Warn("prune handled deliveries", "err", err)
	}
	due, err := b.sweepStore.DueWork(ctx, now, now.Add(-b.opts.RemindAfter), opsLead)
	if err != nil {
		return err
	}
	for _, r := range due.Expire {
		if _, err := b.sweepStore.Expire(ctx, r.ID, now); err == nil {
			b.log.Info("request expired", "request", r.ID)
		}
	}
	for _, r := range due.Remind {
		if r.CardTS == "" {
			continue // the card is not out yet; remind on a later sweep
		}
		ok, err := b.sweepStore.MarkReminded(ctx, r.ID, now)
		if err != nil || !ok {
			continue
		}
		_, _, err = b.slack.PostMessageContext(ctx, r.ChannelID, slack.MsgOptionTS(r.CardTS),
			slack.MsgOptionText(b.sayAbout(r, templates.Reminder(r.RequesterID, now.Sub(r.CreatedAt))), false))
		b.countSlack("chat.postMessage", err)
		switch {
		case err == nil:
		case slackTroubleOf(err) == slackRefused:
			// The channel or the card is gone or closed to the bot:
			// every later sweep would be refused the same way.
			b.log.Warn("slack refused the reminder; it is not retried", "request", r.ID, "channel", r.ChannelID, "err", err)
		default:
			b.log.Warn("reminder not posted; will retry", "request", r.ID, "err", err)
			b.unmark(ctx, r.ID, b.sweepStore.UnmarkReminded)
		}
	}
	if b.opts.OpsChannel == "" {
		return nil
	}
	for _, r := range due.OpsRemind {
		ok, err := b.sweepStore.MarkOpsReminded(ctx, r.ID, now)
		if err != nil || !ok {
			continue
		}
		card := cardFor(r, b.opts.Location)
		card.DryRun, card.Number = b.num(r.Number).dryRun, b.shownNumber(r.Number)
		if r.Kind == leave.KindBulk {
			if card.Bulk, err = b.bulkOf(ctx, r); err != nil {
				b.log.Warn("ops reminder not posted; will retry", "request", r.ID, "err", err)
				b.unmark(ctx, r.ID, b.sweepStore.UnmarkOpsReminded)
				continue
			}
		}
		_, _, err = b.slack.PostMessageContext(ctx, b.opts.OpsChannel,
			slack.MsgOptionText(templates.ScheduledReminderText(card), false), slack.MsgOptionBlocks(templates.ScheduledReminderBlocks(card)...))
		b.countSlack("chat.postMessage", err)
		switch {
		case err == nil:
		case slackTroubleOf(err) == slackRefused:
			b.log.Error("slack refused the ops reminder (check WALEAVE_OPS_CHANNEL and that the bot is in it); it is not retried", "request", r.ID, "channel", b.opts.OpsChannel, "err", err)
		default:
			b.log.Warn("ops reminder not posted; will retry", "request", r.ID, "err", err)
			b.unmark(ctx, r.ID, b.sweepStore.UnmarkOpsReminded)
		}
	}
	return nil
}

// digestLines bounds each digest section so the message stays within
// Block Kit's limits.
const digestLines = 15

// Digest posts the ops digest: requests awaiting confirmation, leaves that
// failed since the previous digest, and scheduled leaves in the next seven
// days, each linked to its card. With nothing to report it says so: a
// quiet morning and a bot that stopped posting look different.
func (b *Bot) Digest(ctx context.Context) error {
	if b.opts.OpsChannel == "" {
		return nil
	}
	now := b.opts.Now()
	since := now.Add(-7 * 24 * time.Hour)
	if v, err := b.metaStore.Meta(ctx, "last_digest"); err == nil && v != "" {
		if n, err := strconv.ParseInt(v, 10, 64); err == nil {
			since = time.UnixMilli(n)
		}
	}
	pending, err := b.sweepStore.ListRequests(ctx, store.Filter{States: []leave.State{leave.Pending}})
	if err != nil {
		return err
	}
	failed, err := b.sweepStore.ListRequests(ctx, store.Filter{States: []leave.State{leave.Failed}, FinishedSince: since})
	if err != nil {
		return err
	}
	confirmed, err := b.sweepStore.ListRequests(ctx, store.Filter{States: []leave.State{leave.Confirmed}})
	if err != nil {
		return err
	}
	var scheduled []*store.Request
	for _, r := range confirmed {
		if !r.RunAt.IsZero() && r.RunAt.Before(now.Add(7*24*time.Hour)) {
			scheduled = append(scheduled, r)
		}
	}
	item := func(r *store.Request, at time.Time) templates.DigestItem {
		return templates.DigestItem{RequestID: r.ID, Group: groupName(r), At: at, Outcome: r.Outcome,
			RequesterID: r.RequesterID, Link: b.permalink(ctx, r), Number: b.shownNumber(r.Number)}
	}
	d := templates.Digest{Location: b.opts.Location, Now: now}
	for i, r := range pending {
		if i < digestLines {
			d.Awaiting = append(d.Awaiting, item(r, r.CreatedAt))
		}
	}
	for i, r := range failed {
		if i < digestLines {
			it := item(r, r.FinishedAt)
			if r.Kind == leave.KindBulk {
				if children, err := b.bulkStore.Children(ctx, r.ID); err == nil {
					n := templates.CountBulk(bulkGroups(children))
					it.Groups, it.NotLeft = n.Total, n.Total-n.Done
				}
			}
			d.Failed = append(d.Failed, it)
		}
	}
	for i, r := range scheduled {
		if i < digestLines {
			d.Upcoming = append(d.Upcoming, item(r, r.RunAt))
		}
	}
	_, _, err = b.slack.PostMessageContext(ctx, b.opts.OpsChannel, slack.MsgOptionText(b.say(templates.DigestText(d)), false))
	b.countSlack("chat.postMessage", err)
	if err != nil {
		return fmt.Errorf("post digest: %w", err)
	}
	return b.metaStore.SetMeta(ctx, "last_digest", strconv.FormatInt(now.UnixMilli(), 10))
}

// permalink is the link to a request's card, or "" when Slack cannot
// tell (each digest line still names the request).
func (b *Bot) permalink(ctx context.Context, r *store.Request) string {
	if r.CardTS == "" {
		return ""
	}
	link, err := b.slack.GetPermalinkContext(ctx, &slack.PermalinkParameters{Channel: r.ChannelID, Ts: r.CardTS})
	if err != nil {
		return ""
	}
	return link
}

func roundAge(d time.Duration) string {
	switch {
	case d >= 48*time.Hour:
		return fmt.Sprintf("%d days", int(d.Hours()/24))
	case d >= 2*time.Hour:
		return fmt.Sprintf("%d hours", int(d.Hours()))
	default:
		return fmt.Sprintf("%d minutes", int(d.Minutes()))
	}
}

func truncate(s string, n int) string {
	r := []rune(s)
	if len(r) <= n {
		return s
	}
	return string(r[:n-1]) + "…"
}

// unmark gives a reminder whose post failed back to the next sweep. It
// runs even when the post failed because the sweep's context ended (its
// timeout, or a stop), which is when the sweep's own context can no
// longer write: a reminder left marked would never be posted.
func (b *Bot) unmark(ctx context.Context, id string, unmark func(context.Context, string) error) {
	ctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 5*time.Second)
	defer cancel()
	if err := unmark(ctx, id); err != nil {
		b.log.Warn("reminder left marked as sent", "request", id, "err", err)
	}
}
