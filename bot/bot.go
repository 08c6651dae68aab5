package bot

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"net/url"
	"runtime/debug"
	"sync"
	"sync/atomic"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/riverqueue/river"
	"github.com/riverqueue/river/riverdriver"
	"github.com/riverqueue/river/riverdriver/riverdatabasesql"
	"github.com/riverqueue/river/riverdriver/riversqlite"
	"github.com/riverqueue/river/rivermigrate"
	"github.com/slack-go/slack"

	"github.com/waleave/waleave/store"
	"github.com/waleave/waleave/templates"
	"github.com/waleave/waleave/whatsapp"
)

// Options are the bot's settings. Zero values mean the documented
// defaults; only the authorization lists have no default (deny by default).
type Options struct {
	// Now is the clock; tests inject a fixed one.
	Now func() time.Time
	// AllowedUsers may request and confirm anywhere; AllowedChannels lets
	// anyone request and confirm in those channels. With both empty every
	// request is refused.
	AllowedUsers    []string
	AllowedChannels []string
	// Approvers, when set, are the only people who may confirm.
	Approvers []string
	// TwoPerson requires the confirmer to differ from the requester.
	TwoPerson bool
	// DefaultGoodbye is used when the command gives no goodbye text.
	DefaultGoodbye *templates.GoodbyeTemplate
	RequestTTL     time.Duration // default 24h
	RemindAfter    time.Duration // default 1h
	MaxAttempts    int           // default 5
	// Location is the zone for times shown to the ops channel.
	Location *time.Location
	// OpsChannel receives reminders and digests; empty turns them off.
	OpsChannel string
	// ChannelRate is how many Slack messages per second the bot sends to
	// one channel (Slack allows about one); default 1.
	ChannelRate float64
	// GatewayTimeout bounds one gateway call; default 8s.
	GatewayTimeout time.Duration
	// Backoff is the first retry delay of a gateway step; it doubles per
	// attempt, with jitter. Default 1s.
	Backoff time.Duration
	// Digest is when the ops digest is posted (in Location); nil or an
	// empty OpsChannel turns it off.
	Digest Schedule
	// SweepEvery is how often expiries and reminders are checked; default
	// 10s.
	SweepEvery time.Duration
	// PollInterval is how often idle job and outbox loops look for work
	// that another process added; default 1s for the outbox, 50ms for jobs.
	PollInterval time.Duration
	// DirectoryEvery is how often the group directory, which names are
	// resolved against, is listed from the gateway; default 6h. It is
	// also listed at start and when a name is not found.
	DirectoryEvery time.Duration
	// DetailsTimeout bounds the wait for a group's details (size, admins)
	// before its card is posted without them; default 2s.
	DetailsTimeout time.Duration
	// VerifyTimeout bounds the group lookup after a leave (SPEC §5: the
	// outcome reply waits a few seconds for it at most); default 3s. It
	// lengthens a leave run, and so how long a dead replica's leave
	// waits before another process takes it over (replicas.go).
	VerifyTimeout time.Duration
	// Retention is how long a request is kept after it ended (SPEC §11,
	// WALEAVE_RETENTION); zero keeps everything.
	Retention time.Duration
	// UserRate is how many new requests one person may make per minute;
	// MaxPending how many requests one person, or one channel, may have
	// waiting for confirmation. Zero means no limit (the configuration
	// supplies SPEC's defaults).
	UserRate, MaxPending int
	// BulkMax is the most groups one bulk request may hold
	// (WALEAVE_BULK_MAX); default 500.
	BulkMax int
	// HomeDebounce is the least time between two Home tab publications
	// for one person; default 2s (see homeChanged).
	HomeDebounce time.Duration
	// Numbers, when set, are the WhatsApp numbers the bot serves, and
	// New's gateway must be nil; without them New's gateway is the one
	// number, named store.DefaultNumber.
	Numbers []Number
}

