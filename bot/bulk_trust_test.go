package bot

import (
	"context"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/slack-go/slack"
	"github.com/stretchr/testify/require"

	"github.com/waleave/waleave/leave"
	"github.com/waleave/waleave/store"
	"github.com/waleave/waleave/templates"
	"github.com/waleave/waleave/whatsapp"
)

// A group of a bulk request has no card: a click naming its ID (made up,
// from any message in the request's channel, or from the ops channel)
// confirms, cancels and stops nothing. Only the bulk request's own card
// decides for its groups.
func TestBulk_ClickOnAGroupsIDDoesNothing(t *testing.T) {
	ctx := context.Background()
	tb := newTestBot(t, Options{OpsChannel: "C0OPS", AllowedChannels: []string{"C1", "C0OPS"}})
	withDirectory(t, tb)
	id := recordedID(t, tb.command("bulk ops").Text)
	tb.deliver(id)
	kids := tb.children(t, id)
	require.Len(t, kids, 2)
	child := kids[0]

	for _, action := range []string{templates.ActionConfirm, templates.ActionCancel, templates.ActionStop} {
		tb.Interaction(ctx, click("U0CNF2", "C1", action, child.ID))
		got, err := tb.db.Requests().Request(ctx, child.ID)
		require.NoError(t, err)
		require.Equal(t, leave.Pending, got.State, action)
		require.Equal(t, templates.NotAllowed(), tb.lastEphemeral(t), action)
	}
	// The ops channel's Cancel is for a scheduled request's notice; a
	// group has none.
	tb.Interaction(ctx, click("U0CNF2", "C0OPS", templates.ActionCancel, child.ID))
	require.Equal(t, templates.NotAllowed(), tb.lastEphemeral(t), "cancel from the ops channel")
	for _, c := range tb.children(t, id) {
		require.Equal(t, leave.Pending, c.State, "no group was decided on its own")
	}

	// Confirmed from its card, the groups run; a click on a group's ID
	// still stops or cancels nothing.
	p, err := tb.db.Requests().Request(ctx, id)
	require.NoError(t, err)
	tb.Interaction(ctx, tb.fromCard(t, click("U0CNF2", "C1", templates.ActionConfirm, p.ID)))
	for _, action := range []string{templates.ActionCancel, templates.ActionStop} {
		tb.Interaction(ctx, click("U0CNF2", "C1", action, child.ID))
		require.Equal(t, templates.NotAllowed(), tb.lastEphemeral(t), action)
	}
	tb.Interaction(ctx, click("U0CNF2", "C0OPS", templates.ActionCancel, child.ID))
	require.Equal(t, templates.NotAllowed(), tb.lastEphemeral(t), "cancel from the ops channel")
	for _, c := range tb.children(t, id) {
		require.Equal(t, leave.Confirmed, c.State)
	}
}

// hostile are markup a group's name or a goodbye may hold: a mention of
// everyone and a disguised link. Escaped, none of them is left as is.
var hostile = []string{"<!channel>", "<!here>", "<https://evil"}

// requireEscaped fails t when text (a message, or a Slack call's form
// value, whose JSON may spell < and > as \u003c and \u003e) holds any
// hostile markup as it is.
func requireEscaped(t *testing.T, where, text string) {
	t.Helper()
	text = strings.NewReplacer(`\u003c`, "<", `\u003e`, ">", `\u0026`, "&").Replace(text)
	for _, h := range hostile {
		require.NotContains(t, text, h, "%s: %s", where, text)
	}
}

