package bot

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/waleave/waleave/leave"
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