func (o *Options) setDefaults() {
	if o.Now == nil {
		o.Now = time.Now
	}
	if o.RequestTTL <= 0 {
		o.RequestTTL = 24 * time.Hour
	}
	if o.RemindAfter <= 0 {
		o.RemindAfter = time.Hour
	}
	if o.MaxAttempts <= 0 {
		o.MaxAttempts = 5
	}
	if o.Location == nil {
		o.Location = time.UTC
	}
	if o.ChannelRate <= 0 {
		o.ChannelRate = 1
	}
	if o.GatewayTimeout <= 0 {
		o.GatewayTimeout = 8 * time.Second
	}
	if o.Backoff <= 0 {
		o.Backoff = time.Second
	}
	if o.SweepEvery <= 0 {
		o.SweepEvery = 10 * time.Second
	}
	if o.PollInterval <= 0 {
		o.PollInterval = time.Second
	}
	if o.DirectoryEvery <= 0 {
		o.DirectoryEvery = 6 * time.Hour
	}
	if o.DetailsTimeout <= 0 {
		o.DetailsTimeout = 2 * time.Second
	}
	if o.BulkMax <= 0 {
		o.BulkMax = 500
	}
	if o.HomeDebounce <= 0 {
		o.HomeDebounce = homeDebounce
	}
	if o.VerifyTimeout <= 0 {
		o.VerifyTimeout = 3 * time.Second
	}
}

// Bot is waleave's core: it turns slash commands and button clicks into
// durable requests and jobs, does the WhatsApp work in River jobs, and
// keeps the Slack cards and threads up to date through an outbox. Both
// transports (HTTP and Socket Mode) call the same Command and Interaction
// methods.
type Bot struct {
	log *slog.Logger
	// The store, as each file needs it: every field holds the same
	// stores (see useStore), behind the interface declared in the file named.
	deliveryStore  deliveryStore  // auth.go
	clickStore     clickStore     // click.go
	commandStore   commandStore   // command.go
	detailsStore   detailsStore   // details.go
	directoryStore directoryStore // directory.go
	formStore      formStore      // form.go
	homeStore      homeStore      // home.go
	leaveStore     leaveStore     // leave.go
	numbersStore   numbersStore   // numbers.go
	outboxStore    outboxStore    // outbox.go
	replicaStore   replicaStore   // replicas.go
	retentionStore retentionStore // retention.go
	sweepStore     sweepStore     // sweep.go
	bulkStore      bulkStore      // bulk.go
	metaStore      metaStore      // sweep.go
	// singleProcess is the store's SingleProcess (see Start).
	singleProcess bool
	slack         *slack.Client
	// numbers are the WhatsApp numbers served, in configuration order;
	// each request names its own (see num).
	numbers []*number
	// dryRun is set when no number's gateway sends anything
	// (WA_PROVIDER=dryrun): messages not about one request then say
	// "dry run"; a card or outcome says it when its number's does.
	dryRun  bool
	opts    Options
	metrics *metrics
	jobs    *river.Client[*sql.Tx]
	// confirmer confirms concurrent clicks in shared transactions, with
	// their leave jobs.
	confirmer *store.Confirmer
	outbox    *outbox
	// homes is who has the Home tab open lately (see homeChanged).
	homes *homeTabs
	// home is the Slack workspace the token belongs to, learned from
	// auth.test at start; nil until then (see foreign).
	home atomic.Pointer[workspace]

	// background tracks the goroutines that outlive a request (follow-ups
	// after an ack, group-details fetches, directory refreshes, learning
	// the workspace), so Stop can wait for them; followups queues and
	// bounds the follow-ups.
	background sync.WaitGroup
	followups  *followups
	// ctx is the bot's lifetime, set by Start; follow-ups use it rather
	// than the request's context, which ends with the response.
	ctx    context.Context
	cancel context.CancelFunc
	// beats is the heartbeat goroutine (PostgreSQL only, see
	// replicas.go); stopBeating ends it.
	beats       sync.WaitGroup
	stopBeating context.CancelFunc
}