// Group names come from WhatsApp and goodbyes from the requester: on
// the bulk card, its progress, the summary, status, history and every
// refusal, through the bot's real path, they are escaped.
func TestBulk_HostileNamesAreEscapedEverywhere(t *testing.T) {
	ctx := context.Background()
	tb := newTestBot(t, Options{})
	evil1, evil2 := "120363400000000101@g.us", "120363400000000102@g.us"
	tb.gw.GroupList = []whatsapp.GroupSummary{
		{JID: evil1, Subject: "Acme <!channel> team"},
		{JID: evil2, Subject: "Acme <https://evil|click here> & co"},
	}
	require.NoError(t, tb.RefreshDirectory(ctx))
	self := "79000000001@c.us"
	tb.gw.Locked(func() {
		tb.gw.Self = self
		tb.gw.GroupFunc = func(_ context.Context, ref string) (whatsapp.Group, error) {
			// The only admin: not left, so the summary names every group.
			return whatsapp.Group{JID: ref, Participants: []whatsapp.Participant{{JID: "79000000002@c.us"}, {JID: self, IsAdmin: true}}, Size: 2}, nil
		}
	})
	answers := map[string]string{}
	for _, text := range []string{
		"bulk <!channel>nothing bye",                 // matches nothing
		`bulk --list "<!here> x","<https://evil|y>"`, // names nothing
		"bulk --list acme",                           // matches both
	} {
		answers[text] = tb.command(text).Text
	}
	msg := tb.command("bulk acme <!here> thanks & <https://evil|bye>")
	id := recordedID(t, msg.Text)
	answers["recorded"] = msg.Text
	tb.deliver(id)
	require.NoError(t, tb.confirm(ctx, id, "U0CNF2", tb.clock.Now()))
	tb.clock.Add(2 * time.Second)
	tb.deliver(id) // progress
	w := &leaveWorker{b: tb.Bot}
	for _, c := range tb.children(t, id) {
		require.NoError(t, w.Work(ctx, leaveJob(c.ID)))
	}
	tb.clock.Add(2 * time.Second)
	tb.deliver(id) // the end, and the summary
	require.Len(t, tb.slack.ThreadReplies(), 1, "the summary")
	answers["status"] = tb.command("status " + id).Text
	answers["status (mine)"] = tb.command("status").Text
	answers["history"] = tb.command("history " + evil1).Text
	answers["status (group)"] = tb.command("status " + evil2).Text

	for where, text := range answers {
		requireEscaped(t, where, text)
	}
	require.Contains(t, answers["status"], "&lt;!channel&gt;", "status names the groups")
	require.Contains(t, answers["history"], "&lt;!here&gt;", "history shows the goodbye")
	for _, method := range []string{"chat.postMessage", "chat.update", "chat.postEphemeral"} {
		for _, call := range tb.slack.Calls(method) {
			for field, vs := range call.Form {
				for _, v := range vs {
					requireEscaped(t, method+" "+field, v)
				}
			}
		}
	}
	summary := tb.slack.ThreadReplies()[0].Form.Get("text")
	require.Contains(t, summary, "Acme &lt;https://evil|click here&gt; &amp; co")
}

// The bulk card's Leave button is confirmed as one group's is: the
// two-person rule and approvers hold, and only from the card.
func TestBulk_ConfirmFollowsTheRules(t *testing.T) {
	ctx := context.Background()
	tb := newTestBot(t, Options{TwoPerson: true, Approvers: []string{"U0APP"}})
	withDirectory(t, tb)
	id := recordedID(t, tb.command("bulk ops").Text)
	tb.deliver(id)
	for user, want := range map[string]string{"U0REQ1": templates.NotApprover(), "U0CNF2": templates.NotApprover()} {
		tb.Interaction(ctx, tb.fromCard(t, click(user, "C1", templates.ActionConfirm, id)))
		require.Equal(t, want, tb.lastEphemeral(t), user)
	}
	tb2 := newTestBot(t, Options{TwoPerson: true})
	withDirectory(t, tb2)
	id2 := recordedID(t, tb2.command("bulk ops").Text)
	tb2.deliver(id2)
	tb2.Interaction(ctx, tb2.fromCard(t, click("U0REQ1", "C1", templates.ActionConfirm, id2)))
	require.Equal(t, templates.TwoPerson(), tb2.lastEphemeral(t))
	for _, c := range append(tb.children(t, id), tb2.children(t, id2)...) {
		require.Equal(t, leave.Pending, c.State)
	}
	tb.Interaction(ctx, tb.fromCard(t, click("U0APP", "C1", templates.ActionConfirm, id)))
	for _, c := range tb.children(t, id) {
		require.Equal(t, leave.Confirmed, c.State)
	}
}

