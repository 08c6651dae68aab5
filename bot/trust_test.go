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
)

// lastEphemeral is the text of the last ephemeral reply, once the
// follow-ups have run.
func (tb *testBot) lastEphemeral(t *testing.T) string {
	t.Helper()
	tb.background.Wait()
	eph := tb.slack.Answered("chat.postEphemeral")
	require.NotEmpty(t, eph, "an ephemeral reply")
	return eph[len(eph)-1].Form.Get("text")
}

// TestClick_AuthorizedAgainstTheStoredRequest: a request made in a channel
// that is not allowed cannot be confirmed, cancelled or prepared by a
// click that names an allowed channel, nor by a click from a message that
// is not its card.
func TestClick_AuthorizedAgainstTheStoredRequest(t *testing.T) {
	ctx := context.Background()
	tb := newTestBot(t, Options{AllowedChannels: []string{"C1"}})
	// Made in C9, which is not allowed (say, before the lists changed).
	r := tb.pending(t, func(r *store.Request) { r.ChannelID = "C9"; r.RequesterID = "U0REQ9" })

	for _, action := range []string{templates.ActionConfirm, templates.ActionCancel} {
		tb.Interaction(ctx, click("U0ANY", "C1", action, r.ID))
		require.Equal(t, templates.NotAllowed(), tb.lastEphemeral(t), action)
	}
	got, err := tb.db.Requests().Request(ctx, r.ID)
	require.NoError(t, err)
	require.Equal(t, leave.Pending, got.State, "neither a confirm nor a cancel naming C1 acts on C9's request")

	// In an allowed channel, a click from some other message is not a
	// click on the card.
	ok := tb.pending(t, nil)
	for _, action := range []string{templates.ActionConfirm, templates.ActionCancel} {
		ic := click("U0ANY", "C1", action, ok.ID)
		ic.Container.MessageTs = "1699999999.999999"
		tb.Interaction(ctx, ic)
		require.Equal(t, templates.NotAllowed(), tb.lastEphemeral(t), action)
	}
	got, err = tb.db.Requests().Request(ctx, ok.ID)
	require.NoError(t, err)
	require.Equal(t, leave.Pending, got.State)

	// From its card, it works.
	tb.Interaction(ctx, click("U0ANY", "C1", templates.ActionConfirm, ok.ID))
	got, err = tb.db.Requests().Request(ctx, ok.ID)
	require.NoError(t, err)
	require.Equal(t, leave.Confirmed, got.State)
}

func TestSuccessor_OnlyFromTheCardInItsChannel(t *testing.T) {
	ctx := context.Background()
	tb := newTestBot(t, Options{AllowedChannels: []string{"C1", "C2"}})
	r := onlyAdminRequest(t, tb) // in C1, by U0REQ1

	elsewhere := tb.fromCard(t, selectSuccessor("U0ANY", r.ID, "79000000002@c.us"))
	elsewhere.Container.ChannelID, elsewhere.Channel.ID = "C2", "C2"
	tb.Interaction(ctx, elsewhere)
	require.Equal(t, templates.NotAllowed(), tb.lastEphemeral(t))
	got, err := tb.db.Requests().Request(ctx, r.ID)
	require.NoError(t, err)
	require.Empty(t, got.Successor)

	tb.Interaction(ctx, tb.fromCard(t, selectSuccessor("U0ANY", r.ID, "79000000002@c.us")))
	got, err = tb.db.Requests().Request(ctx, r.ID)
	require.NoError(t, err)
	require.Equal(t, "79000000002@c.us", got.Successor)
}

// TestConfirm_OnlyWhatTheCardShowed: the requester changes the successor
// just before someone confirms from the card as it was: the confirmation
// is refused with a request to look again, and goes through from the card
// as redrawn.
func TestConfirm_OnlyWhatTheCardShowed(t *testing.T) {
	ctx := context.Background()
	tb := newTestBot(t, Options{})
	r := onlyAdminRequest(t, tb)
	tb.Interaction(ctx, tb.fromCard(t, selectSuccessor("U0REQ1", r.ID, "79000000002@c.us")))
	tb.deliver(r.ID)
	seen := tb.fromCard(t, click("U0CNF2", "C1", templates.ActionConfirm, r.ID))

	// The change lands before the card is redrawn, then the click.
	tb.Interaction(ctx, tb.fromCard(t, selectSuccessor("U0REQ1", r.ID, "79000000003@c.us")))
	tb.Interaction(ctx, seen)
	require.Equal(t, templates.CardChanged(), tb.lastEphemeral(t))
	got, err := tb.db.Requests().Request(ctx, r.ID)
	require.NoError(t, err)
	require.Equal(t, leave.Pending, got.State, "nobody approved +79000000003")

	tb.deliver(r.ID)
	blocks := tb.slack.Answered("chat.update")[len(tb.slack.Answered("chat.update"))-1].Form.Get("blocks")
	require.Contains(t, blocks, "+79000000003 will be made admin first")
	require.Contains(t, blocks, `"block_id":"leave_actions.pending.v`)
	tb.Interaction(ctx, tb.fromCard(t, click("U0CNF2", "C1", templates.ActionConfirm, r.ID)))
	got, err = tb.db.Requests().Request(ctx, r.ID)
	require.NoError(t, err)
	require.Equal(t, leave.Confirmed, got.State)
	require.Equal(t, "79000000003@c.us", got.Successor)
}

