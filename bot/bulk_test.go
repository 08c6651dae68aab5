package bot

import (
	"context"
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

// children are the groups of the bulk request id.
func (tb *testBot) children(t *testing.T, id string) []*store.Request {
	t.Helper()
	kids, err := tb.db.Requests().Children(context.Background(), id)
	require.NoError(t, err)
	return kids
}

// Every way a bulk command can be refused says why and records nothing.
func TestBulk_RefusalsRecordNothing(t *testing.T) {
	tb := newTestBot(t, Options{BulkMax: 2})
	withDirectory(t, tb)
	for _, tc := range []struct{ text, want string }{
		{"bulk nothing-like-this", templates.BulkNoMatch("nothing-like-this")},
		// "o" is in Ops team, OPS TEAM, Project Phoenix and Phoenix rollout.
		{"bulk o", templates.BulkTooMany(4, 2)},
		{`bulk --list Marketing,Nope,"Ops team",Phoenix`, templates.BulkUnresolved([]string{"Nope"}, map[string][]string{"Phoenix": {"Phoenix rollout", "Project Phoenix"}})},
		{"bulk --stale 180d", templates.StaleScanNotReady()},
		{"bulk ops --from sales", "No WhatsApp number is called"},
	} {
		t.Run(tc.text, func(t *testing.T) {
			msg := tb.command(tc.text)
			require.Contains(t, msg.Text, tc.want)
			require.Equal(t, slack.ResponseTypeEphemeral, msg.ResponseType)
			require.Empty(t, tb.requests(t))
		})
	}
}

// A filter matches names case-insensitively; a list resolves each entry
// (an exact name beats one that contains it); one request holds them.
func TestBulk_Records(t *testing.T) {
	tb := newTestBot(t, Options{})
	withDirectory(t, tb)
	msg := tb.command("bulk OPS bye all --no-goodbye")
	require.Contains(t, msg.Text, "Nothing was recorded", "a goodbye and --no-goodbye contradict")

	msg = tb.command("bulk OPS Thanks, bye!")
	require.Contains(t, msg.Text, "for 2 WhatsApp groups recorded", msg.Text)
	reqs := tb.requests(t)
	require.Len(t, reqs, 1, "the groups are not listed as requests of their own")
	p := reqs[0]
	require.Equal(t, leave.KindBulk, p.Kind)
	require.Equal(t, "groups matching “OPS”", p.GroupSubject)
	var jids []string
	for _, c := range tb.children(t, p.ID) {
		jids = append(jids, c.GroupJID)
		require.Equal(t, "Thanks, bye!", c.Goodbye)
		require.Equal(t, leave.Pending, c.State)
	}
	require.ElementsMatch(t, []string{jidOps, jidOpsUpper}, jids)

	msg = tb.command(`bulk --list "Ops team",Marketing,` + jidNew + ",marketing --no-goodbye")
	require.Contains(t, msg.Text, "for 3 WhatsApp groups recorded", "a group listed twice is one group: %s", msg.Text)
	id := recordedID(t, msg.Text)
	jids = nil
	for _, c := range tb.children(t, id) {
		jids = append(jids, c.GroupJID)
		require.Empty(t, c.Goodbye)
	}
	require.ElementsMatch(t, []string{jidOps, jidMkt, jidNew}, jids)
}

func recordedID(t *testing.T, text string) string {
	t.Helper()
	_, rest, ok := strings.Cut(text, "`")
	require.True(t, ok, text)
	id, _, _ := strings.Cut(rest, "`")
	return id
}

// With several numbers and no --from, the number is the one whose
// directory holds every group; when none or several do, the bot asks.
func TestBulk_SeveralNumbers(t *testing.T) {
	tb, _, _ := twoNumbers(t)
	ctx := context.Background()
	cmd := func(text string) string {
		return tb.Command(ctx, slack.SlashCommand{TeamID: "T1", UserID: "U0CNF2", ChannelID: "C1", Text: text}).Text
	}
	// Both are in Project Phoenix.
	require.Equal(t, templates.WhichNumber([]string{"sales", "support"}), cmd("bulk project"))
	require.Empty(t, tb.requests(t))
	// Only support holds both groups matching "phoenix".
	require.Contains(t, cmd("bulk phoenix"), "for 2 WhatsApp groups recorded")
	reqs := tb.requests(t)
	require.Len(t, reqs, 1)
	require.Equal(t, "support", reqs[0].Number)
	// --from decides.
	require.Contains(t, cmd("bulk project --from sales"), "for 1 WhatsApp group recorded")
}

// A group of a bulk request whose number is its only admin is not left,
// and nothing is sent to it: nobody chose who takes over.
func TestBulk_OnlyAdminGroupIsNotLeft(t *testing.T) {
	ctx := context.Background()
	tb := newTestBot(t, Options{})
	withDirectory(t, tb)
	self := "79000000001@c.us"
	tb.gw.Locked(func() {
		tb.gw.Self = self
		tb.gw.GroupFunc = func(_ context.Context, ref string) (whatsapp.Group, error) {
			ps := []whatsapp.Participant{{JID: "79000000002@c.us"}, {JID: self}}
			if ref == jidMkt {
				ps[1].IsAdmin = true // the only admin
			}
			return whatsapp.Group{JID: ref, Participants: ps, Size: 2}, nil
		}
	})
	msg := tb.command(`bulk --list Marketing,"Project Phoenix" bye`)
	id := recordedID(t, msg.Text)
	require.NoError(t, tb.confirm(ctx, id, "U0CNF2", tb.clock.Now()))
	w := &leaveWorker{b: tb.Bot}
	for _, c := range tb.children(t, id) {
		require.NoError(t, w.Work(ctx, leaveJob(c.ID)))
	}
	for _, c := range tb.children(t, id) {
		switch c.GroupJID {
		case jidMkt:
			require.Equal(t, leave.OutcomeOnlyAdmin, c.Outcome)
			require.Equal(t, leave.Failed, c.State)
		default:
			require.Equal(t, leave.OutcomeLeft, c.Outcome)
		}
	}
	require.Equal(t, 1, tb.gw.LeaveCount(), "Project Phoenix only")
	require.Len(t, tb.gw.CallsOf("send"), 1)
	p, err := tb.db.Requests().Request(ctx, id)
	require.NoError(t, err)
	require.Equal(t, leave.Failed, p.State)
	require.True(t, p.ReplyNeeded, "the summary is owed")
	summary, err := tb.bulkSummary(ctx, p)
	require.NoError(t, err)
	require.Contains(t, summary, "*Marketing* — not left: the number is the group's only admin")
}

// Stop is for the requester and whoever may confirm, from the card.
func TestBulk_StopIsAllowedToWhoMayConfirm(t *testing.T) {
	ctx := context.Background()
	tb := newTestBot(t, Options{AllowedUsers: []string{"U0REQ1", "U0CNF2"}, Approvers: []string{"U0APP"}})
	withDirectory(t, tb)
	id := recordedID(t, tb.command("bulk ops").Text)
	tb.deliver(id)
	require.NoError(t, tb.confirm(ctx, id, "U0APP", tb.clock.Now()))
	stop := func(user string) *store.Request {
		ic := click(user, "C1", templates.ActionStop, id)
		r, err := tb.db.Requests().Request(ctx, id)
		require.NoError(t, err)
		ic.Container.MessageTs = r.CardTS
		tb.Interaction(ctx, ic)
		r, err = tb.db.Requests().Request(ctx, id)
		require.NoError(t, err)
		return r
	}
	require.Empty(t, stop("U0CNF2").CancelledBy, "not an approver, not the requester")
	require.Equal(t, "U0REQ1", stop("U0REQ1").CancelledBy)
	r, err := tb.db.Requests().Request(ctx, id)
	require.NoError(t, err)
	require.Equal(t, leave.Cancelled, r.State, "nothing had started")
	for _, c := range tb.children(t, id) {
		require.Equal(t, leave.Cancelled, c.State)
	}
}

// Several groups chosen in the form make one bulk request; one group is
// the single flow; more than WALEAVE_BULK_MAX is refused next to the
// picker.
func TestBulk_FormWithSeveralGroups(t *testing.T) {
	ctx := context.Background()
	tb := newTestBot(t, Options{BulkMax: 3})
	withDirectory(t, tb)
	submit := func(goodbye string, jids ...string) any {
		var sub slack.InteractionCallback
		sub.Type = slack.InteractionTypeViewSubmission
		sub.Team.ID, sub.User.ID = "T1", "U0REQ1"
		sub.View.CallbackID, sub.View.PrivateMetadata = templates.CallbackRequest, `{"c":"C1"}`
		var picked []slack.OptionBlockObject
		for _, jid := range jids {
			picked = append(picked, slack.OptionBlockObject{Value: jid})
		}
		sub.View.State = &slack.ViewState{Values: map[string]map[string]slack.BlockAction{
			templates.BlockGroup:   {templates.ActionFormGroup: {SelectedOptions: picked}},
			templates.BlockGoodbye: {templates.ActionFormGoodbye: {Value: goodbye}},
		}}
		return tb.Interact(ctx, sub)
	}
	r, ok := submit("bye", jidOps, jidMkt, jidPhoenix, jidNew).(slack.ViewSubmissionResponse)
	require.True(t, ok)
	require.Contains(t, r.Errors[templates.BlockGroup], "at most 3")
	require.Empty(t, tb.requests(t))

	require.Nil(t, submit("bye", jidOps, jidMkt))
	reqs := tb.requests(t)
	require.Len(t, reqs, 1)
	require.Equal(t, leave.KindBulk, reqs[0].Kind)
	kids := tb.children(t, reqs[0].ID)
	require.Len(t, kids, 2)
	require.Equal(t, "bye", kids[0].Goodbye)

	tb.clock.Add(time.Minute)
	require.Nil(t, submit("", jidMkt))
	reqs = tb.requests(t)
	require.Len(t, reqs, 2)
	require.Equal(t, leave.KindSingle, reqs[0].Kind, "one group is a single request")
	require.Equal(t, jidMkt, reqs[0].GroupJID)
}