// Stop: refused to whoever may not confirm (and from another message);
// once stopped, or finished, another Stop changes nothing.
func TestBulk_StopRefusedAndHarmless(t *testing.T) {
	ctx := context.Background()
	tb := newTestBot(t, Options{AllowedChannels: []string{"C1"}})
	withDirectory(t, tb)
	id := recordedID(t, tb.command("bulk ops").Text)
	tb.deliver(id)
	tb.Interaction(ctx, tb.fromCard(t, click("U0CNF2", "C1", templates.ActionConfirm, id)))
	stop := func(user, channel string) *store.Request {
		ic := tb.fromCard(t, click(user, channel, templates.ActionStop, id))
		ic.Container.ChannelID, ic.Channel.ID = channel, channel
		tb.Interaction(ctx, ic)
		r, err := tb.db.Requests().Request(ctx, id)
		require.NoError(t, err)
		return r
	}
	require.Empty(t, stop("U0OUTSIDER", "C9").CancelledBy, "not allowed anywhere")
	require.Equal(t, templates.NotAllowed(), tb.lastEphemeral(t))
	require.Empty(t, stop("U0CNF2", "C9").CancelledBy, "from another channel")
	require.Equal(t, templates.NotAllowed(), tb.lastEphemeral(t))

	// One group is under way: it finishes; the other is not started.
	w := &leaveWorker{b: tb.Bot}
	kids := tb.children(t, id)
	require.NoError(t, w.Work(ctx, leaveJob(kids[0].ID)))
	r := stop("U0CNF2", "C1")
	require.Equal(t, "U0CNF2", r.CancelledBy)
	require.True(t, r.State.Final(), "nothing is left under way")
	again := stop("U0REQ1", "C1")
	require.Equal(t, r.State, again.State)
	require.Equal(t, "U0CNF2", again.CancelledBy, "a second Stop changes nothing")
	for _, c := range tb.children(t, id) {
		require.True(t, c.State.Final())
	}
	require.Equal(t, 1, tb.gw.LeaveCount(), "only the group that ran was left")
}

// A bulk request counts once against WALEAVE_USER_RATE and
// WALEAVE_MAX_PENDING, whatever its size.
func TestBulk_CountsAgainstTheLimits(t *testing.T) {
	tb := newTestBot(t, Options{MaxPending: 1})
	withDirectory(t, tb)
	require.Contains(t, tb.command("bulk ops").Text, "recorded")
	require.Equal(t, templates.TooManyPending(1, true), tb.command("bulk marketing").Text)
	require.Equal(t, templates.TooManyPending(1, true), tb.command("Marketing").Text)

	tb = newTestBot(t, Options{UserRate: 1})
	withDirectory(t, tb)
	require.Contains(t, tb.command("bulk ops").Text, "recorded")
	require.Equal(t, templates.TooManyRequests(1), tb.command("bulk marketing").Text)
}

// A second Stop while groups are still under way says who stopped it,
// not that the stopper confirmed it.
func TestBulk_SecondStopSaysWhoStopped(t *testing.T) {
	ctx := context.Background()
	tb := newTestBot(t, Options{})
	withDirectory(t, tb)
	id := recordedID(t, tb.command("bulk ops").Text)
	tb.deliver(id)
	tb.Interaction(ctx, tb.fromCard(t, click("U0CNF2", "C1", templates.ActionConfirm, id)))
	kid := tb.children(t, id)[0]
	_, err := tb.db.Requests().ClaimRun(ctx, kid.ID, tb.clock.Now(), time.Minute)
	require.NoError(t, err)
	require.NoError(t, tb.db.Requests().BeginLeave(ctx, kid.ID, tb.clock.Now()))
	for _, user := range []string{"U0REQ1", "U0CNF2"} {
		tb.Interaction(ctx, tb.fromCard(t, click(user, "C1", templates.ActionStop, id)))
	}
	r, err := tb.db.Requests().Request(ctx, id)
	require.NoError(t, err)
	require.Equal(t, leave.Confirmed, r.State, "a group is under way")
	require.Equal(t, "U0REQ1", r.CancelledBy)
	require.Equal(t, templates.AlreadyStopped("U0REQ1"), tb.lastEphemeral(t))
}