// TestConfirm_CardWithoutVersionIsRedrawn: a click on a card drawn before
// cards carried their version is refused, and the card is drawn again.
func TestConfirm_CardWithoutVersionIsRedrawn(t *testing.T) {
	ctx := context.Background()
	tb := newTestBot(t, Options{})
	r := tb.pending(t, nil)
	ic := click("U0CNF2", "C1", templates.ActionConfirm, r.ID)
	ic.ActionCallback.BlockActions[0].BlockID = "leave_actions.pending"
	tb.Interaction(ctx, ic)
	require.Equal(t, templates.CardChanged(), tb.lastEphemeral(t))
	got, err := tb.db.Requests().Request(ctx, r.ID)
	require.NoError(t, err)
	require.Equal(t, leave.Pending, got.State)
	require.Greater(t, got.CardVersion, got.CardPostedVersion, "the card is owed a redraw")

	tb.deliver(r.ID)
	tb.Interaction(ctx, tb.fromCard(t, click("U0CNF2", "C1", templates.ActionConfirm, r.ID)))
	got, err = tb.db.Requests().Request(ctx, r.ID)
	require.NoError(t, err)
	require.Equal(t, leave.Confirmed, got.State)
}

func TestCommand_LimitsPerPersonAndChannel(t *testing.T) {
	ctx := context.Background()
	cmd := func(tb *testBot, user, channel string) string {
		return tb.Command(ctx, slack.SlashCommand{TeamID: "T1", UserID: user, ChannelID: channel, Text: "120363406289005073@g.us --no-goodbye"}).Text
	}
	t.Run("rate", func(t *testing.T) {
		tb := newTestBot(t, Options{UserRate: 2, AllowedChannels: []string{"C1"}})
		require.Contains(t, cmd(tb, "U0REQ1", "C1"), "recorded")
		require.Contains(t, cmd(tb, "U0REQ1", "C1"), "recorded")
		require.Equal(t, templates.TooManyRequests(2), cmd(tb, "U0REQ1", "C1"))
		require.Contains(t, cmd(tb, "U0OTHER", "C1"), "recorded", "per person")
		tb.clock.Add(30 * time.Second)
		require.Contains(t, cmd(tb, "U0REQ1", "C1"), "recorded", "one more after half a minute")
		reqs, err := tb.db.Requests().ListRequests(ctx, store.Filter{RequesterID: "U0REQ1"})
		require.NoError(t, err)
		require.Len(t, reqs, 3)
	})
	t.Run("pending", func(t *testing.T) {
		tb := newTestBot(t, Options{MaxPending: 2, AllowedChannels: []string{"C1", "C2"}})
		require.Contains(t, cmd(tb, "U0REQ1", "C1"), "recorded")
		require.Contains(t, cmd(tb, "U0REQ1", "C2"), "recorded")
		require.Equal(t, templates.TooManyPending(2, true), cmd(tb, "U0REQ1", "C2"))
		require.Contains(t, cmd(tb, "U0OTHER", "C1"), "recorded")
		require.Equal(t, templates.TooManyPending(2, false), cmd(tb, "U0THIRD", "C1"))
		// A decided request no longer counts.
		reqs, err := tb.db.Requests().ListRequests(ctx, store.Filter{RequesterID: "U0REQ1"})
		require.NoError(t, err)
		_, err = tb.db.Requests().Cancel(ctx, reqs[0].ID, "U0REQ1", tb.clock.Now())
		require.NoError(t, err)
		require.Contains(t, cmd(tb, "U0REQ1", "C2"), "recorded")
	})
	t.Run("off", func(t *testing.T) {
		tb := newTestBot(t, Options{})
		for range 40 {
			require.Contains(t, cmd(tb, "U0REQ1", "C1"), "recorded")
		}
	})
}

