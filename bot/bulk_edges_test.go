package bot

import (
	"context"
	"net/url"
	"testing"
	"time"

	"github.com/slack-go/slack"
	"github.com/stretchr/testify/require"

	"github.com/waleave/waleave/leave"
	"github.com/waleave/waleave/store"
	"github.com/waleave/waleave/templates"
	"github.com/waleave/waleave/whatsapp"
)

// These tests each kill mutants of the bulk code that the other bulk
// tests let live: the limits and allow-lists a bulk command is held to,
// who may press Stop and from where, and what the outbox draws.

// request reads request id afresh.
func (tb *testBot) request(t *testing.T, id string) *store.Request {
	t.Helper()
	r, err := tb.db.Requests().Request(context.Background(), id)
	require.NoError(t, err)
	return r
}

// WALEAVE_BULK_MAX is the most groups allowed, not one more than allowed.
func TestBulk_ExactlyBulkMaxIsAllowed(t *testing.T) {
	tb := newTestBot(t, Options{BulkMax: 2})
	withDirectory(t, tb)
	msg := tb.command("bulk ops")
	require.Contains(t, msg.Text, "for 2 WhatsApp groups recorded", msg.Text)
}

// A bulk command counts against WALEAVE_MAX_PENDING as one request.
func TestBulk_HeldToMaxPending(t *testing.T) {
	tb := newTestBot(t, Options{MaxPending: 1})
	withDirectory(t, tb)
	require.Contains(t, tb.command("bulk ops").Text, "for 2 WhatsApp groups recorded")
	msg := tb.command("bulk marketing")
	require.Contains(t, msg.Text, "Nothing was recorded", msg.Text)
	require.Len(t, tb.requests(t), 1)
}

// A number narrowed to other people is not used for them in bulk either.
func TestBulk_NumberAllowListHolds(t *testing.T) {
	tb, _, _ := twoNumbers(t)
	ctx := context.Background()
	// Only support is in Phoenix rollout; U0REQ1 may not use support.
	msg := tb.Command(ctx, slack.SlashCommand{TeamID: "T1", UserID: "U0REQ1", ChannelID: "C1", Text: "bulk rollout"})
	require.Contains(t, msg.Text, templates.NotAllowedNumber("support"))
	require.Empty(t, tb.requests(t))
}

// A group new since the directory was read is found: an empty match
// refreshes the directory once.
func TestBulk_EmptyMatchRefreshesTheDirectory(t *testing.T) {
	tb := newTestBot(t, Options{})
	withDirectory(t, tb)
	tb.gw.Locked(func() {
		tb.gw.GroupList = append(directoryGroups(), whatsapp.GroupSummary{JID: jidNew, Subject: "Night shift"})
	})
	tb.clock.Add(time.Minute) // past the least gap between two listings
	msg := tb.command("bulk night")
	require.Contains(t, msg.Text, "for 1 WhatsApp group recorded", msg.Text)
	kids := tb.children(t, recordedID(t, msg.Text))
	require.Len(t, kids, 1)
	require.Equal(t, jidNew, kids[0].GroupJID)
}

// The default goodbye is rendered for each group, naming it.
func TestBulk_DefaultGoodbyeNamesEachGroup(t *testing.T) {
	g, err := templates.ParseGoodbye("Leaving {{.GroupSubject}}, bye!")
	require.NoError(t, err)
	tb := newTestBot(t, Options{DefaultGoodbye: g})
	withDirectory(t, tb)
	id := recordedID(t, tb.command("bulk ops").Text)
	var goodbyes []string
	for _, c := range tb.children(t, id) {
		goodbyes = append(goodbyes, c.Goodbye)
	}
	require.ElementsMatch(t, []string{"Leaving Ops team, bye!", "Leaving OPS TEAM, bye!"}, goodbyes)
}