// New builds the bot and migrates River's tables. Call Start to begin
// working and Stop to finish.
func New(ctx context.Context, log *slog.Logger, db *store.DB, api *slack.Client, gw whatsapp.Gateway, reg prometheus.Registerer, opts Options) (*Bot, error) {
	opts.setDefaults()
	b := &Bot{log: log, singleProcess: db.SingleProcess(), slack: api, opts: opts, metrics: newMetrics(reg), followups: newFollowups(opts.Now),
		homes: &homeTabs{viewers: map[string]time.Time{}, due: map[string]bool{}}}
	b.useStore(db)
	b.outbox = newOutbox(b)
	numbers := opts.Numbers
	if len(numbers) == 0 {
		numbers = []Number{{Name: store.DefaultNumber, Gateway: gw}}
	}
	// Whatever leaves a card or reply owed to Slack wakes the poster.
	db.Outbox().OnOwed(b.outbox.poke)
	b.dryRun = true
	for _, n := range numbers {
		num := newNumber(n)
		b.numbers = append(b.numbers, num)
		b.dryRun = b.dryRun && num.dryRun
	}

	// Both drivers work on *sql.Tx, so a job insert joins the store's
	// transaction the same way on either database.
	var driver riverdriver.Driver[*sql.Tx]
	// SQLite has no LISTEN/NOTIFY: River polls, and a short poll keeps
	// click → leave latency low (p50 21 ms, p99 52 ms in
	// BenchmarkClickToLeave). On PostgreSQL a job inserted by any replica
	// also wakes the replicas' fetchers through LISTEN, but with River's
	// 1 s poll behind it some clicks still waited for the poll (p99
	// 1.07 s, p50 19 ms); with the same 50 ms poll the p99 is 49 ms, for
	// about 20 small indexed queries a second per idle replica.
	jobPoll := 50 * time.Millisecond
	switch db.Dialect() {
	case store.PostgreSQL:
		driver = riverdatabasesql.NewWithPgxListener(db.Jobs().JobPool(), db.Jobs().ListenerPool())
	default:
		driver = riversqlite.New(db.Jobs().JobPool())
	}
	migrator, err := rivermigrate.New(driver, nil)
	if err != nil {
		return nil, fmt.Errorf("river migrator: %w", err)
	}
	// rivermigrate takes no lock of its own: replicas starting together
	// would race to create River's tables.
	err = db.WithMigrationLock(ctx, func(ctx context.Context) error {
		_, err := migrator.Migrate(ctx, rivermigrate.DirectionUp, nil)
		return err
	})
	if err != nil {
		return nil, fmt.Errorf("migrate river: %w", err)
	}
	workers := river.NewWorkers()
	river.AddWorker(workers, &leaveWorker{b: b})
	river.AddWorker(workers, &sweepWorker{b: b})
	river.AddWorker(workers, &digestWorker{b: b})
	river.AddWorker(workers, &directoryWorker{b: b})
	river.AddWorker(workers, &retentionWorker{b: b})
	b.jobs, err = river.NewClient(driver, &river.Config{
		Logger:            slog.New(riverLogHandler{log.Handler()}).With("component", "river"),
		ErrorHandler:      jobErrorLog{log},
		Queues:            map[string]river.QueueConfig{river.QueueDefault: {MaxWorkers: 20}},
		FetchCooldown:     20 * time.Millisecond,
		FetchPollInterval: jobPoll,
		// The periodic jobs (sweep, digest, directory) make several
		// Slack calls; a leave run has its own, shorter timeout
		// (leaveRunTimeout). A dead replica's leave jobs are requeued when
		// its heartbeat stops (replicas.go); the rescuer (on the leader,
		// every 30 s, for jobs running longer than RescueStuckJobsAfter,
		// which must exceed every job's timeout) is the backstop for
		// clients that never beat.
		JobTimeout:           time.Minute,
		RescueStuckJobsAfter: time.Minute + 10*time.Second,
		MaxAttempts:          25,
		Workers:              workers,
		PeriodicJobs:         b.periodicJobs(),
	})
	if err != nil {
		return nil, fmt.Errorf("river client: %w", err)
	}
	b.confirmer = db.Requests().NewConfirmer(b.enqueueLeaves)
	return b, nil
}

