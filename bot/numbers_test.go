package bot

import (
	"context"
	"testing"

	"github.com/slack-go/slack"
	"github.com/stretchr/testify/require"

	"github.com/waleave/waleave/fake"
	"github.com/waleave/waleave/leave"
	"github.com/waleave/waleave/store"
	"github.com/waleave/waleave/templates"
	"github.com/waleave/waleave/whatsapp"
)

// twoNumbers is a test bot serving sales and support, each with its own
// fake gateway and groups; support's allow-list narrows the global one
// to U0CNF2 (and names U0OUT, whom the global list does not allow).
func twoNumbers(t *testing.T) (tb *testBot, sales, support *fake.Gateway) {
	sales = &fake.Gateway{GroupList: []whatsapp.GroupSummary{{JID: jidPhoenix, Subject: "Project Phoenix"}}}
	support = &fake.Gateway{GroupList: []whatsapp.GroupSummary{{JID: jidPhoenix, Subject: "Project Phoenix"}, {JID: jidPhxOps, Subject: "Phoenix rollout"}}}
	tb = newTestBot(t, Options{Numbers: []Number{
		{Name: "sales", Gateway: sales},
		{Name: "support", Gateway: support, AllowedUsers: []string{"U0CNF2", "U0OUT"}},
	}})
	require.NoError(t, tb.RefreshDirectory(context.Background()))
	return tb, sales, support
}

func TestNumbers_NameResolvesToTheNumberInTheGroup(t *testing.T) {
	tb, _, _ := twoNumbers(t)
	ctx := context.Background()
	// Only support is in "Phoenix rollout", and U0CNF2 may use support.
	msg := tb.Command(ctx, slack.SlashCommand{TeamID: "T1", UserID: "U0CNF2", ChannelID: "C1", Text: `"Phoenix rollout"`})
	require.Contains(t, msg.Text, "recorded;", msg.Text)
	reqs := tb.requests(t)
	require.Len(t, reqs, 1)
	require.Equal(t, "support", reqs[0].Number)
	require.Equal(t, jidPhxOps, reqs[0].GroupJID)

	// An unknown --from is named, even with a group name to look up.
	msg = tb.Command(ctx, slack.SlashCommand{TeamID: "T1", UserID: "U0CNF2", ChannelID: "C1", Text: `"Phoenix rollout" --from marketing`})
	require.Contains(t, msg.Text, "No WhatsApp number is called")

	// Both are in "Project Phoenix": a question, nothing recorded.
	msg = tb.Command(ctx, slack.SlashCommand{TeamID: "T1", UserID: "U0CNF2", ChannelID: "C1", Text: `"Project Phoenix"`})
	require.Equal(t, templates.WhichNumber([]string{"sales", "support"}), msg.Text)
	require.Len(t, tb.requests(t), 1)
}

// A number's own allow-list narrows who may use it, and never widens the
// global one.
func TestNumbers_AllowListsNarrow(t *testing.T) {
	tb, _, _ := twoNumbers(t)
	ctx := context.Background()
	cmd := func(user, text string) string {
		return tb.Command(ctx, slack.SlashCommand{TeamID: "T1", UserID: user, ChannelID: "C1", Text: text}).Text
	}
	require.Equal(t, templates.NotAllowedNumber("support"), cmd("U0REQ1", jidPhxOps+" --from support"), "support is narrowed to U0CNF2")
	require.Equal(t, templates.NotAllowedNumber("support"), cmd("U0REQ1", `"Phoenix rollout"`), "the number found in the group is narrowed too")
	require.Equal(t, templates.NotAllowed(), cmd("U0OUT", jidPhxOps+" --from support"), "a number's list does not widen the global one")
	require.Contains(t, cmd("U0REQ1", jidPhoenix+" --from sales"), "recorded;")
	require.Equal(t, "sales", tb.requests(t)[0].Number)
}

// /wa-leave groups has one section per number.
func TestNumbers_GroupsPerNumber(t *testing.T) {
	tb, _, _ := twoNumbers(t)
	text := tb.command("groups").Text
	require.Contains(t, text, "*WhatsApp number sales*\n*The instance is in 1 group*")
	require.Contains(t, text, "*WhatsApp number support*\n*The instance is in 2 groups*")
}

// A number's narrower allow-list also decides who confirms its requests.
func TestNumbers_ConfirmNarrowed(t *testing.T) {
	tb, _, _ := twoNumbers(t)
	ctx := context.Background()
	r := tb.pending(t, func(r *store.Request) { r.Number, r.RequesterID = "support", "U0CNF2" })
	tb.Interaction(ctx, tb.fromCard(t, click("U0REQ1", "C1", templates.ActionConfirm, r.ID)))
	require.Equal(t, templates.NotAllowedNumber("support"), tb.lastEphemeral(t))
	got, err := tb.db.Requests().Request(ctx, r.ID)
	require.NoError(t, err)
	require.Equal(t, leave.Pending, got.State)
}
