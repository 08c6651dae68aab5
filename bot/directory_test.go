package bot

import (
	"context"
	"fmt"
	"net/http"
	"net/http/httptest"
	"slices"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/slack-go/slack"
	"github.com/stretchr/testify/require"
	"golang.org/x/time/rate"

	"github.com/waleave/waleave/fake"
	"github.com/waleave/waleave/leave"
	"github.com/waleave/waleave/store"
	"github.com/waleave/waleave/templates"
	"github.com/waleave/waleave/whatsapp"
)

// Groups of the directory tests.
const (
	jidOps      = "120363400000000001@g.us"
	jidOpsUpper = "120363400000000002@g.us"
	jidMkt      = "120363400000000003@g.us"
	jidPhoenix  = "120363400000000004@g.us"
	jidPhxOps   = "120363400000000005@g.us"
	jidNew      = "120363400000000006@g.us"
)

func directoryGroups() []whatsapp.GroupSummary {
	return []whatsapp.GroupSummary{
		{JID: jidOps, Subject: "Ops team"},
		{JID: jidOpsUpper, Subject: "OPS TEAM"},
		{JID: jidMkt, Subject: "Marketing"},
		{JID: jidPhoenix, Subject: "Project Phoenix"},
		{JID: jidPhxOps, Subject: "Phoenix rollout"},
	}
}

// withDirectory lists directoryGroups into the test bot's directory.
func withDirectory(t *testing.T, tb *testBot) {
	t.Helper()
	tb.gw.GroupList = directoryGroups()
	require.NoError(t, tb.RefreshDirectory(context.Background()))
}

// command runs /wa-leave text as U0REQ1 in C1.
func (tb *testBot) command(text string) *slack.Msg {
	return tb.Command(context.Background(), slack.SlashCommand{TeamID: "T1", UserID: "U0REQ1", UserName: "ann", ChannelID: "C1", Text: text})
}

func (tb *testBot) requests(t *testing.T) []*store.Request {
	t.Helper()
	reqs, err := tb.db.Requests().ListRequests(context.Background(), store.Filter{})
	require.NoError(t, err)
	return reqs
}

// deliver brings one request's Slack messages up to date, as the outbox
// does (lease, then send), without its scanner.
func (tb *testBot) deliver(id string) {
	q := &channelQueue{items: make(chan leased, 1), limiter: rate.NewLimiter(rate.Inf, 1)}
	now := tb.opts.Now()
	until := now.Add(outboxLease)
	if ok, err := tb.db.Outbox().Lease(context.Background(), id, tb.jobs.ID(), now, until); err != nil || !ok {
		panic(fmt.Sprintf("lease %s: %v %v", id, ok, err))
	}
	tb.outbox.deliver(context.Background(), q, leased{id: id, until: until})
}

func TestCommand_NameResolvedFromDirectory(t *testing.T) {
	tests := []struct {
		name, text, wantJID, wantGoodbye string
	}{
		{"exact beats case-insensitive", `"Ops team" bye`, jidOps, "bye"},
		{"case-insensitive", "MARKETING", jidMkt, ""},
		{"substring", "arketi", jidMkt, ""},
		{"curly quotes", "“Project Phoenix” see you", jidPhoenix, "see you"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			tb := newTestBot(t, Options{})
			withDirectory(t, tb)
			msg := tb.command(tt.text)
			reqs := tb.requests(t)
			require.Len(t, reqs, 1, msg.Text)
			require.Equal(t, tt.wantJID, reqs[0].GroupJID)
			require.Equal(t, tt.wantGoodbye, reqs[0].Goodbye)
			require.NotEmpty(t, reqs[0].GroupSubject)
			require.Equal(t, []string{"groups"}, tb.gw.CallsOf(""), "one listing, by the refresh; none by the command")
		})
	}
}