// stores are the store's concerns together: each file's interface picks
// its methods from them, whichever concern they belong to. (Only the
// Directory method itself is hidden, by the field of that name; the bot
// lists the directory by number.)
type stores struct {
	*store.Requests
	*store.Outbox
	*store.Directory
	*store.Jobs
}

// useStore gives each file its view of db.
func (b *Bot) useStore(db *store.DB) {
	s := stores{db.Requests(), db.Outbox(), db.Directory(), db.Jobs()}
	b.deliveryStore, b.clickStore, b.commandStore, b.detailsStore = s, s, s, s
	b.directoryStore, b.formStore, b.homeStore, b.leaveStore = s, s, s, s
	b.numbersStore, b.outboxStore, b.replicaStore, b.retentionStore = s, s, s, s
	b.sweepStore, b.metaStore, b.bulkStore = s, db, s
}

// say is text as the bot posts it about a request: with the dry run's
// note when the gateway sends nothing.
func (b *Bot) say(text string) string {
	if b.dryRun {
		return templates.DryRun(text)
	}
	return text
}

// enqueueLeaves inserts the leave jobs of requests just confirmed in tx,
// in one statement. A scheduled request's job waits for its time.
func (b *Bot) enqueueLeaves(ctx context.Context, tx *sql.Tx, confirmed []store.Confirmation) error {
	params := make([]river.InsertManyParams, len(confirmed))
	for i, c := range confirmed {
		opts := &river.InsertOpts{MaxAttempts: 25}
		if !c.RunAt.IsZero() {
			opts.ScheduledAt = c.RunAt
		}
		params[i] = river.InsertManyParams{Args: leaveArgs{RequestID: c.RequestID}, InsertOpts: opts}
	}
	if _, err := b.jobs.InsertManyFastTx(ctx, tx, params); err != nil {
		return fmt.Errorf("enqueue leave jobs: %w", err)
	}
	return nil
}

// Start starts the job workers and the Slack outbox. On SQLite, jobs
// that were running, outbox leases held and River's leadership, when the
// previous process died, are released at once: only one process uses the
// database, so a job left "running" has no worker, and waiting for
// River's rescuer (which only looks at jobs older than
// RescueStuckJobsAfter) would delay it. On PostgreSQL all three may
// belong to live replicas: a dead replica's jobs are requeued once its
// heartbeat stops (replicas.go), its leases and its leadership run out.
func (b *Bot) Start(ctx context.Context) error {
	b.ctx, b.cancel = context.WithCancel(context.WithoutCancel(ctx))
	if err := b.learnWorkspace(ctx); err != nil {
		// Slack may be briefly unreachable: start anyway, refusing every
		// command and click until the workspace is known.
		b.log.Warn("the Slack workspace is unknown; commands and clicks are refused until auth.test answers", "err", err)
		b.keepLearningWorkspace(15 * time.Second)
	}
	if b.singleProcess {
		if err := b.replicaStore.ReclaimAll(ctx); err != nil {
			return err
		}
	} else {
		var beatCtx context.Context
		beatCtx, b.stopBeating = context.WithCancel(b.ctx)
		if err := b.startHeartbeat(beatCtx); err != nil {
			return err
		}
	}
	if err := b.jobs.Start(b.ctx); err != nil {
		if b.stopBeating != nil {
			b.stopHeartbeat(b.stopBeating)
		}
		b.cancel()
		return fmt.Errorf("start jobs: %w", err)
	}
	b.outbox.start(b.ctx)
	return nil
}

