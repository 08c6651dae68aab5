package bot

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"net/url"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/riverqueue/river"
	"github.com/riverqueue/river/rivertype"
	"github.com/slack-go/slack"
	"github.com/stretchr/testify/require"

	"github.com/waleave/waleave/store"
	"github.com/waleave/waleave/templates"
	"github.com/waleave/waleave/whatsapp"
)

// slackRecorder is an httptest fake of Slack's Web API that records calls.
type slackRecorder struct {
	mu    sync.Mutex
	calls []recorded
	seq   int
	tz    string
	// fail, when set, answers a call with Slack's {"ok": false} and the
	// error code it returns ("" answers as usual). Refused calls are
	// recorded in refused, not calls.
	fail    func(method string, form url.Values) string
	refused []recorded
}

// failWith makes the recorder refuse calls (see fail); nil stops it.
func (s *slackRecorder) failWith(fail func(method string, form url.Values) string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.fail = fail
}

// refusals counts the refused calls of method.
func (s *slackRecorder) refusals(method string) int {
	s.mu.Lock()
	defer s.mu.Unlock()
	n := 0
	for _, c := range s.refused {
		if c.method == method {
			n++
		}
	}
	return n
}

type recorded struct {
	method string
	form   url.Values
}

func (s *slackRecorder) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	_ = r.ParseForm()
	method := strings.TrimPrefix(r.URL.Path, "/api/")
	s.mu.Lock()
	if s.fail != nil {
		if code := s.fail(method, r.Form); code != "" {
			s.refused = append(s.refused, recorded{method, r.Form})
			s.mu.Unlock()
			w.Header().Set("Content-Type", "application/json")
			fmt.Fprintf(w, `{"ok":false,"error":%q}`, code)
			return
		}
	}
	s.calls = append(s.calls, recorded{method, r.Form})
	s.seq++
	ts := fmt.Sprintf("1700000000.%06d", s.seq)
	tz := s.tz
	s.mu.Unlock()
	w.Header().Set("Content-Type", "application/json")
	switch method {
	case "auth.test":
		fmt.Fprint(w, `{"ok":true,"team":"Test","team_id":"T1","user_id":"U0BOT","bot_id":"B0BOT"}`)
	case "users.info":
		fmt.Fprintf(w, `{"ok":true,"user":{"id":%q,"tz":%q}}`, r.Form.Get("user"), tz)
	case "chat.getPermalink":
		fmt.Fprintf(w, `{"ok":true,"channel":%q,"permalink":"https://slack.example/archives/%s/p%s"}`, r.Form.Get("channel"), r.Form.Get("channel"), strings.ReplaceAll(r.Form.Get("message_ts"), ".", ""))
	default:
		_ = json.NewEncoder(w).Encode(map[string]any{"ok": true, "channel": r.Form.Get("channel"), "ts": ts})
	}
}

func (s *slackRecorder) of(method string) []recorded {
	s.mu.Lock()
	defer s.mu.Unlock()
	var out []recorded
	for _, c := range s.calls {
		if c.method == method {
			out = append(out, c)
		}
	}
	return out
}

// fakeGateway is an in-memory whatsapp.Gateway for the bot's unit tests
// (the real clients are tested against HTTP fakes in package whatsapp and
// end to end in package main).
type fakeGateway struct {
	mu     sync.Mutex
	leaves []string
	sends  []string
	groups []whatsapp.GroupSummary
	// The fields below are optional; their zero values keep the defaults
	// (Group fails with ErrInvalid, Groups lists groups, Promote works,
	// State and Me name no instance JID).
	group     func(ctx context.Context, ref string) (whatsapp.Group, error)
	groupsErr error
	promote   func(group, participant string) error
	me        string
	// sendErrs and leaveErrs are the answers of the next SendText and
	// Leave calls, in order; once used up, the calls succeed.
	sendErrs, leaveErrs []error
	// left holds the groups a Leave left (one that succeeded or answered
	// ErrUnconfirmed, a success status): Group answers them with the
	// gateway's not-a-member error, as a group the instance is out of,
	// unless stay is set (WhatsApp kept the instance in the group
	// whatever the gateway answered).
	left map[string]bool
	stay bool
	// onLeave, when set, runs in Leave after the gateway acted and before
	// it answers (a test's crash).
	onLeave func()
	// calls lists every call in order ("leave", "send", "group", "groups",
	// "promote", "state", "me"), for tests of ordering and call counts.
	calls []string
}

func (g *fakeGateway) called(op string) {
	g.mu.Lock()
	defer g.mu.Unlock()
	g.calls = append(g.calls, op)
}

// callsOf returns the calls made so far, in order, optionally only op's.
func (g *fakeGateway) callsOf(op string) []string {
	g.mu.Lock()
	defer g.mu.Unlock()
	var out []string
	for _, c := range g.calls {
		if op == "" || c == op {
			out = append(out, c)
		}
	}
	return out
}

