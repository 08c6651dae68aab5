package bot

import (
	"context"
	"errors"
	"sync"
	"time"

	"github.com/slack-go/slack"
	"golang.org/x/time/rate"

	"github.com/waleave/waleave/store"
	"github.com/waleave/waleave/templates"
)

// outbox delivers what requests owe Slack (a card to post or update, an
// outcome reply) from the requests table, at Slack's pace per channel.
// The table is the queue: a command only inserts its request row, so the
// ack never waits for Slack, and nothing is lost if the process dies
// before the card is out. Work is leased in the table, so several
// processes can share it.
type outbox struct {
	b    *Bot
	wake chan struct{}

	mu       sync.Mutex
	channels map[string]*channelQueue
	inflight map[string]bool
	wg       sync.WaitGroup
}

// channelQueue serialises one channel's messages behind its rate limiter.
type channelQueue struct {
	items   chan leased
	limiter *rate.Limiter
}

// leased is a request whose outbox work this process has claimed until
// the lease runs out.
type leased struct {
	id    string
	until time.Time
}

const (
	// outboxLease is how long a claimed row is left alone by other
	// scanners (other replicas). It is what a replica's death costs: its
	// claimed messages go out from another replica once it runs out, so
	// it stays well under a minute. The poster extends it before each
	// send, so a message that waited in its queue, or behind a Slack rate
	// limit, is never sent by two replicas.
	outboxLease = 45 * time.Second
	// queuePerChannel bounds one channel's backlog in memory (at Slack's
	// one message a second, a third of the lease); the rest waits in the
	// table.
	queuePerChannel = 15
)

func newOutbox(b *Bot) *outbox {
	return &outbox{b: b, wake: make(chan struct{}, 1), channels: map[string]*channelQueue{}, inflight: map[string]bool{}}
}

// poke wakes the scanner: something new is owed.
func (o *outbox) poke() {
	select {
	case o.wake <- struct{}{}:
	default:
	}
}

func (o *outbox) start(ctx context.Context) {
	o.wg.Add(1)
	go func() {
		defer o.wg.Done()
		o.scanLoop(ctx)
	}()
}

func (o *outbox) wait() { o.wg.Wait() }

// scanLoop claims owed rows whenever poked, and at least every
// PollInterval for rows whose retry time has come or that other processes
// added.
func (o *outbox) scanLoop(ctx context.Context) {
	t := time.NewTicker(o.b.opts.PollInterval)
	defer t.Stop()
	for {
		o.scan(ctx)
		select {
		case <-ctx.Done():
			return
		case <-o.wake:
			// Under a burst every command pokes; scanning at most every
			// 50ms keeps the scans from competing with the acks.
			select {
			case <-ctx.Done():
				return
			case <-time.After(50 * time.Millisecond):
			}
		case <-t.C:
		}
	}
}

// scan reads what is owed and queues what the channel queues have room
// for; the rest stays in the table for a later scan.
func (o *outbox) scan(ctx context.Context) {
	rows, err := o.b.store.Owed(ctx, o.b.opts.Now(), 500)
	if err != nil {
		if ctx.Err() == nil {
			o.b.log.Error("outbox scan", "err", err)
		}
		return
	}
	for _, r := range rows {
		o.dispatch(ctx, r)
	}
}

// dispatch leases a row and hands it to its channel's queue, unless it is
// queued already or the queue is full.
func (o *outbox) dispatch(ctx context.Context, r store.OwedRef) {
	o.mu.Lock()
	defer o.mu.Unlock()
	if o.inflight[r.ID] {
		// Already queued here; the newest version is read when it is sent.
		return
	}
	q := o.channels[r.ChannelID]
	if q != nil && len(q.items) == cap(q.items) {
		return
	}
	now := o.b.opts.Now()
	until := now.Add(outboxLease)
	if ok, err := o.b.store.Lease(ctx, r.ID, o.b.jobs.ID(), now, until); err != nil || !ok {
		return
	}
	if q == nil {
		q = &channelQueue{items: make(chan leased, queuePerChannel), limiter: rate.NewLimiter(rate.Limit(o.b.opts.ChannelRate), 1)}
		o.channels[r.ChannelID] = q
		o.wg.Add(1)
		go func() {
			defer o.wg.Done()
			o.drain(ctx, r.ChannelID, q)
		}()
	}
	q.items <- leased{id: r.ID, until: until}
	o.inflight[r.ID] = true
}