// Stop stops taking new jobs, lets running ones finish until ctx ends
// (then cancels them; they run again on the next start), drains the
// outbox's in-flight posts and waits for follow-ups.
func (b *Bot) Stop(ctx context.Context) error {
	err := b.jobs.Stop(ctx)
	if errors.Is(err, context.DeadlineExceeded) || errors.Is(err, context.Canceled) {
		cctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		err = b.jobs.StopAndCancel(cctx)
		cancel()
	}
	if b.stopBeating != nil {
		b.stopHeartbeat(b.stopBeating)
	}
	b.cancel()
	b.outbox.wait()
	b.background.Wait()
	return err
}

// afterAck runs fn after the ack, on one of at most maxFollowupsRunning
// workers, bounded by a timeout and by the bot's life; when too many are
// waiting it is dropped and counted (see followups).
func (b *Bot) afterAck(fn func(ctx context.Context)) {
	ok, start := b.followups.add(fn)
	if !ok {
		b.metrics.followupsDropped.Inc()
		return
	}
	if start {
		b.background.Add(1)
		go b.followupWorker()
	}
}

// followupWorker runs queued follow-ups until the queue is empty.
func (b *Bot) followupWorker() {
	defer b.background.Done()
	for {
		fu, ok := b.followups.next()
		if !ok {
			return
		}
		ctx, cancel := context.WithDeadline(b.ctx, fu.deadline)
		if ctx.Err() == nil {
			b.runFollowup(ctx, fu.fn)
		}
		cancel()
	}
}

// runFollowup runs one follow-up, logging a panic rather than letting it
// end the process (and the other workers' queued replies with it).
func (b *Bot) runFollowup(ctx context.Context, fn func(context.Context)) {
	defer func() {
		if p := recover(); p != nil {
			b.log.Error("follow-up panicked", "panic", p, "stack", string(debug.Stack()))
		}
	}()
	fn(ctx)
}

// ephemeral tells the person who clicked something, after the ack, unless
// they were told the same about the same card (the message clicked) moments
// ago: a double click is answered once.
//
// It goes through chat.postEphemeral, and through the click's response_url
// when Slack refuses that: chat.postEphemeral needs the bot in the channel,
// and cards reach public channels the bot has not joined
// (chat:write.public).
//
// ic is a pointer, and the follow-up keeps only the strings it needs: the
// callback is almost 4 KB, and one more copy of it on each click's stack,
// or in each of hundreds of queued follow-ups, showed in peak memory under
// a burst of clicks.
func (b *Bot) ephemeral(ic *slack.InteractionCallback, text string) {
	channel, user, responseURL := channelOf(*ic), ic.User.ID, ic.ResponseURL
	if b.followups.repeat(ephemeralKey{channel, user, ic.Container.MessageTs, text}) {
		return
	}
	b.afterAck(func(ctx context.Context) {
		_, err := b.slack.PostEphemeralContext(ctx, channel, user, slack.MsgOptionText(text, false))
		if err != nil && responseURL != "" && slackTroubleOf(err) == slackRefused {
			err = postResponse(ctx, responseURL, &slack.WebhookMessage{ResponseType: slack.ResponseTypeEphemeral, Text: text})
		}
		if err != nil {
			b.log.Warn("ephemeral reply failed", "channel", channel, "user", user, "err", err)
		}
	})
}

// postResponse posts msg to a Slack response_url, only on Slack's hooks
// host (see checkResponseURL) and following no redirect. The URL is a
// credential (anyone holding it may post in the channel for 30 minutes),
// and Go's *url.Error quotes it, so a failure's error keeps only the cause.
func postResponse(ctx context.Context, responseURL string, msg *slack.WebhookMessage) error {
	if err := checkResponseURL(responseURL); err != nil {
		return fmt.Errorf("post to response_url: %w", err)
	}
	err := slack.PostWebhookCustomHTTPContext(ctx, responseURL, &http.Client{Timeout: 10 * time.Second, CheckRedirect: NoRedirects}, msg)
	if ue, ok := errors.AsType[*url.Error](err); ok {
		return fmt.Errorf("post to response_url: %s: %w", ue.Op, ue.Err)
	}
	return err
}
