package bot

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"sync"
	"time"

	"github.com/slack-go/slack"
	"golang.org/x/time/rate"

	"github.com/waleave/waleave/leave"
	"github.com/waleave/waleave/store"
	"github.com/waleave/waleave/templates"
)

// outboxStore is what the Slack outbox needs of the store.
type outboxStore interface {
	AddAudit(ctx context.Context, e store.AuditEntry) error
	BeginCardUpdate(ctx context.Context, id string, now time.Time, every time.Duration) (ok bool, next time.Time, err error)
	CardUpdated(ctx context.Context, id string, at time.Time) error
	CancelUndeliverable(ctx context.Context, id, reason string, now time.Time) (*store.Request, error)
	CardPosted(ctx context.Context, id, ts string, version int) error
	DropOutbox(ctx context.Context, id string) error
	Extend(ctx context.Context, id string, held, until time.Time) (bool, error)
	Lease(ctx context.Context, id, owner string, now, until time.Time) (bool, error)
	Owed(ctx context.Context, now time.Time, limit int) ([]store.OwedRef, error)
	PostUnderWay(ctx context.Context, id string, p store.Post, at time.Time) error
	ReplyPosted(ctx context.Context, id, ts string) error
	Request(ctx context.Context, id string) (*store.Request, error)
	RetryOutboxAt(ctx context.Context, id string, at time.Time) error
}

// outbox delivers what requests owe Slack (a card to post or update, an
// outcome reply) from the requests table, at Slack's pace per channel.
// The table is the queue: a command only inserts its request row, so the
// ack never waits for Slack, and nothing is lost if the process dies
// before the card is out. Work is leased in the table, so several
// processes can share it. A post whose answer was lost (a crash, a
// timeout, a full disk) is looked for in Slack before it is posted again,
// so a card or an outcome reply appears once (see findPost).
type outbox struct {
	b    *Bot
	wake chan struct{}

	mu       sync.Mutex
	channels map[string]*channelQueue
	inflight map[string]bool
	// failures counts each owed row's failed deliveries in a row, so
	// that its retries back off from 2 s to a minute through an outage.
	// A row is forgotten once it is delivered or given up here; another
	// replica that takes a row over starts its own count (and this
	// process keeps the row's small entry until it stops).
	failures map[string]int
	// releaseBy is when giving leases back at a stop gives up (see
	// release); zero until the first release.
	releaseBy time.Time
	wg        sync.WaitGroup
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
	return &outbox{b: b, wake: make(chan struct{}, 1), channels: map[string]*channelQueue{}, inflight: map[string]bool{}, failures: map[string]int{}}
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
	rows, err := o.b.outboxStore.Owed(ctx, o.b.opts.Now(), 500)
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
	if ok, err := o.b.outboxStore.Lease(ctx, r.ID, o.b.jobs.ID(), now, until); err != nil || !ok {
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
	r, err := b.outboxStore.Request(ctx, id)
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
		if ok, err := b.outboxStore.Extend(ctx, id, item.until, until); err != nil || !ok {
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
			o.countFailure(id, false)
			// A click may have changed the request while it was being
			// sent: bring that change out now rather than at the next scan.
			if r, err = b.outboxStore.Request(ctx, id); err != nil || !owed(r) || attempt > 3 {
				_ = b.outboxStore.RetryOutboxAt(ctx, id, time.Time{})
				return
			}
			continue
		}
		var rl *slack.RateLimitedError
		var soon *cardTooSoon
		switch {
		case errors.As(err, &soon):
			// A bulk card updated less than a second ago: its next
			// update waits in the table, not here, so the channel's
			// other messages keep moving.
			o.countFailure(id, false)
			_ = b.outboxStore.RetryOutboxAt(ctx, id, soon.next)
			return
		case errors.As(err, &rl):
			// Slack says when: wait here so this channel's order holds.
			b.metrics.slackCalls.WithLabelValues("any", "rate_limited").Inc()
			wait := min(max(rl.RetryAfter, time.Second), time.Minute)
			select {
			case <-ctx.Done():
			case <-time.After(wait):
			}
			if r, err = b.outboxStore.Request(ctx, id); err != nil {
				return
			}
		case slackTroubleOf(err) == slackRefused:
			// send deals with refusals it can work around (see there);
			// what is left cannot be sent at all.
			o.countFailure(id, false)
			b.log.Error("slack refused a message; giving up on it", "request", id, "channel", r.ChannelID, "err", err)
			_ = b.outboxStore.AddAudit(ctx, store.AuditEntry{RequestID: id, At: b.opts.Now(), Actor: "waleave", Action: "slack delivery failed", Detail: err.Error()})
			_ = b.outboxStore.DropOutbox(ctx, id)
			return
		default:
			// Back off in the table, not here, so other channels keep
			// moving; the message stays owed however long it takes.
			delay := backoff(2*time.Second, o.countFailure(id, true))
			if slackTroubleOf(err) == slackAppBroken {
				b.log.Error("slack refused the app's token or scopes; messages stay owed until the app is fixed", "request", id, "err", err, "retry_in", delay.Round(time.Second))
			} else {
				b.log.Warn("slack call failed; will retry", "request", id, "err", err, "retry_in", delay.Round(time.Second))
			}
			_ = b.outboxStore.RetryOutboxAt(ctx, id, b.opts.Now().Add(delay))
			return
		}
	}
}