// drain sends one channel's items in order and exits after a quiet minute.
func (o *outbox) drain(ctx context.Context, channel string, q *channelQueue) {
	idle := time.NewTimer(time.Minute)
	defer idle.Stop()
	for {
		select {
		case <-ctx.Done():
			for {
				select {
				case item := <-q.items:
					o.release(item)
				default:
					return
				}
			}
		case item := <-q.items:
			o.deliver(ctx, q, item)
			o.mu.Lock()
			delete(o.inflight, item.id)
			o.mu.Unlock()
			idle.Reset(time.Minute)
		case <-idle.C:
			o.mu.Lock()
			if len(q.items) == 0 {
				delete(o.channels, channel)
				o.mu.Unlock()
				return
			}
			o.mu.Unlock()
			idle.Reset(time.Minute)
		}
	}
}

// deliver brings one request's Slack messages up to date. It re-reads the
// row so that several changes queued while waiting become one update.
func (o *outbox) deliver(ctx context.Context, q *channelQueue, item leased) {
	b := o.b
	id := item.id
	defer func() {
		if ctx.Err() != nil {
			o.release(item)
		}
	}()
	r, err := b.store.Request(ctx, id)
	if err != nil {
		if ctx.Err() == nil { // stopping is no failure: the row is released
			b.log.Error("outbox read", "request", id, "err", err)
		}
		return
	}
	for attempt := 0; ctx.Err() == nil; attempt++ {
		// Renew the lease before each send; losing it means it ran out
		// and another replica has the row now.
		until := b.opts.Now().Add(outboxLease)
		if ok, err := b.store.Extend(ctx, id, item.until, until); err != nil || !ok {
			if err != nil && ctx.Err() == nil {
				b.log.Warn("outbox lease not renewed", "request", id, "err", err)
			}
			return
		}
		item.until = until
		err := o.send(ctx, q, r)
		if ctx.Err() != nil {
			// Stopping cut the call short; the row is released for the
			// next start or another replica, and nothing failed.
			return
		}
		if err == nil {
			// A click may have changed the request while it was being
			// sent: bring that change out now rather than at the next scan.
			if r, err = b.store.Request(ctx, id); err != nil || !owed(r) || attempt > 3 {
				_ = b.store.RetryOutboxAt(ctx, id, time.Time{})
				return
			}
			continue
		}
		var rl *slack.RateLimitedError
		switch {
		case errors.As(err, &rl):
			// Slack says when: wait here so this channel's order holds.
			b.metrics.slackCalls.WithLabelValues("any", "rate_limited").Inc()
			wait := min(max(rl.RetryAfter, time.Second), time.Minute)
			select {
			case <-ctx.Done():
			case <-time.After(wait):
			}
			if r, err = b.store.Request(ctx, id); err != nil {
				return
			}
		case permanent(err):
			b.log.Error("slack refused a message; giving up on it", "request", id, "channel", r.ChannelID, "err", err)
			_ = b.store.AddAudit(ctx, store.AuditEntry{RequestID: id, At: b.opts.Now(), Actor: "waleave", Action: "slack delivery failed", Detail: err.Error()})
			_ = b.store.DropOutbox(ctx, id)
			return
		default:
			// Outage or network trouble: back off in the table, not here,
			// so other channels keep moving.
			b.log.Warn("slack call failed; will retry", "request", id, "err", err)
			_ = b.store.RetryOutboxAt(ctx, id, b.opts.Now().Add(backoff(2*time.Second, attempt+1)))
			return
		}
	}
}

// release gives back a row claimed by a process that is stopping, so
// another replica sends its messages at once rather than when the lease
// runs out. The lease is dropped only if it is still the one item holds.
func (o *outbox) release(item leased) {
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
	defer cancel()
	if _, err := o.b.store.Extend(ctx, item.id, item.until, time.Time{}); err != nil {
		o.b.log.Warn("outbox lease not released", "request", item.id, "err", err)
	}
}

// send posts or updates the card, then the outcome reply if owed.
func (o *outbox) send(ctx context.Context, q *channelQueue, r *store.Request) error {
	b := o.b
	if r.CardVersion > r.CardPostedVersion {
		if r.CardTS == "" && r.State == store.Pending && r.DetailsState == "" {
			// The group's details are fetched here, after the ack, so the
			// command never waits for the gateway; see withDetails.
			r = b.withDetails(ctx, r)
		}
		if err := q.limiter.Wait(ctx); err != nil {
			return err
		}
		card := cardFor(r, requesterZone(r, b.opts.Location))
		opts := []slack.MsgOption{slack.MsgOptionBlocks(templates.CardBlocks(card)...), slack.MsgOptionText(templates.CardText(card), false)}
		ts := r.CardTS
		var err error
		if ts == "" {
			_, ts, err = b.slack.PostMessageContext(ctx, r.ChannelID, opts...)
			b.countSlack("chat.postMessage", err)
			if err != nil && r.State == store.Pending && notInChannel(err) {
				return o.undeliverable(ctx, r, err)
			}
		} else {
			_, _, _, err = b.slack.UpdateMessageContext(ctx, r.ChannelID, ts, opts...)
			b.countSlack("chat.update", err)
		}
		if err != nil {
			return err
		}
		if err := b.store.CardPosted(ctx, r.ID, ts, r.CardVersion); err != nil {
			return err
		}
		r.CardTS, r.CardPostedVersion = ts, r.CardVersion
	}
	if r.ReplyNeeded && r.CardTS != "" {
		if err := q.limiter.Wait(ctx); err != nil {
			return err
		}
		detail := ""
		if templates.Outcome(r.Outcome) == templates.OutcomePromoteFailed {
			// Why the promotion failed decides what to do next (pick
			// someone else, or fix the instance's rights).
			detail = r.OutcomeDetail
		}
		text := templates.OutcomeText(templates.Outcome(r.Outcome), groupName(r), detail)
		_, ts, err := b.slack.PostMessageContext(ctx, r.ChannelID, slack.MsgOptionTS(r.CardTS), slack.MsgOptionText(text, false))
		b.countSlack("chat.postMessage", err)
		if err != nil {
			return err
		}
		if err := b.store.ReplyPosted(ctx, r.ID, ts); err != nil {
			return err
		}
		r.ReplyNeeded = false
	}
	return nil
}