func TestCommand_AmbiguousNameOffersButtons(t *testing.T) {
	tb := newTestBot(t, Options{})
	withDirectory(t, tb)
	msg := tb.command("phoenix Thanks, bye!")
	require.Empty(t, tb.requests(t), "nothing recorded until a group is picked")
	require.Equal(t, slack.ResponseTypeEphemeral, msg.ResponseType)
	require.Contains(t, msg.Text, "2 groups match")
	blocks := blocksJSON(t, msg.Blocks.BlockSet)
	require.Equal(t, 2, strings.Count(blocks, `"action_id":"leave_pick_group"`))
	require.Contains(t, blocks, `"value":"`+jidPhoenix+`"`)
	require.Contains(t, blocks, `"value":"`+jidPhxOps+`"`)
}

func TestPickGroup_StartsTheRequestWithTheGoodbye(t *testing.T) {
	ctx := context.Background()
	tb := newTestBot(t, Options{})
	withDirectory(t, tb)
	tb.command("phoenix Thanks, bye! --in 3d")

	// Someone else's click finds nothing to pick: the list was U0REQ1's.
	tb.Interaction(ctx, click("U0CNF2", "C1", templates.ActionPickGroup, jidPhxOps))
	require.Empty(t, tb.requests(t))
	// A group that was not offered is refused.
	tb.Interaction(ctx, click("U0REQ1", "C1", templates.ActionPickGroup, jidMkt))
	require.Empty(t, tb.requests(t))

	tb.Interaction(ctx, click("U0REQ1", "C1", templates.ActionPickGroup, jidPhxOps))
	tb.Interaction(ctx, click("U0REQ1", "C1", templates.ActionPickGroup, jidPhxOps)) // a double click
	tb.background.Wait()
	reqs := tb.requests(t)
	require.Len(t, reqs, 1, "one request however many clicks")
	tb.deliver(reqs[0].ID)
	r, err := tb.db.Requests().Request(ctx, reqs[0].ID)
	require.NoError(t, err)
	require.Equal(t, jidPhxOps, r.GroupJID)
	require.Equal(t, "Phoenix rollout", r.GroupSubject, "named from the directory when the gateway does not say")
	require.Equal(t, "Thanks, bye!", r.Goodbye)
	require.Equal(t, "U0REQ1", r.RequesterID)
	require.Equal(t, "T1", r.TeamID)
	require.Equal(t, t0.Add(72*time.Hour), r.RunAt, "the flags are carried too")

	// U0CNF2 and U0REQ1 hear "out of date" once each (U0REQ1's double
	// click repeats it within seconds, and is not told twice), and U0REQ1
	// that the request is recorded.
	eph := tb.slack.Answered("chat.postEphemeral")
	require.Len(t, eph, 3)
	texts := ""
	for _, e := range eph {
		texts += e.Form.Get("text") + "\n"
	}
	require.Contains(t, texts, "recorded")
	require.Contains(t, texts, "out of date")
}

func TestPickGroup_ExpiresAfterPickTTL(t *testing.T) {
	ctx := context.Background()
	tb := newTestBot(t, Options{})
	withDirectory(t, tb)
	tb.command("phoenix")
	tb.clock.Add(pickTTL + time.Minute)
	tb.Interaction(ctx, click("U0REQ1", "C1", templates.ActionPickGroup, jidPhoenix))
	tb.background.Wait()
	require.Empty(t, tb.requests(t))
}

func TestCommand_UnknownNameOffersClosest(t *testing.T) {
	tb := newTestBot(t, Options{})
	withDirectory(t, tb)
	msg := tb.command("Marketting")
	require.Empty(t, tb.requests(t))
	require.Contains(t, msg.Text, `No group is called "Marketting"; did you mean "Marketing"?`)
	require.NotContains(t, msg.Text, "Phoenix")
}

func TestCommand_UnknownNameRefreshesWithinRateLimit(t *testing.T) {
	tb := newTestBot(t, Options{})
	withDirectory(t, tb)
	tb.gw.Locked(func() {
		tb.gw.GroupList = append(directoryGroups(), whatsapp.GroupSummary{JID: jidNew, Subject: "Brand new"})
	})

	// Just refreshed: a miss does not list again, however many come.
	for range 3 {
		tb.command(`"Brand new"`)
	}
	require.Len(t, tb.gw.CallsOf("groups"), 1)
	require.Empty(t, tb.requests(t))

	// Later, a miss lists once and finds the new group.
	tb.clock.Add(directoryMinGap)
	tb.command(`"Brand new"`)
	require.Len(t, tb.gw.CallsOf("groups"), 2)
	reqs := tb.requests(t)
	require.Len(t, reqs, 1)
	require.Equal(t, jidNew, reqs[0].GroupJID)
}