func (g *fakeGateway) Leave(_ context.Context, jid string) (whatsapp.LeaveResult, error) {
	g.called("leave")
	g.mu.Lock()
	defer g.mu.Unlock()
	g.leaves = append(g.leaves, jid)
	var err error
	if len(g.leaveErrs) > 0 {
		err = g.leaveErrs[0]
		g.leaveErrs = g.leaveErrs[1:]
	}
	if err == nil || errors.Is(err, whatsapp.ErrUnconfirmed) {
		if g.left == nil {
			g.left = map[string]bool{}
		}
		g.left[jid] = true
	}
	if g.onLeave != nil {
		g.onLeave()
	}
	return whatsapp.LeaveResult{}, err
}
func (g *fakeGateway) SendText(_ context.Context, chat, text string) (string, error) {
	g.called("send")
	g.mu.Lock()
	defer g.mu.Unlock()
	g.sends = append(g.sends, chat+": "+text)
	if len(g.sendErrs) > 0 {
		err := g.sendErrs[0]
		g.sendErrs = g.sendErrs[1:]
		return "", err
	}
	return "M1", nil
}
func (g *fakeGateway) Group(ctx context.Context, ref string) (whatsapp.Group, error) {
	g.called("group")
	g.mu.Lock()
	fn, gone := g.group, g.left[ref] && !g.stay
	g.mu.Unlock()
	if gone {
		return whatsapp.Group{}, &whatsapp.Error{Provider: "greenapi", Op: "getGroupData", Status: 404, Kind: whatsapp.ErrNotMember}
	}
	if fn != nil {
		return fn(ctx, ref)
	}
	return whatsapp.Group{}, whatsapp.ErrInvalid
}
func (g *fakeGateway) Groups(context.Context) ([]whatsapp.GroupSummary, error) {
	g.called("groups")
	g.mu.Lock()
	defer g.mu.Unlock()
	if g.groupsErr != nil {
		return nil, g.groupsErr
	}
	return g.groups, nil
}
func (g *fakeGateway) Promote(_ context.Context, group, participant string) error {
	g.called("promote")
	g.mu.Lock()
	fn := g.promote
	g.mu.Unlock()
	if fn != nil {
		return fn(group, participant)
	}
	return nil
}
func (g *fakeGateway) State(context.Context) (whatsapp.State, error) {
	g.called("state")
	g.mu.Lock()
	defer g.mu.Unlock()
	return whatsapp.State{Connected: true, Me: g.me}, nil
}
func (g *fakeGateway) Me(context.Context) (string, error) {
	g.called("me")
	g.mu.Lock()
	defer g.mu.Unlock()
	return g.me, nil
}

func (g *fakeGateway) DryRun() bool { return false }

// InviteLink is the link the group's details carry, as Green API's.
func (g *fakeGateway) InviteLink(_ context.Context, grp whatsapp.Group) (string, error) {
	return grp.InviteLink, nil
}

// clock is a settable test clock.
type clock struct {
	mu sync.Mutex
	t  time.Time
}

func (c *clock) Now() time.Time             { c.mu.Lock(); defer c.mu.Unlock(); return c.t }
func (c *clock) Set(t time.Time)            { c.mu.Lock(); c.t = t; c.mu.Unlock() }
func (c *clock) Add(d time.Duration)        { c.mu.Lock(); c.t = c.t.Add(d); c.mu.Unlock() }
func newClock(t time.Time) *clock           { return &clock{t: t} }
func (g *fakeGateway) leaveCount() int      { g.mu.Lock(); defer g.mu.Unlock(); return len(g.leaves) }
func (s *slackRecorder) count(m string) int { return len(s.of(m)) }

var t0 = time.Date(2026, 11, 23, 9, 0, 0, 0, time.UTC)

type testBot struct {
	*Bot
	db    *store.DB
	slack *slackRecorder
	gw    *fakeGateway
	clock *clock
}

// newTestBot builds a bot on a real SQLite file and a recording Slack fake.
// It is not started: tests drive Sweep, Digest and the handlers directly.
func newTestBot(t *testing.T, opts Options) *testBot {
	t.Helper()
	ctx := context.Background()
	db, err := store.Open(ctx, "sqlite:"+filepath.Join(t.TempDir(), "w.db"))
	require.NoError(t, err)
	t.Cleanup(func() { db.Close() })
	rec := &slackRecorder{tz: "Europe/Berlin"}
	srv := httptest.NewServer(rec)
	t.Cleanup(srv.Close)
	api := slack.New("xoxb-test", slack.OptionAPIURL(srv.URL+"/api/"))
	clk := newClock(t0)
	opts.Now = clk.Now
	if opts.AllowedUsers == nil && opts.AllowedChannels == nil {
		opts.AllowedUsers = []string{"U0REQ1", "U0CNF2"}
	}
	gw := &fakeGateway{}
	b, err := New(ctx, slog.New(slog.NewTextHandler(io.Discard, nil)), db, api, gw, nil, opts)
	require.NoError(t, err)
	b.ctx, b.cancel = context.WithCancel(ctx)
	t.Cleanup(func() { b.cancel(); b.side.Wait() })
	// What Start learns from auth.test.
	b.home.Store(&workspace{team: "T1"})
	return &testBot{Bot: b, db: db, slack: rec, gw: gw, clock: clk}
}

// useSlack points the bot's Slack client at another fake (a wrapper of the
// recorder, for instance).
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
	require.NoError(t, tb.db.CreateRequest(ctx, r, nil))
	require.NoError(t, tb.db.CardPosted(ctx, r.ID, testCardTS, r.CardVersion))
	got, err := tb.db.Request(ctx, r.ID)
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
	r, err := tb.db.Request(context.Background(), id)
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