// countFailure counts a failed delivery of row id (another == true), returning
// how many have failed in a row, or forgets the row (another == false).
func (o *outbox) countFailure(id string, another bool) int {
	o.mu.Lock()
	defer o.mu.Unlock()
	if !another {
		delete(o.failures, id)
		return 0
	}
	o.failures[id]++
	return o.failures[id]
}

// release gives back a row claimed by a process that is stopping, so
// another replica sends its messages at once rather than when the lease
// runs out. The lease is dropped only if it is still the one item holds.
//
// All releases share one deadline, 2 s after the first: with the database
// stuck, a stop is delayed by 2 s, not by 2 s for each queued row. A row
// not given back keeps its lease until it runs out (or, on SQLite, until
// the next start takes it back).
func (o *outbox) release(item leased) {
	o.mu.Lock()
	if o.releaseBy.IsZero() {
		o.releaseBy = time.Now().Add(2 * time.Second)
	}
	by := o.releaseBy
	o.mu.Unlock()
	ctx, cancel := context.WithDeadline(context.Background(), by)
	defer cancel()
	if _, err := o.b.outboxStore.Extend(ctx, item.id, item.until, time.Time{}); err != nil {
		o.b.log.Warn("outbox lease not released", "request", item.id, "err", err)
	}
}