func TestRefreshDirectory_FailureKeepsThePreviousDirectory(t *testing.T) {
	ctx := context.Background()
	tb := newTestBot(t, Options{})
	withDirectory(t, tb)
	tb.gw.Locked(func() {
		tb.gw.GroupsErr = &whatsapp.Error{Provider: "greenapi", Op: "getChats", Status: 503, Kind: whatsapp.ErrUnavailable}
	})
	require.Error(t, tb.RefreshDirectory(ctx))
	entries, err := tb.db.Directory().Directory(ctx)
	require.NoError(t, err)
	require.Len(t, entries, len(directoryGroups()))

	tb.command("Marketing")
	reqs := tb.requests(t)
	require.Len(t, reqs, 1)
	require.Equal(t, jidMkt, reqs[0].GroupJID)
}

func TestCommand_NameWithNoDirectoryAndNoGateway(t *testing.T) {
	tb := newTestBot(t, Options{})
	tb.gw.GroupsErr = &whatsapp.Error{Provider: "greenapi", Op: "getChats", Kind: whatsapp.ErrUnavailable}
	msg := tb.command("Marketing")
	require.Empty(t, tb.requests(t))
	require.Contains(t, msg.Text, "unavailable")
	require.Contains(t, msg.Text, "@g.us")
}

func TestRefreshDirectory_LeftGroupsDropOut(t *testing.T) {
	ctx := context.Background()
	tb := newTestBot(t, Options{})
	withDirectory(t, tb)
	tb.gw.Locked(func() {
		tb.gw.GroupList = directoryGroups()[:2]
	})
	tb.clock.Add(time.Hour)
	require.NoError(t, tb.RefreshDirectory(ctx))
	entries, err := tb.db.Directory().Directory(ctx)
	require.NoError(t, err)
	require.Len(t, entries, 2)
}

func TestGroupsCommand_ListsTheDirectoryWithinLimits(t *testing.T) {
	tb := newTestBot(t, Options{})
	var many []whatsapp.GroupSummary
	for i := range 300 {
		many = append(many, whatsapp.GroupSummary{JID: fmt.Sprintf("1203634%011d@g.us", i), Subject: fmt.Sprintf("Customer group <%03d> with a long descriptive name", i)})
	}
	tb.gw.GroupList = many
	msg := tb.command("groups") // the first listing happens on demand
	require.Contains(t, msg.Text, "300 groups")
	require.Contains(t, msg.Text, "more; add a filter")
	require.Contains(t, msg.Text, "&lt;000&gt;", "subjects are escaped")
	require.LessOrEqual(t, len([]rune(msg.Text)), 3000)

	msg = tb.command("groups “017”")
	require.Contains(t, msg.Text, "1 group matches")
	require.Contains(t, msg.Text, "120363400000000017@g.us")
	require.NotContains(t, msg.Text, "more")
}

// blocksJSON renders blocks as Slack receives them.
func blocksJSON(t *testing.T, blocks []slack.Block) string {
	t.Helper()
	b, err := slack.Blocks{BlockSet: blocks}.MarshalJSON()
	require.NoError(t, err)
	return string(b)
}

// onlyAdminGroup is a group in which the instance (79000000001) is the
// only admin.
func onlyAdminGroup(jid string) whatsapp.Group {
	return whatsapp.Group{
		JID: jid, Subject: "Night shift", Size: 3,
		InviteLink: "https://chat.whatsapp.com/AbCdEfGhIjKlMnOpQrStUv",
		Participants: []whatsapp.Participant{
			{JID: "79000000001@c.us", IsAdmin: true, IsSuperAdmin: true},
			{JID: "79000000002@c.us"},
			{JID: "79000000003@c.us"},
		},
	}
}