// Stop is pressed on the card: the same button elsewhere (another
// message) stops nothing, even for the requester.
func TestBulk_StopOnlyFromTheCard(t *testing.T) {
	ctx := context.Background()
	tb := newTestBot(t, Options{})
	withDirectory(t, tb)
	id := recordedID(t, tb.command("bulk ops").Text)
	tb.deliver(id)
	require.NoError(t, tb.confirm(ctx, id, "U0CNF2", tb.clock.Now()))
	ic := click("U0REQ1", "C1", templates.ActionStop, id)
	ic.Container.MessageTs = "1699999999.999999" // not the card
	tb.Interaction(ctx, ic)
	require.Empty(t, tb.request(t, id).CancelledBy)
	require.Equal(t, leave.Confirmed, tb.request(t, id).State)

	ic.Container.MessageTs = tb.request(t, id).CardTS
	tb.Interaction(ctx, ic)
	require.Equal(t, "U0REQ1", tb.request(t, id).CancelledBy, "from the card it stops")
}

// Whoever may confirm may stop, but a number's own allow-list narrows
// that (no approvers configured): one who may not use the number may not
// stop its bulk request.
func TestBulk_StopHeldToTheNumbersAllowList(t *testing.T) {
	ctx := context.Background()
	tb, _, _ := twoNumbers(t)
	msg := tb.Command(ctx, slack.SlashCommand{TeamID: "T1", UserID: "U0CNF2", ChannelID: "C1", Text: "bulk phoenix"})
	id := recordedID(t, msg.Text)
	require.Equal(t, "support", tb.request(t, id).Number)
	tb.deliver(id)
	require.NoError(t, tb.confirm(ctx, id, "U0CNF2", tb.clock.Now()))
	stop := func(user string) *store.Request {
		ic := click(user, "C1", templates.ActionStop, id)
		ic.Container.MessageTs = tb.request(t, id).CardTS
		tb.Interaction(ctx, ic)
		return tb.request(t, id)
	}
	require.Empty(t, stop("U0REQ1").CancelledBy, "U0REQ1 may not use support")
	require.Equal(t, "U0CNF2", stop("U0CNF2").CancelledBy, "the requester may")
}

// A scheduled bulk request is confirmed; Cancel on the ops channel's
// notice stops it (Cancel itself refuses a confirmed bulk request).
func TestBulk_OpsCancelStopsAScheduledBulk(t *testing.T) {
	ctx := context.Background()
	tb := newTestBot(t, Options{OpsChannel: "COPS"})
	withDirectory(t, tb)
	id := recordedID(t, tb.command("bulk ops --in 2h").Text)
	tb.deliver(id)
	require.NoError(t, tb.confirm(ctx, id, "U0CNF2", tb.clock.Now()))
	ic := click("U0REQ1", "COPS", templates.ActionCancel, id)
	ic.Container.MessageTs = "1699999999.000777" // the ops channel's notice
	tb.Interaction(ctx, ic)
	r := tb.request(t, id)
	require.Equal(t, leave.Cancelled, r.State, "nothing had started")
	require.Equal(t, "U0REQ1", r.CancelledBy)
	for _, c := range tb.children(t, id) {
		require.Equal(t, leave.Cancelled, c.State)
	}
}

// A bulk request cancelled before confirmation says so on its card;
// nobody stopped it.
func TestBulk_CancelledCardIsNotStopped(t *testing.T) {
	ctx := context.Background()
	tb := newTestBot(t, Options{})
	withDirectory(t, tb)
	id := recordedID(t, tb.command("bulk ops").Text)
	tb.deliver(id)
	tb.Interaction(ctx, tb.fromCard(t, click("U0REQ1", "C1", templates.ActionCancel, id)))
	require.Equal(t, leave.Cancelled, tb.request(t, id).State)
	tb.deliver(id)
	updates := tb.slack.Answered("chat.update")
	require.NotEmpty(t, updates)
	text := updates[len(updates)-1].Form.Get("blocks")
	require.Contains(t, text, "Bulk leave cancelled")
	require.NotContains(t, text, "Stopped by")
}