// undeliverable handles a card the bot may not post: the requester is
// told how to invite the bot (through the command's response_url, which
// works without channel membership) and the request is cancelled.
func (o *outbox) undeliverable(ctx context.Context, r *store.Request, cause error) error {
	b := o.b
	if r.ResponseURL != "" {
		err := postResponse(ctx, r.ResponseURL, &slack.WebhookMessage{
			ResponseType: slack.ResponseTypeEphemeral, Text: templates.NotInChannel(),
		})
		if err != nil {
			b.log.Warn("could not tell the requester the bot is not in the channel", "request", r.ID, "err", err)
		}
	}
	if _, err := b.store.CancelUndeliverable(ctx, r.ID, "bot not in channel: "+cause.Error(), b.opts.Now()); err != nil && !errors.Is(err, store.ErrConflict) {
		return err
	}
	return nil
}

// owed reports whether a request still owes Slack a message.
func owed(r *store.Request) bool {
	return r.CardVersion > r.CardPostedVersion || (r.ReplyNeeded && r.CardTS != "")
}

func notInChannel(err error) bool {
	var se slack.SlackErrorResponse
	if errors.As(err, &se) {
		return se.Err == "not_in_channel" || se.Err == "channel_not_found"
	}
	return err.Error() == "not_in_channel" || err.Error() == "channel_not_found"
}

// permanent reports Slack errors that retrying cannot fix.
func permanent(err error) bool {
	msg := err.Error()
	var se slack.SlackErrorResponse
	if errors.As(err, &se) {
		msg = se.Err
	}
	switch msg {
	case "not_in_channel", "channel_not_found", "is_archived", "invalid_auth", "not_authed",
		"account_inactive", "token_revoked", "missing_scope", "msg_too_long", "invalid_blocks",
		"message_not_found", "cant_update_message", "no_text", "restricted_action":
		return true
	}
	return false
}

func (b *Bot) countSlack(method string, err error) {
	result := "ok"
	if err != nil {
		result = "error"
	}
	b.metrics.slackCalls.WithLabelValues(method, result).Inc()
}

// requesterZone is the zone the request's own card shows times in: the
// requester's (from Slack), or fallback when it is unknown. Messages to
// the ops channel use WALEAVE_TIMEZONE instead.
func requesterZone(r *store.Request, fallback *time.Location) *time.Location {
	if r.TZ != "" {
		if l, err := time.LoadLocation(r.TZ); err == nil {
			return l
		}
	}
	return fallback
}

// cardFor is the card's view of a request, with times in loc.
func cardFor(r *store.Request, loc *time.Location) templates.Card {
	successors := make([]templates.Participant, len(r.Successors))
	for i, jid := range r.Successors {
		successors[i] = templates.Participant{JID: jid}
	}
	return templates.Card{
		RequestID: r.ID, GroupJID: r.GroupJID, GroupSubject: r.GroupSubject, Goodbye: r.Goodbye,
		RequesterID: r.RequesterID, CreatedAt: r.CreatedAt, ExpiresAt: r.ExpiresAt, RunAt: r.RunAt,
		Location: loc, State: templates.State(r.State), ConfirmedBy: r.ConfirmedBy, CancelledBy: r.CancelledBy,
		Progress: r.Progress, Outcome: templates.Outcome(r.Outcome),
		DetailsUnavailable: r.DetailsState == store.DetailsUnavailable, Size: r.GroupSize, IsAdmin: r.IsAdmin, OnlyAdmin: r.OnlyAdmin,
		AdminUnknown: r.DetailsState == store.DetailsPartial, Successors: successors, Successor: r.Successor,
	}
}