func TestCard_SlowDetailsDoNotDelayTheAck(t *testing.T) {
	tb := newTestBot(t, Options{DetailsTimeout: 200 * time.Millisecond})
	release := make(chan struct{})
	tb.gw.Self = "79000000001@s.whatsapp.net"
	tb.gw.GroupFunc = func(ctx context.Context, ref string) (whatsapp.Group, error) {
		select {
		case <-release:
			return onlyAdminGroup(ref), nil
		case <-ctx.Done():
			return whatsapp.Group{}, ctx.Err()
		}
	}
	tb.opts.Now = time.Now // signed requests carry the real time
	tb.outbox.start(tb.ctx)
	t.Cleanup(func() { tb.cancel(); tb.outbox.wait() })
	h := Routes(tb.log, tb.Bot, benchSecret, false, tb.db.Ping, prometheus.NewRegistry())

	start := time.Now()
	w := httptest.NewRecorder()
	h.ServeHTTP(w, signedRequest("/slack/commands", commandForm("U0REQ1")))
	took := time.Since(start)
	require.Equal(t, 200, w.Code)
	require.Contains(t, w.Body.String(), "recorded")
	require.Less(t, took, 100*time.Millisecond, "the ack does not wait for the gateway")

	var card string
	require.Eventually(t, func() bool {
		posts := tb.slack.Answered("chat.postMessage")
		if len(posts) == 0 {
			return false
		}
		card = posts[0].Form.Get("blocks")
		return true
	}, 5*time.Second, 10*time.Millisecond)
	require.Contains(t, card, "did not answer in time")
	require.Contains(t, card, "leave_confirm", "the card is usable without details")
	require.GreaterOrEqual(t, time.Since(start), 200*time.Millisecond, "the card waited for the details, briefly")

	// The answer arrives late: the card is updated with the warning.
	close(release)
	require.Eventually(t, func() bool {
		for _, u := range tb.slack.Answered("chat.update") {
			if strings.Contains(u.Form.Get("blocks"), "only admin") {
				return true
			}
		}
		return false
	}, 5*time.Second, 10*time.Millisecond)
}

func TestCard_OnlyAdminWarningAndSuccessorSelect(t *testing.T) {
	ctx := context.Background()
	tb := newTestBot(t, Options{})
	tb.gw.Self = "79000000001@s.whatsapp.net" // whatsmeow's form; participants use @c.us
	tb.gw.GroupFunc = func(_ context.Context, ref string) (whatsapp.Group, error) { return onlyAdminGroup(ref), nil }
	tb.command("120363406289005073@g.us bye")
	r := tb.requests(t)[0]
	tb.deliver(r.ID)

	posts := tb.slack.Answered("chat.postMessage")
	require.Len(t, posts, 1)
	blocks := posts[0].Form.Get("blocks")
	require.Contains(t, blocks, "only admin")
	require.Contains(t, blocks, `"action_id":"leave_successor"`)
	require.Contains(t, blocks, `"block_id":"leave_successor.pending.`+r.ID+`"`)
	require.Contains(t, blocks, "79000000002@c.us")
	require.Contains(t, blocks, "79000000003@c.us")
	require.NotContains(t, blocks, "79000000001@c.us", "the instance is not its own successor")
	require.Contains(t, blocks, "Night shift", "the gateway's subject")
	require.Contains(t, blocks, "Members")

	got, err := tb.db.Requests().Request(ctx, r.ID)
	require.NoError(t, err)
	require.Equal(t, store.DetailsOK, got.DetailsState)
	require.True(t, got.IsAdmin)
	require.True(t, got.OnlyAdmin)
	require.Equal(t, 3, got.GroupSize)
}