// WALEAVE_BULK_MAX is checked before anything is looked up, counting
// each group once: a --list of more invite codes than that costs no
// gateway call; a forged form with 10,000 groups records nothing, nor
// does a forged pick of them redraw the form; the same group many
// times is one.
func TestBulk_MaxBeforeAnyLookup(t *testing.T) {
	ctx := context.Background()
	tb := newTestBot(t, Options{BulkMax: 3})
	withDirectory(t, tb)
	codes := make([]string, 4)
	for i := range codes {
		codes[i] = fmt.Sprintf("https://chat.whatsapp.com/Code%dAbcdefghijklmnop", i)
	}
	require.Contains(t, tb.command("bulk --list "+strings.Join(codes, ",")).Text, templates.BulkTooMany(4, 3))
	require.Empty(t, tb.gw.CallsOf("group"), "no invite code was looked up")

	many := make([]slack.OptionBlockObject, 10000)
	for i := range many {
		many[i].Value = fmt.Sprintf("1203634%015d@g.us", i)
	}
	var sub slack.InteractionCallback
	sub.Type, sub.Team.ID, sub.User.ID = slack.InteractionTypeViewSubmission, "T1", "U0REQ1"
	sub.View.CallbackID, sub.View.PrivateMetadata = templates.CallbackRequest, `{"c":"C1"}`
	sub.View.State = &slack.ViewState{Values: map[string]map[string]slack.BlockAction{
		templates.BlockGroup: {templates.ActionFormGroup: {SelectedOptions: many}},
	}}
	r, ok := tb.Interact(ctx, sub).(slack.ViewSubmissionResponse)
	require.True(t, ok)
	require.Contains(t, r.Errors[templates.BlockGroup], "at most 3")
	require.Empty(t, tb.requests(t))

	var pick slack.InteractionCallback
	pick.Type, pick.Team.ID, pick.User.ID = slack.InteractionTypeBlockActions, "T1", "U0REQ1"
	pick.View.ID, pick.View.CallbackID, pick.View.PrivateMetadata = "V1", templates.CallbackRequest, `{"c":"C1"}`
	pick.View.State = &slack.ViewState{Values: map[string]map[string]slack.BlockAction{
		templates.BlockSuccessor: {templates.ActionFormSuccessor: {}},
	}}
	pick.ActionCallback.BlockActions = []*slack.BlockAction{{ActionID: templates.ActionFormGroup, BlockID: templates.BlockGroup, SelectedOptions: many}}
	tb.formChanged(ctx, pick)
	require.Zero(t, tb.slack.Count("views.update"), "a forged pick of 10,000 groups redraws nothing")

	// The same groups many times are each one group.
	dup := make([]slack.OptionBlockObject, 0, 3000)
	for range 1000 {
		dup = append(dup, slack.OptionBlockObject{Value: jidOps}, slack.OptionBlockObject{Value: jidMkt}, slack.OptionBlockObject{Value: jidPhoenix})
	}
	sub.View.State.Values[templates.BlockGroup][templates.ActionFormGroup] = slack.BlockAction{SelectedOptions: dup}
	require.Nil(t, tb.Interact(ctx, sub))
	reqs := tb.requests(t)
	require.Len(t, reqs, 1)
	require.Len(t, tb.children(t, reqs[0].ID), 3)
	require.Contains(t, tb.command(`bulk --list Marketing,marketing,MARKETING,"Ops team",`+jidOps).Text, "for 2 WhatsApp groups recorded")
}