// send posts or updates the card, then the outcome reply if owed.
func (o *outbox) send(ctx context.Context, q *channelQueue, r *store.Request) error {
	b := o.b
	if r.CardVersion > r.CardPostedVersion {
		if r.CardTS == "" && r.State == leave.Pending && r.DetailsState == "" && r.Kind != leave.KindBulk {
			// The group's details are fetched here, after the ack, so the
			// command never waits for the gateway; see withDetails.
			r = b.withDetails(ctx, r)
		}
		if err := q.limiter.Wait(ctx); err != nil {
			return err
		}
		card := cardFor(r, requesterZone(r, b.opts.Location))
		card.DryRun, card.Number = b.num(r.Number).dryRun, b.shownNumber(r.Number)
		if r.Kind == leave.KindBulk {
			var err error
			if card.Bulk, err = b.bulkOf(ctx, r); err != nil {
				return err
			}
		}
		opts := []slack.MsgOption{slack.MsgOptionBlocks(templates.CardBlocks(card)...), slack.MsgOptionText(templates.CardText(card), false)}
		ts := r.CardTS
		var err error
		if ts == "" && !r.CardPostingAt.IsZero() {
			// An earlier post's answer was lost: the card may be in the
			// channel already. Found, it is updated below like any other.
			if ts, err = o.findPost(ctx, r, cardMessage, r.ChannelID, "", r.CardPostingAt); err != nil {
				return err
			}
		}
		if ts == "" {
			if err := b.outboxStore.PostUnderWay(ctx, r.ID, store.CardPost, b.opts.Now()); err != nil {
				return err
			}
			_, ts, err = b.slack.PostMessageContext(ctx, r.ChannelID, append(opts, postTag(r.ID, cardMessage))...)
			b.countSlack("chat.postMessage", err)
			o.notPosted(ctx, r.ID, store.CardPost, err)
			if err != nil && r.State == leave.Pending && slackTroubleOf(err) == slackRefused {
				return o.undeliverable(ctx, r, err)
			}
		} else {
			if r.Kind == leave.KindBulk {
				// Its groups' progress: at most one update a second,
				// counted in the database so that replicas share it.
				ok, next, err := b.outboxStore.BeginCardUpdate(ctx, r.ID, b.opts.Now(), bulkCardEvery)
				if err != nil {
					return err
				}
				if !ok {
					return &cardTooSoon{next: next}
				}
			}
			_, _, _, err = b.slack.UpdateMessageContext(ctx, r.ChannelID, ts, opts...)
			b.countSlack("chat.update", err)
			if err == nil && r.Kind == leave.KindBulk {
				if err := b.outboxStore.CardUpdated(ctx, r.ID, b.opts.Now()); err != nil {
					b.log.Warn("record card update", "request", r.ID, "err", err)
				}
			}
			if err != nil && slackTroubleOf(err) == slackRefused {
				// The card was deleted, or the channel archived or left:
				// the card stays as it was, and the outcome reply, if
				// one is owed, still goes out (see below).
				b.log.Warn("slack refused a card update; the card stays as it was", "request", r.ID, "channel", r.ChannelID, "err", err)
				_ = b.outboxStore.AddAudit(ctx, store.AuditEntry{RequestID: r.ID, At: b.opts.Now(), Actor: "waleave", Action: "card update refused", Detail: err.Error()})
				err = nil
			}
		}
		if err != nil {
			return err
		}
		if err := b.outboxStore.CardPosted(ctx, r.ID, ts, r.CardVersion); err != nil {
			return err
		}
		r.CardTS, r.CardPostedVersion = ts, r.CardVersion
		// What the card shows, Home tabs show too.
		b.homeChanged()
	}
	if r.ReplyNeeded && r.CardTS != "" {
		if err := q.limiter.Wait(ctx); err != nil {
			return err
		}
		detail := ""
		if r.Outcome == leave.OutcomePromoteFailed {
			// Why the promotion failed decides what to do next (pick
			// someone else, or fix the instance's rights).
			detail = r.OutcomeDetail
		}
		text := b.sayAbout(r, outcomeReply(r, detail))
		if r.Kind == leave.KindBulk {
			var err error
			if text, err = b.bulkSummary(ctx, r); err != nil {
				return err
			}
		}
		ts := ""
		var err error
		if !r.ReplyPostingAt.IsZero() {
			// An earlier post's answer was lost: the reply may be in the
			// thread already.
			if ts, err = o.findPost(ctx, r, outcomeMessage, r.ChannelID, r.CardTS, r.ReplyPostingAt); err != nil {
				return err
			}
		}
		if ts == "" {
			if err := b.outboxStore.PostUnderWay(ctx, r.ID, store.ReplyPost, b.opts.Now()); err != nil {
				return err
			}
			_, ts, err = b.slack.PostMessageContext(ctx, r.ChannelID, slack.MsgOptionTS(r.CardTS), slack.MsgOptionText(text, false), postTag(r.ID, outcomeMessage))
			b.countSlack("chat.postMessage", err)
			o.notPosted(ctx, r.ID, store.ReplyPost, err)
		}
		if err != nil && slackTroubleOf(err) == slackRefused {
			// reply_ts stays empty: there is no reply in the thread.
			ts, err = "", o.replyElsewhere(ctx, r, text, err)
		}
		if err != nil {
			return err
		}
		if err := b.outboxStore.ReplyPosted(ctx, r.ID, ts); err != nil {
			return err
		}
		r.ReplyNeeded = false
	}
	return nil
}

// bulkCardEvery is the least time between two updates of a bulk
// request's card (SPEC §9: its progress, never more often than Slack
// allows; Slack's chat.update allows about one a second per message).
const bulkCardEvery = time.Second