func TestCard_DetailsCachedPerGroup(t *testing.T) {
	tb := newTestBot(t, Options{})
	tb.gw.Self = "79000000001@c.us"
	tb.gw.GroupFunc = func(_ context.Context, ref string) (whatsapp.Group, error) { return onlyAdminGroup(ref), nil }
	for range 5 {
		tb.command("120363406289005073@g.us --no-goodbye")
	}
	for _, r := range tb.requests(t) {
		tb.deliver(r.ID)
	}
	require.Len(t, tb.slack.Answered("chat.postMessage"), 5)
	require.Len(t, tb.gw.CallsOf("group"), 1, "one getGroupData for a burst")
	require.Len(t, tb.gw.CallsOf("me"), 1, "the instance's JID is learned once")
}

func TestCard_AdminUnknownWithoutTheInstanceJID(t *testing.T) {
	tb := newTestBot(t, Options{})
	tb.gw.GroupFunc = func(_ context.Context, ref string) (whatsapp.Group, error) { return onlyAdminGroup(ref), nil }
	tb.command("120363406289005073@g.us --no-goodbye")
	r := tb.requests(t)[0]
	tb.deliver(r.ID)
	blocks := tb.slack.Answered("chat.postMessage")[0].Form.Get("blocks")
	require.Contains(t, blocks, "Members")
	require.NotContains(t, blocks, "not an admin", "no claim about the role when it is unknown")
	require.NotContains(t, blocks, "only admin")
}

// selectSuccessor is a choice in the card's successor select.
func selectSuccessor(user, requestID, jid string) slack.InteractionCallback {
	ic := click(user, "C1", templates.ActionSuccessor, "")
	a := ic.ActionCallback.BlockActions[0]
	a.BlockID = "leave_successor.pending." + requestID
	a.SelectedOption = slack.OptionBlockObject{Value: jid}
	return ic
}

// onlyAdminRequest records a request for a group in which the instance
// is the only admin and posts its card.
func onlyAdminRequest(t *testing.T, tb *testBot) *store.Request {
	t.Helper()
	tb.gw.Self = "79000000001@c.us"
	tb.gw.GroupFunc = func(_ context.Context, ref string) (whatsapp.Group, error) { return onlyAdminGroup(ref), nil }
	tb.command("120363406289005073@g.us Bye all")
	r := tb.requests(t)[0]
	tb.deliver(r.ID)
	return r
}

func TestSuccessor_PromotedBeforeGoodbyeAndLeave(t *testing.T) {
	ctx := context.Background()
	tb := newTestBot(t, Options{})
	r := onlyAdminRequest(t, tb)

	tb.Interaction(ctx, tb.fromCard(t, selectSuccessor("U0REQ1", r.ID, "79000000099@c.us")))
	tb.background.Wait()
	got, _ := tb.db.Requests().Request(ctx, r.ID)
	require.Empty(t, got.Successor, "only offered participants can be chosen")

	// A choice can be changed until the request is confirmed.
	for i, jid := range []string{"79000000002@c.us", "79000000003@c.us"} {
		tb.Interaction(ctx, tb.fromCard(t, selectSuccessor("U0REQ1", r.ID, jid)))
		got, _ = tb.db.Requests().Request(ctx, r.ID)
		require.Equal(t, jid, got.Successor)
		tb.deliver(r.ID)
		blocks := tb.slack.Answered("chat.update")[i].Form.Get("blocks")
		require.Contains(t, blocks, "+"+strings.TrimSuffix(jid, "@c.us")+" will be made admin first")
		require.Contains(t, blocks, `"initial_option"`, "the select stays, showing the choice")
	}

	var promoted []string
	tb.gw.PromoteFunc = func(group, participant string) error {
		promoted = append(promoted, group+" "+participant)
		return nil
	}
	tb.Interaction(ctx, tb.fromCard(t, click("U0CNF2", "C1", templates.ActionConfirm, r.ID)))
	w := &leaveWorker{b: tb.Bot}
	require.NoError(t, w.Work(ctx, leaveJob(r.ID)))

	var order []string
	for _, c := range tb.gw.CallsOf("") {
		if c == "promote" || c == "send" || c == "leave" {
			order = append(order, c)
		}
	}
	require.Equal(t, []string{"promote", "send", "leave"}, order)
	require.Equal(t, []string{"120363406289005073@g.us 79000000003@c.us"}, promoted)

	got, _ = tb.db.Requests().Request(ctx, r.ID)
	require.Equal(t, leave.Done, got.State)
	require.False(t, got.PromotedAt.IsZero())
	audit, err := tb.db.Requests().Audit(ctx, r.ID)
	require.NoError(t, err)
	actions := ""
	for _, e := range audit {
		actions += e.Action + ": " + e.Detail + "\n"
	}
	require.Contains(t, actions, "successor chosen: 79000000003@c.us")
	require.Contains(t, actions, "successor promoted: 79000000003@c.us")
}