// TestWorkspace_OnlyTheTokensOwn: commands and clicks from another
// workspace are refused with a reply, and so is everything while the
// workspace is unknown.
func TestWorkspace_OnlyTheTokensOwn(t *testing.T) {
	ctx := context.Background()
	tb := newTestBot(t, Options{})
	r := tb.pending(t, nil)
	command := func(team, enterprise string, org bool) string {
		return tb.Command(ctx, slack.SlashCommand{TeamID: team, EnterpriseID: enterprise, IsEnterpriseInstall: org,
			UserID: "U0REQ1", ChannelID: "C1", Text: "120363406289005073@g.us --no-goodbye"}).Text
	}

	require.Equal(t, templates.OtherWorkspace(), command("T2", "", false))
	require.Equal(t, templates.OtherWorkspace(), command("", "", false))
	ic := click("U0CNF2", "C1", templates.ActionConfirm, r.ID)
	ic.Team.ID = "T2"
	tb.Interaction(ctx, ic)
	require.Equal(t, templates.OtherWorkspace(), tb.lastEphemeral(t))
	got, err := tb.db.Requests().Request(ctx, r.ID)
	require.NoError(t, err)
	require.Equal(t, leave.Pending, got.State)
	require.Contains(t, command("T1", "", false), "recorded")

	// Enterprise Grid: the token's workspace, or any of its organization's
	// for an organization-wide install; never another organization.
	tb.home.Store(&workspace{team: "T1", enterprise: "E1"})
	require.Contains(t, command("T1", "E1", false), "recorded")
	require.Equal(t, templates.OtherWorkspace(), command("T1", "E2", false))
	require.Equal(t, templates.OtherWorkspace(), command("T3", "E1", false))
	require.Contains(t, command("T3", "E1", true), "recorded")
	require.Equal(t, templates.OtherWorkspace(), command("T3", "E2", true))

	tb.home.Store(nil)
	require.Equal(t, templates.WorkspaceUnknown(), command("T1", "", false))
}

// TestStart_LearnsTheWorkspace: Start asks auth.test; until it answers,
// nothing is accepted.
func TestStart_LearnsTheWorkspace(t *testing.T) {
	tb := newTestBot(t, Options{})
	tb.home.Store(nil)
	tb.slack.FailWith(func(method string, _ url.Values) string {
		if method == "auth.test" {
			return "fatal_error"
		}
		return ""
	})
	require.Error(t, tb.learnWorkspace(context.Background()))
	require.Nil(t, tb.home.Load(), "unknown: deny by default")
	tb.slack.FailWith(nil)
	require.NoError(t, tb.learnWorkspace(context.Background()))
	require.Equal(t, &workspace{team: "T1"}, tb.home.Load())
	require.Empty(t, tb.foreign("T1", "", false))
}

// TestCommand_RepeatedDeliveryMakesOneRequest: a command delivered twice,
// one after the other or both at once, makes one request; the repeat
// gets no answer.
func TestCommand_RepeatedDeliveryMakesOneRequest(t *testing.T) {
	ctx := context.Background()
	tb := newTestBot(t, Options{})
	sc := slack.SlashCommand{TeamID: "T1", UserID: "U0REQ1", ChannelID: "C1", Text: "120363406289005073@g.us --no-goodbye"}
	require.Contains(t, tb.Command(tb.CommandDelivery(ctx, "env", "E1"), sc).Text, "recorded")
	require.Nil(t, tb.Command(tb.CommandDelivery(ctx, "env", "E1"), sc), "the repeat gets no answer")
	require.Contains(t, tb.Command(tb.CommandDelivery(ctx, "sig", "E1"), sc).Text, "recorded", "kinds are apart")
	require.Contains(t, tb.Command(ctx, sc).Text, "recorded", "no delivery named, nothing to compare")

	answers := make(chan *slack.Msg, 8)
	for range 8 {
		go func() { answers <- tb.Command(tb.CommandDelivery(ctx, "env", "E2"), sc) }()
	}
	recorded := 0
	for range 8 {
		if msg := <-answers; msg != nil {
			require.Contains(t, msg.Text, "recorded")
			recorded++
		}
	}
	require.Equal(t, 1, recorded, "racing repeats make one request")
	reqs, err := tb.db.Requests().ListRequests(ctx, store.Filter{})
	require.NoError(t, err)
	require.Len(t, reqs, 4)
}
