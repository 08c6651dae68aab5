package bot

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"github.com/riverqueue/river"
	"github.com/riverqueue/river/rivertype"
	"github.com/slack-go/slack"
	"github.com/stretchr/testify/require"

	"github.com/waleave/waleave/fake"
	"github.com/waleave/waleave/store"
	"github.com/waleave/waleave/templates"
)

// clock is a settable test clock.
type clock struct {
	mu sync.Mutex
	t  time.Time
}

func (c *clock) Now() time.Time      { c.mu.Lock(); defer c.mu.Unlock(); return c.t }
func (c *clock) Set(t time.Time)     { c.mu.Lock(); c.t = t; c.mu.Unlock() }
func (c *clock) Add(d time.Duration) { c.mu.Lock(); c.t = c.t.Add(d); c.mu.Unlock() }
func newClock(t time.Time) *clock    { return &clock{t: t} }

var t0 = time.Date(2026, 11, 23, 9, 0, 0, 0, time.UTC)

type testBot struct {
	*Bot
	db    *store.DB
	slack *fake.Slack
	gw    *fake.Gateway
	clock *clock
}

// newTestBot builds a bot on a real SQLite file, the fake Slack and the
// fake gateway.
// It is not started: tests drive Sweep, Digest and the handlers directly.
func newTestBot(t *testing.T, opts Options) *testBot {
	t.Helper()
	ctx := context.Background()
	db, err := store.Open(ctx, "sqlite:"+filepath.Join(t.TempDir(), "w.db"))
	require.NoError(t, err)
	t.Cleanup(func() { db.Close() })
	rec := fake.NewSlack(t)
	// A fixed second, so that tests can name the ts of the nth message.
	rec.SetEpoch(1700000000)
	api := slack.New("xoxb-test", slack.OptionAPIURL(rec.APIURL()))
	clk := newClock(t0)
	opts.Now = clk.Now
	if opts.AllowedUsers == nil && opts.AllowedChannels == nil {
		opts.AllowedUsers = []string{"U0REQ1", "U0CNF2"}
	}
	gw := &fake.Gateway{}
	b, err := New(ctx, slog.New(slog.NewTextHandler(io.Discard, nil)), db, api, gw, nil, opts)
	require.NoError(t, err)
	b.ctx, b.cancel = context.WithCancel(ctx)
	t.Cleanup(func() { b.cancel(); b.background.Wait() })
	// What Start learns from auth.test.
	b.home.Store(&workspace{team: "T1"})
	return &testBot{Bot: b, db: db, slack: rec, gw: gw, clock: clk}
}

// useSlack points the bot's Slack client at another server (one that
// does not answer, for instance) or back at the fake Slack.
func (tb *testBot) useSlack(url string) {
	tb.Bot.slack = slack.New("xoxb-test", slack.OptionAPIURL(url+"/api/"))
}

// testCardTS is the ts of the cards pending records as posted.
const testCardTS = "1699999999.000001"

// pending records a pending request whose card is already in Slack.
func (tb *testBot) pending(t *testing.T, mutate func(*store.Request)) *store.Request {
	t.Helper()
	now := tb.clock.Now()
	r := &store.Request{ChannelID: "C1", RequesterID: "U0REQ1", GroupJID: "120363406289005073@g.us", CreatedAt: now, ExpiresAt: now.Add(24 * time.Hour)}
	if mutate != nil {
		mutate(r)
	}
	ctx := context.Background()
	require.NoError(t, tb.db.Requests().CreateRequest(ctx, r, nil))
	require.NoError(t, tb.db.Outbox().CardPosted(ctx, r.ID, testCardTS, r.CardVersion))
	got, err := tb.db.Requests().Request(ctx, r.ID)
	require.NoError(t, err)
	return got
}

// click is a click on a button of the card pending records, at the
// card's first version (see atVersion), in channel.
func click(user, channel, action, id string) slack.InteractionCallback {
	var ic slack.InteractionCallback
	ic.Type = slack.InteractionTypeBlockActions
	ic.Team.ID = "T1"
	ic.User.ID = user
	ic.Channel.ID = channel
	ic.Container.Type = "message"
	ic.Container.ChannelID = channel
	ic.Container.MessageTs = testCardTS
	ic.ActionCallback.BlockActions = []*slack.BlockAction{{ActionID: action, Value: id, BlockID: "leave_actions.pending.v1"}}
	return ic
}

// fromCard makes a click come from its request's card as the outbox last
// posted it (message ts and version), read from the store.
func (tb *testBot) fromCard(t *testing.T, ic slack.InteractionCallback) slack.InteractionCallback {
	t.Helper()
	a := ic.ActionCallback.BlockActions[0]
	id := a.Value
	if rid, ok := templates.RequestIDFromBlockID(a.BlockID); ok && a.ActionID == templates.ActionSuccessor {
		id = rid
	}
	r, err := tb.db.Requests().Request(context.Background(), id)
	require.NoError(t, err)
	require.NotEmpty(t, r.CardTS, "the card is posted")
	ic.Container.ChannelID, ic.Channel.ID, ic.Container.MessageTs = r.ChannelID, r.ChannelID, r.CardTS
	if a.ActionID == templates.ActionSuccessor {
		return ic
	}
	return atVersion(ic, r.CardPostedVersion)
}

// atVersion makes a click come from the card as drawn at version v.
func atVersion(ic slack.InteractionCallback, v int) slack.InteractionCallback {
	a := *ic.ActionCallback.BlockActions[0]
	a.BlockID = fmt.Sprintf("leave_actions.pending.v%d", v)
	ic.ActionCallback.BlockActions = []*slack.BlockAction{&a}
	return ic
}

// cardText renders a request's card (blocks and fallback) as one string.
func cardText(t *testing.T, r *store.Request) string {
	t.Helper()
	c := cardFor(r, requesterZone(r, time.UTC))
	b, err := json.Marshal(templates.CardBlocks(c))
	require.NoError(t, err)
	return templates.CardText(c) + string(b)
}

// leaveJob is the River job for a request, as a worker receives it.
func leaveJob(id string) *river.Job[leaveArgs] {
	return &river.Job[leaveArgs]{JobRow: &rivertype.JobRow{ID: 1, Attempt: 1}, Args: leaveArgs{RequestID: id}}
}

// confirm confirms request id as production does, through the bot's
// Confirmer and from the request's card as it is now (not yet posted: a
// click that beats the outbox's write of the ts), without a click.
func (tb *testBot) confirm(ctx context.Context, id, by string, now time.Time) error {
	r, err := tb.db.Requests().Request(ctx, id)
	if err != nil {
		return err
	}
	card := store.Card{ChannelID: r.ChannelID, TS: r.CardTS, Version: r.CardVersion}
	if card.TS == "" {
		card.TS = "1.000001"
	}
	_, err = tb.confirmer.Confirm(ctx, id, by, card, now)
	return err
}