func TestSuccessor_FailedPromotionStopsTheLeave(t *testing.T) {
	ctx := context.Background()
	tb := newTestBot(t, Options{})
	r := onlyAdminRequest(t, tb)
	tb.Interaction(ctx, tb.fromCard(t, selectSuccessor("U0REQ1", r.ID, "79000000002@c.us")))
	tb.deliver(r.ID) // the card shows the choice before anyone confirms
	tb.gw.PromoteFunc = func(string, string) error {
		return &whatsapp.Error{Provider: "greenapi", Op: "setGroupAdmin", Status: 200, Kind: whatsapp.ErrInvalid, Message: "participant not found"}
	}
	tb.Interaction(ctx, tb.fromCard(t, click("U0CNF2", "C1", templates.ActionConfirm, r.ID)))
	w := &leaveWorker{b: tb.Bot}
	require.NoError(t, w.Work(ctx, leaveJob(r.ID)))

	require.Empty(t, tb.gw.CallsOf("send"), "no goodbye")
	require.Empty(t, tb.gw.CallsOf("leave"), "not left")
	got, _ := tb.db.Requests().Request(ctx, r.ID)
	require.Equal(t, leave.Failed, got.State)
	require.Equal(t, leave.OutcomePromoteFailed, got.Outcome)

	tb.deliver(r.ID)
	var reply string
	for _, p := range tb.slack.Answered("chat.postMessage") {
		if p.Form.Get("thread_ts") != "" {
			reply = strings.ToLower(p.Form.Get("text"))
		}
	}
	require.Contains(t, reply, "could not make")
	require.Contains(t, reply, "not left")
	require.Contains(t, reply, "participant not found", "the reply says why")
}

func TestSuccessor_PromotionWhoseAnswerWasLostIsNotRepeated(t *testing.T) {
	ctx := context.Background()
	tb := newTestBot(t, Options{MaxAttempts: 5})
	r := onlyAdminRequest(t, tb)
	tb.Interaction(ctx, tb.fromCard(t, selectSuccessor("U0REQ1", r.ID, "79000000002@c.us")))
	tb.deliver(r.ID) // the card shows the choice before anyone confirms
	promoted := false
	tb.gw.PromoteFunc = func(string, string) error {
		promoted = true // it worked, but the answer is lost
		return &whatsapp.Error{Provider: "greenapi", Op: "setGroupAdmin", Kind: whatsapp.ErrUnavailable}
	}
	tb.gw.GroupFunc = func(_ context.Context, ref string) (whatsapp.Group, error) {
		g := onlyAdminGroup(ref)
		g.Participants[1].IsAdmin = promoted
		return g, nil
	}
	tb.Interaction(ctx, tb.fromCard(t, click("U0CNF2", "C1", templates.ActionConfirm, r.ID)))
	w := &leaveWorker{b: tb.Bot}
	require.Error(t, w.Work(ctx, leaveJob(r.ID)), "snoozed for a retry")
	require.NoError(t, w.Work(ctx, leaveJob(r.ID)))
	require.Len(t, tb.gw.CallsOf("promote"), 1)
	require.Len(t, tb.gw.CallsOf("leave"), 1)
	got, _ := tb.db.Requests().Request(ctx, r.ID)
	require.Equal(t, leave.Done, got.State)
}