// A bulk request's card is drawn from its groups: no lookup of a group
// of its own (it has none) before it is posted.
func TestBulk_CardNeedsNoGroupLookup(t *testing.T) {
	tb := newTestBot(t, Options{})
	withDirectory(t, tb)
	id := recordedID(t, tb.command("bulk ops").Text)
	tb.deliver(id)
	require.Len(t, tb.slack.Cards(), 1)
	require.Empty(t, tb.gw.CallsOf("group"))
}

// A bulk card is updated at most once a second, counted from Slack's
// answer to the last update; an update due sooner waits in the table
// until then, not in the poster.
func TestBulk_CardUpdatesPacedFromTheAnswer(t *testing.T) {
	ctx := context.Background()
	tb := newTestBot(t, Options{})
	withDirectory(t, tb)
	id := recordedID(t, tb.command("bulk ops").Text)
	tb.deliver(id)
	require.NoError(t, tb.confirm(ctx, id, "U0CNF2", tb.clock.Now()))
	// Slack takes 600 ms to answer each update.
	tb.slack.FailWith(func(method string, _ url.Values) string {
		if method == "chat.update" {
			tb.clock.Add(600 * time.Millisecond)
		}
		return ""
	})
	start := tb.clock.Now()
	tb.deliver(id)
	require.Equal(t, 1, tb.slack.Count("chat.update"))

	// A group ends 1.1 s after the update began, 0.5 s after its answer.
	kid := tb.children(t, id)[0]
	_, err := tb.db.Requests().ClaimRun(ctx, kid.ID, tb.clock.Now(), time.Minute)
	require.NoError(t, err)
	_, err = tb.db.Requests().Finish(ctx, kid.ID, store.Outcome{Code: leave.OutcomeLeft}, tb.clock.Now())
	require.NoError(t, err)
	tb.clock.Add(500 * time.Millisecond)
	require.Equal(t, start.Add(1100*time.Millisecond), tb.clock.Now())
	tb.deliver(id)
	require.Equal(t, 1, tb.slack.Count("chat.update"), "less than a second after the answer")
	owed, err := tb.db.Outbox().Owed(ctx, start.Add(1599*time.Millisecond), 10)
	require.NoError(t, err)
	require.Empty(t, owed, "the update waits in the table")
	owed, err = tb.db.Outbox().Owed(ctx, start.Add(1601*time.Millisecond), 10)
	require.NoError(t, err)
	require.Equal(t, []store.OwedRef{{ID: id, ChannelID: "C1"}}, owed, "due a second after the answer")
}

// A group stopped while its run waited (here: for its lookup) sends
// nothing, and its run ends quietly rather than failing to be retried;
// with or without a goodbye.
func TestBulk_RunStoppedWhileItWaitedEndsQuietly(t *testing.T) {
	for _, text := range []string{"bulk marketing bye", "bulk marketing --no-goodbye"} {
		t.Run(text, func(t *testing.T) {
			ctx := context.Background()
			tb := newTestBot(t, Options{})
			withDirectory(t, tb)
			id := recordedID(t, tb.command(text).Text)
			require.NoError(t, tb.confirm(ctx, id, "U0CNF2", tb.clock.Now()))
			self := "79000000001@c.us"
			tb.gw.Locked(func() {
				tb.gw.Self = self
				tb.gw.GroupFunc = func(_ context.Context, ref string) (whatsapp.Group, error) {
					_, err := tb.db.Requests().Stop(ctx, id, "U0REQ1", tb.clock.Now())
					require.NoError(t, err)
					return whatsapp.Group{JID: ref, Participants: []whatsapp.Participant{{JID: "79000000002@c.us", IsAdmin: true}, {JID: self}}, Size: 2}, nil
				}
			})
			kid := tb.children(t, id)[0]
			w := &leaveWorker{b: tb.Bot}
			require.NoError(t, w.Work(ctx, leaveJob(kid.ID)))
			require.Empty(t, tb.gw.CallsOf("send"))
			require.Zero(t, tb.gw.LeaveCount())
			require.Equal(t, leave.Cancelled, tb.request(t, kid.ID).State)
			require.Equal(t, leave.Cancelled, tb.request(t, id).State)
		})
	}
}
