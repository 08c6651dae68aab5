package bot

import (
	"context"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/waleave/waleave/leave"
	"github.com/waleave/waleave/templates"
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