func TestLeave_KeepsTheInviteLink(t *testing.T) {
	ctx := context.Background()
	tb := newTestBot(t, Options{})
	tb.gw.GroupList = []whatsapp.GroupSummary{{JID: "120363406289005073@g.us", Subject: "Night shift"}}
	require.NoError(t, tb.RefreshDirectory(ctx))
	tb.gw.GroupFunc = func(_ context.Context, ref string) (whatsapp.Group, error) {
		g := onlyAdminGroup(ref)
		g.Participants[1].IsAdmin = true // not the only admin: no successor needed
		return g, nil
	}
	tb.command(`"Night shift" --no-goodbye`)
	r := tb.requests(t)[0]
	tb.deliver(r.ID)
	tb.Interaction(ctx, tb.fromCard(t, click("U0CNF2", "C1", templates.ActionConfirm, r.ID)))
	w := &leaveWorker{b: tb.Bot}
	require.NoError(t, w.Work(ctx, leaveJob(r.ID)))

	got, _ := tb.db.Requests().Request(ctx, r.ID)
	require.Equal(t, leave.Done, got.State)
	const link = "https://chat.whatsapp.com/AbCdEfGhIjKlMnOpQrStUv"
	require.Equal(t, link, got.InviteLink)
	audit, _ := tb.db.Requests().Audit(ctx, r.ID)
	found := false
	for _, e := range audit {
		found = found || (e.Action == "invite link kept" && e.Detail == link)
	}
	require.True(t, found, "the link is in the audit trail")
	calls := slices.DeleteFunc(tb.gw.CallsOf(""), func(c string) bool { return c == "state" || c == "me" })
	require.Less(t, slices.Index(calls, "group"), slices.Index(calls, "leave"), "the link is read before leaving")
	require.Equal(t, []string{"leave", "group"}, calls[len(calls)-2:], "and the group looked up once more after it")

	for _, arg := range []string{"120363406289005073@g.us", r.ID, `"Night shift"`} {
		msg := tb.command("status " + arg)
		require.Contains(t, msg.Text, "Invite link kept, to rejoin: "+link, arg)
	}
	entries, _ := tb.db.Directory().Directory(ctx)
	require.Empty(t, entries, "a left group no longer resolves by name")
}

func TestCommand_DefaultGoodbyeNamesAGroupGivenByJID(t *testing.T) {
	g, err := templates.ParseGoodbye("Leaving {{.GroupSubject}}, bye!")
	require.NoError(t, err)
	tb := newTestBot(t, Options{DefaultGoodbye: g})
	withDirectory(t, tb)
	tb.command(jidMkt)
	reqs := tb.requests(t)
	require.Len(t, reqs, 1)
	require.Equal(t, "Leaving Marketing, bye!", reqs[0].Goodbye)
	require.Equal(t, []string{"groups"}, tb.gw.CallsOf(""), "no gateway call for a JID")
}

// linkingGateway is a gateway whose group details carry no invite link
// and which gives it by a call of its own, as Wawp does.
type linkingGateway struct {
	*fake.Gateway
	link string
	err  error
}

func (g *linkingGateway) InviteLink(_ context.Context, grp whatsapp.Group) (string, error) {
	if grp.InviteLink != "" {
		return grp.InviteLink, nil
	}
	g.Called("invite-link")
	return g.link, g.err
}

func TestLeave_AsksForTheInviteLinkWhenTheDetailsLackIt(t *testing.T) {
	for _, tt := range []struct {
		name string
		link string
		err  error
		want string
	}{
		{"given", "https://chat.whatsapp.com/ZyXwVuTsRqPo0987", nil, "https://chat.whatsapp.com/ZyXwVuTsRqPo0987"},
		{"refused (not an admin): the leave goes ahead without it", "", whatsapp.ErrForbidden, ""},
	} {
		t.Run(tt.name, func(t *testing.T) {
			ctx := context.Background()
			tb := newTestBot(t, Options{})
			tb.gw.GroupFunc = func(_ context.Context, ref string) (whatsapp.Group, error) {
				g := onlyAdminGroup(ref)
				g.Participants[1].IsAdmin = true
				g.InviteLink = ""
				return g, nil
			}
			tb.Bot.numbers[0].Gateway = &linkingGateway{Gateway: tb.gw, link: tt.link, err: tt.err}
			r := tb.pending(t, func(r *store.Request) { r.Goodbye = "" })
			err := tb.confirm(ctx, r.ID, "U0CNF2", tb.clock.Now())
			require.NoError(t, err)
			w := &leaveWorker{b: tb.Bot}
			require.NoError(t, w.Work(ctx, leaveJob(r.ID)))

			got, _ := tb.db.Requests().Request(ctx, r.ID)
			require.Equal(t, leave.Done, got.State)
			require.Equal(t, tt.want, got.InviteLink)
			calls := tb.gw.CallsOf("")
			require.Contains(t, calls, "invite-link")
			require.Less(t, slices.Index(calls, "invite-link"), slices.Index(calls, "leave"), "asked before leaving")
		})
	}
}