// cardTooSoon is send's answer when a bulk card's update must wait until
// next.
type cardTooSoon struct{ next time.Time }

func (e *cardTooSoon) Error() string { return "card updated less than a second ago" }

// What waleave's posts are, in their message metadata: each post is
// tagged with its request and what it is, so that one whose answer was
// lost can be found again (see findPost). These are stored in Slack with
// each message: never change them.
const (
	postEventType  = "waleave_post"
	cardMessage    = "card"
	outcomeMessage = "outcome"
)

// postTag is the metadata that tags a post as message what of request id.
func postTag(id, what string) slack.MsgOption {
	return slack.MsgOptionMetadata(slack.SlackMetadata{EventType: postEventType, EventPayload: map[string]any{"request_id": id, "message": what}})
}

const (
	// findBefore and findAfter bound the search for a post whose answer
	// was lost, around the time its post began: Slack stamps a message
	// when it takes it, within the call's length (seconds) of the mark,
	// give or take the two clocks' difference.
	findBefore = time.Minute
	findAfter  = 2 * time.Minute
	// findPage is the most messages one look asks for: 15 is all Slack
	// gives apps distributed outside its Marketplace.
	findPage = 15
	// findPages bounds how many pages one search reads. Slack posts a
	// channel's messages about one a second, so the 3-minute window holds
	// a few dozen of them at most, unless a burst filled it.
	findPages = 4
)

// findPost looks in Slack for message what of request r, whose post
// began at at and whose answer was lost, in channel (thread "") or in a
// thread of it, and returns its ts, or "" when it is not there. A failure
// that may pass (Slack down, a rate limit) is returned: the message stays
// owed and the look is tried again. When Slack refuses the look (the bot
// is not in the public channel it posts to with chat:write.public, or the
// app was not reinstalled with the history scopes), it returns "": the
// message is posted again, at the risk of a second copy, because a card
// nobody sees cannot be confirmed and an outcome nobody reads is worse
// than one read twice.
func (o *outbox) findPost(ctx context.Context, r *store.Request, what, channel, thread string, at time.Time) (string, error) {
	b := o.b
	oldest, latest := slackTS(at.Add(-findBefore)), slackTS(at.Add(findAfter))
	cursor := ""
	for range findPages {
		var msgs []slack.Message
		var err error
		method := "conversations.history"
		if thread == "" {
			var h *slack.GetConversationHistoryResponse
			h, err = b.slack.GetConversationHistoryContext(ctx, &slack.GetConversationHistoryParameters{
				ChannelID: channel, Oldest: oldest, Latest: latest, Inclusive: true, Limit: findPage, Cursor: cursor, IncludeAllMetadata: true})
			if err == nil {
				msgs, cursor = h.Messages, h.ResponseMetaData.NextCursor
				if !h.HasMore {
					cursor = ""
				}
			}
		} else {
			method = "conversations.replies"
			var more bool
			msgs, more, cursor, err = b.slack.GetConversationRepliesContext(ctx, &slack.GetConversationRepliesParameters{
				ChannelID: channel, Timestamp: thread, Oldest: oldest, Latest: latest, Inclusive: true, Limit: findPage, Cursor: cursor, IncludeAllMetadata: true})
			if !more {
				cursor = ""
			}
		}
		b.countSlack(method, err)
		if err != nil {
			var rl *slack.RateLimitedError
			if errors.As(err, &rl) || slackTroubleOf(err) == slackDown {
				return "", fmt.Errorf("look for the %s posted before: %w", what, err)
			}
			b.log.Warn("slack refused the look for a post whose answer was lost; posting it again, it may appear twice", "request", r.ID, "channel", channel, "message", what, "err", err)
			_ = b.outboxStore.AddAudit(ctx, store.AuditEntry{RequestID: r.ID, At: b.opts.Now(), Actor: "waleave", Action: "posted again unchecked", Detail: what + ": " + method + " refused: " + err.Error()})
			return "", nil
		}
		for _, m := range msgs {
			p := m.Metadata.EventPayload
			if m.Metadata.EventType == postEventType && p["request_id"] == r.ID && p["message"] == what {
				b.log.Info("found a post whose answer was lost; not posting it again", "request", r.ID, "channel", channel, "message", what, "ts", m.Timestamp)
				_ = b.outboxStore.AddAudit(ctx, store.AuditEntry{RequestID: r.ID, At: b.opts.Now(), Actor: "waleave", Action: "post found again", Detail: what})
				return m.Timestamp, nil
			}
		}
		if cursor == "" {
			return "", nil
		}
	}
	b.log.Warn("did not find a post whose answer was lost among the messages looked at; posting it again, it may appear twice", "request", r.ID, "channel", channel, "message", what)
	return "", nil
}

// notPosted clears the under-way mark of a post that Slack answered with
// an error: the message is certainly not in Slack, so the next attempt
// need not look for it. A failure without Slack's answer (a timeout, a
// cut connection, a 5xx) keeps the mark, since the post may have landed.
func (o *outbox) notPosted(ctx context.Context, id string, p store.Post, err error) {
	if err == nil {
		return
	}
	var rl *slack.RateLimitedError
	if errors.As(err, &rl) || slackErrorCode(err) != "" {
		_ = o.b.outboxStore.PostUnderWay(ctx, id, p, time.Time{})
	}
}

// slackTS is t as a Slack message timestamp ("seconds.micros").
func slackTS(t time.Time) string {
	return fmt.Sprintf("%d.%06d", t.Unix(), t.Nanosecond()/1000)
}

// undeliverable handles a card Slack refuses to post: the requester is
// told why (through the command's response_url, which works without
// channel membership) and the request is cancelled, since nobody can
// confirm a card they cannot see.
func (o *outbox) undeliverable(ctx context.Context, r *store.Request, cause error) error {
	b := o.b
	text, reason := templates.CardRefused(), "slack refused the card: "+cause.Error()
	if notInChannel(cause) {
		text, reason = templates.NotInChannel(), "bot not in channel: "+cause.Error()
	}
	b.log.Warn("slack refused a new card; the request is cancelled", "request", r.ID, "channel", r.ChannelID, "err", cause)
	if r.ResponseURL != "" {
		err := postResponse(ctx, r.ResponseURL, &slack.WebhookMessage{ResponseType: slack.ResponseTypeEphemeral, Text: text})
		if err != nil {
			b.log.Warn("could not tell the requester why the card was not posted", "request", r.ID, "err", err)
		}
	}
	if _, err := b.outboxStore.CancelUndeliverable(ctx, r.ID, reason, b.opts.Now()); err != nil && !errors.Is(err, store.ErrConflict) {
		return err
	}
	return nil
}

// replyElsewhere posts an outcome that Slack refused in the card's thread
// (the card deleted, the channel archived or left) to the ops channel,
// so that a leave that happened is never known to nobody; like the
// thread reply, it is looked for there first when an earlier attempt's
// answer was lost. It returns no
// error when there is nowhere else to post it either: the outcome is in
// the audit trail and /wa-leave status, and retrying cannot help.
func (o *outbox) replyElsewhere(ctx context.Context, r *store.Request, text string, cause error) error {
	b := o.b
	detail := "outcome reply refused: " + cause.Error()
	if b.opts.OpsChannel == "" || b.opts.OpsChannel == r.ChannelID {
		b.log.Error("slack refused the outcome reply and there is no other channel to post it in", "request", r.ID, "channel", r.ChannelID, "err", cause)
		_ = b.outboxStore.AddAudit(ctx, store.AuditEntry{RequestID: r.ID, At: b.opts.Now(), Actor: "waleave", Action: "slack delivery failed", Detail: detail})
		return nil
	}
	if !r.ReplyPostingAt.IsZero() {
		// An earlier attempt's answer was lost: the outcome may be in the
		// ops channel already.
		ts, err := o.findPost(ctx, r, outcomeMessage, b.opts.OpsChannel, "", r.ReplyPostingAt)
		if err != nil || ts != "" {
			return err
		}
	}
	if err := b.outboxStore.PostUnderWay(ctx, r.ID, store.ReplyPost, b.opts.Now()); err != nil {
		return err
	}
	_, _, err := b.slack.PostMessageContext(ctx, b.opts.OpsChannel, slack.MsgOptionText(templates.OutcomeElsewhere(r.ChannelID, r.RequesterID, text), false), postTag(r.ID, outcomeMessage))
	b.countSlack("chat.postMessage", err)
	o.notPosted(ctx, r.ID, store.ReplyPost, err)
	if err != nil && slackTroubleOf(err) == slackRefused {
		b.log.Error("slack refused the outcome reply in the thread and in the ops channel", "request", r.ID, "channel", r.ChannelID, "err", cause, "ops_err", err)
		_ = b.outboxStore.AddAudit(ctx, store.AuditEntry{RequestID: r.ID, At: b.opts.Now(), Actor: "waleave", Action: "slack delivery failed", Detail: detail + "; ops channel: " + err.Error()})
		return nil
	}
	if err != nil {
		return err
	}
	b.log.Warn("slack refused the outcome reply; posted it in the ops channel", "request", r.ID, "channel", r.ChannelID, "err", cause)
	_ = b.outboxStore.AddAudit(ctx, store.AuditEntry{RequestID: r.ID, At: b.opts.Now(), Actor: "waleave", Action: "outcome posted in the ops channel", Detail: detail})
	return nil
}