// An invite link says why it gave no group: the gateway cannot look links
// up (Green API and Wawp refuse before sending anything), the gateway did
// not answer, or it knows no such group.
func TestCommand_InviteLinkThatGivesNoGroup(t *testing.T) {
	ctx := context.Background()
	var sent atomic.Int32
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		sent.Add(1)
		http.Error(w, `{"success": false, "error": {"message": "Group not found or you are not a member of this group"}}`, http.StatusNotFound)
	}))
	t.Cleanup(srv.Close)
	link := "https://chat.whatsapp.com/HfVhvqMA9Y4G4LhRT0mZ1q"

	for _, tc := range []struct {
		provider, instance, want string
	}{
		{"greenapi", "1101000001", "cannot look up invite links"},
		{"wawp", "ABC123", "cannot look up invite links"},
		{"ryzeapi", "main", "could not be resolved to a group"},
	} {
		tb := newTestBot(t, Options{})
		gw, err := whatsapp.New(tc.provider, whatsapp.Config{BaseURL: srv.URL, Instance: tc.instance, Token: "tok"}, srv.Client())
		require.NoError(t, err)
		tb.Bot.numbers[0].Gateway = gw
		before := sent.Load()
		msg := tb.Command(ctx, slack.SlashCommand{TeamID: "T1", UserID: "U0REQ1", ChannelID: "C1", Text: link})
		require.Contains(t, msg.Text, tc.want, tc.provider)
		require.Contains(t, msg.Text, "Nothing was recorded")
		reqs, err := tb.db.Requests().ListRequests(ctx, store.Filter{})
		require.NoError(t, err)
		require.Empty(t, reqs)
		if tc.provider != "ryzeapi" {
			require.Equal(t, before, sent.Load(), "%s: nothing is sent for a lookup it cannot make", tc.provider)
		}
	}

	tb := newTestBot(t, Options{})
	tb.gw.GroupFunc = func(context.Context, string) (whatsapp.Group, error) {
		return whatsapp.Group{}, &whatsapp.Error{Provider: "ryzeapi", Status: 503, Kind: whatsapp.ErrUnavailable}
	}
	msg := tb.Command(ctx, slack.SlashCommand{TeamID: "T1", UserID: "U0REQ1", ChannelID: "C1", Text: link})
	require.Contains(t, msg.Text, "did not answer in time")
}

// The filter and the group names a "groups" reply echoes are the user's
// and the gateway's words: escaped for mrkdwn, so neither can mention
// @channel or forge a link.
func TestGroupsCommand_EscapesWhatItEchoes(t *testing.T) {
	tb := newTestBot(t, Options{})
	tb.gw.GroupList = []whatsapp.GroupSummary{
		{JID: jidOps, Subject: "R&D <core>"},
		{JID: jidMkt, Subject: "R&D <edge>"},
	}
	// Slack sends what was typed with &, < and > escaped.
	msg := tb.command("groups R&amp;D &lt;")
	require.Contains(t, msg.Text, "2 groups match “R&amp;D &lt;”")

	msg = tb.command("groups R&amp;D &lt;cores&gt;")
	require.Contains(t, msg.Text, "No group matches “R&amp;D &lt;cores&gt;”")
	require.Contains(t, msg.Text, `Did you mean "R&amp;D &lt;core&gt;"?`)
	require.NotContains(t, msg.Text, "<")
}