// owed reports whether a request still owes Slack a message.
func owed(r *store.Request) bool {
	return r.CardVersion > r.CardPostedVersion || (r.ReplyNeeded && r.CardTS != "")
}

func notInChannel(err error) bool {
	code := slackErrorCode(err)
	return code == "not_in_channel" || code == "channel_not_found"
}

// slackTrouble is what a failed Slack call means for the message.
type slackTrouble int

const (
	// slackDown: an outage, a timeout or a network error; the same call
	// may work later.
	slackDown slackTrouble = iota
	// slackAppBroken: Slack refused the app's token or scopes. No message
	// can go out until someone fixes the app (and restarts waleave with
	// a new token), so every message stays owed rather than being lost.
	slackAppBroken
	// slackRefused: Slack refuses this message: the channel or the card
	// is gone or closed to the bot, or the message is malformed. Sending
	// it again cannot help.
	slackRefused
)

// slackTroubleOf classifies err. An error code Slack does not list as
// temporary means a refusal: retrying one forever would use the channel's
// rate for nothing and hold back the outcome reply behind it.
func slackTroubleOf(err error) slackTrouble {
	switch slackErrorCode(err) {
	case "", "fatal_error", "internal_error", "service_unavailable", "request_timeout", "ratelimited", "rate_limited", "team_added_to_org":
		return slackDown
	case "invalid_auth", "not_authed", "account_inactive", "token_revoked", "token_expired", "missing_scope",
		"no_permission", "not_allowed_token_type", "team_access_not_granted", "access_denied", "ekm_access_denied", "org_login_required":
		return slackAppBroken
	}
	return slackRefused
}

// slackErrorCode is the error code of Slack's {"ok": false} answer, or ""
// when err is no such answer (a network error, a timeout, an HTTP status).
func slackErrorCode(err error) string {
	var se slack.SlackErrorResponse
	if errors.As(err, &se) {
		return se.Err
	}
	// Some slack-go paths return the bare code as a plain error.
	msg := err.Error()
	if msg == "" || strings.TrimLeft(msg, "abcdefghijklmnopqrstuvwxyz_") != "" {
		return ""
	}
	return msg
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
		Location: loc, State: r.State, ConfirmedBy: r.ConfirmedBy, CancelledBy: r.CancelledBy,
		Progress: r.Progress, Outcome: r.Outcome,
		DetailsUnavailable: r.DetailsState == store.DetailsUnavailable, Size: r.GroupSize, IsAdmin: r.IsAdmin, OnlyAdmin: r.OnlyAdmin,
		AdminUnknown: r.DetailsState == store.DetailsPartial, Successors: successors, Successor: r.Successor,
		Verification: templates.Verification(r.Verification), GoodbyeUnknown: r.GoodbyeState == store.GoodbyeUnknown,
		Version: r.CardVersion,
	}
}
