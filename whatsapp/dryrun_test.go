package whatsapp

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// The dry run answers as a real gateway would: it knows its example
// groups, takes any well-formed group JID as one it is in, and once it
// has left a group, every later call about it says "not a member".
func TestDryRun_AnswersLikeAGateway(t *testing.T) {
	ctx := context.Background()
	var seen []DryRunCall
	gw, err := New(DryRunProvider, Config{}, nil)
	if err != nil {
		t.Fatal(err)
	}
	if d, ok := gw.(interface{ DryRun() bool }); !ok || !d.DryRun() {
		t.Fatal("New(dryrun) does not say it is a dry run")
	}
	d := NewDryRun(func(c DryRunCall) { seen = append(seen, c) })

	st, err := d.State(ctx)
	if err != nil || !st.Connected || st.Me != DryRunMe {
		t.Fatalf("State = %+v, %v; want connected as %s", st, err, DryRunMe)
	}
	list, err := d.Groups(ctx)
	if err != nil || len(list) != 3 {
		t.Fatalf("Groups = %v, %v; want the 3 examples", list, err)
	}

	role := func(g Group) (meAdmin bool, admins int) {
		for _, p := range g.Participants {
			if p.IsAdmin {
				admins++
			}
			if p.JID == DryRunMe {
				meAdmin = p.IsAdmin
			}
		}
		return
	}
	examples := DryRunGroups()
	roles := map[string][2]int{}
	for _, ex := range examples {
		g, err := d.Group(ctx, ex.JID)
		if err != nil || g.Subject == "" || g.Size != len(g.Participants) {
			t.Fatalf("Group(%s) = %+v, %v", ex.JID, g, err)
		}
		me, admins := role(g)
		if me {
			roles[ex.Subject] = [2]int{1, admins}
		} else {
			roles[ex.Subject] = [2]int{0, admins}
		}
	}
	var member, adminAmongOthers, onlyAdmin bool
	for _, r := range roles {
		member = member || r[0] == 0
		adminAmongOthers = adminAmongOthers || (r[0] == 1 && r[1] > 1)
		onlyAdmin = onlyAdmin || (r[0] == 1 && r[1] == 1)
	}
	if !member || !adminAmongOthers || !onlyAdmin {
		t.Fatalf("the examples lack a case (member %v, admin among others %v, only admin %v): %v", member, adminAmongOthers, onlyAdmin, roles)
	}

	// By invite link, as RyzeAPI resolves them; an unknown code is a 400.
	if g, err := d.Group(ctx, examples[0].InviteLink); err != nil || g.JID != examples[0].JID {
		t.Fatalf("Group(invite link) = %+v, %v", g, err)
	}
	if _, err := d.Group(ctx, "NoSuchCode12345"); !errors.Is(err, ErrInvalid) {
		t.Fatalf("unknown invite code: %v", err)
	}
	if _, err := d.Group(ctx, "not a group"); !errors.Is(err, ErrInvalid) {
		t.Fatalf("malformed ref: %v", err)
	}

	// Any well-formed group JID is a group it is in.
	other := "120363406289005073@g.us"
	if g, err := d.Group(ctx, other); err != nil || g.JID != other || len(g.Participants) == 0 {
		t.Fatalf("Group(other) = %+v, %v", g, err)
	}

	// Goodbye, leave, and then the group is gone.
	admin := examples[1]
	if id, err := d.SendText(ctx, admin.JID, "Bye!"); err != nil || id == "" {
		t.Fatalf("SendText = %q, %v", id, err)
	}
	if _, err := d.SendText(ctx, admin.JID, "  "); !errors.Is(err, ErrInvalid) {
		t.Fatalf("empty goodbye: %v", err)
	}
	res, err := d.Leave(ctx, admin.JID)
	if me, _ := role(admin); err != nil || res.WasAdmin != me {
		t.Fatalf("Leave = %+v, %v; want WasAdmin %v", res, err, me)
	}
	for name, err := range map[string]error{
		"Leave again": func() error { _, err := d.Leave(ctx, admin.JID); return err }(),
		"Group":       func() error { _, err := d.Group(ctx, admin.JID); return err }(),
		"SendText":    func() error { _, err := d.SendText(ctx, admin.JID, "Bye"); return err }(),
	} {
		var e *Error
		if !errors.Is(err, ErrNotMember) || !errors.As(err, &e) || e.Status != 404 {
			t.Errorf("%s after leaving: %v; want not a member (404)", name, err)
		}
	}
	if list, _ := d.Groups(ctx); len(list) != 2 {
		t.Errorf("Groups after leaving one: %v", list)
	}
	if _, err := d.Leave(ctx, "120363406289005073"); !errors.Is(err, ErrInvalid) {
		t.Errorf("malformed JID: %v", err)
	}

	want := []string{"sendMessage", "leaveGroup", "leaveGroup", "sendMessage"}
	if len(seen) != len(want) {
		t.Fatalf("observed %+v; want ops %v", seen, want)
	}
	for i, c := range seen {
		if c.Op != want[i] || c.Chat != admin.JID {
			t.Errorf("observed call %d = %+v; want %s of %s", i, c, want[i], admin.JID)
		}
	}
	if seen[0].Text != "Bye!" || seen[2].Result != "not a member" {
		t.Errorf("observed %+v", seen)
	}
}

// Promotion needs the instance to be an admin and the participant to be
// a member, and shows in the group's details afterwards.
func TestDryRun_Promote(t *testing.T) {
	ctx := context.Background()
	d := NewDryRun(nil)
	var onlyAdmin, plainMember Group
	for _, g := range DryRunGroups() {
		admins, me := 0, false
		for _, p := range g.Participants {
			if p.IsAdmin {
				admins++
				me = me || p.JID == DryRunMe
			}
		}
		switch {
		case me && admins == 1:
			onlyAdmin = g
		case !me:
			plainMember = g
		}
	}
	successor := onlyAdmin.Participants[len(onlyAdmin.Participants)-1].JID
	if err := d.Promote(ctx, onlyAdmin.JID, successor); err != nil {
		t.Fatal(err)
	}
	g, _ := d.Group(ctx, onlyAdmin.JID)
	for _, p := range g.Participants {
		if p.JID == successor && !p.IsAdmin {
			t.Errorf("%s is not an admin after Promote", successor)
		}
	}
	if err := d.Promote(ctx, onlyAdmin.JID, "15550000000@c.us"); !errors.Is(err, ErrInvalid) {
		t.Errorf("promoting a non-member: %v", err)
	}
	if err := d.Promote(ctx, plainMember.JID, plainMember.Participants[len(plainMember.Participants)-1].JID); !errors.Is(err, ErrForbidden) {
		t.Errorf("promoting without being an admin: %v", err)
	}
	if DryRunGroups()[2].Participants[1].IsAdmin && DryRunGroups()[2].Participants[1].JID == successor {
		t.Error("a promotion changed the examples themselves")
	}
}

func TestDryRun_LastActivity(t *testing.T) {
	t.Parallel()
	now := time.Date(2026, 12, 6, 9, 0, 0, 0, time.UTC)
	d := NewDryRun(nil)
	d.Now = func() time.Time { return now }
	ctx := context.Background()
	day := 24 * time.Hour
	for jid, idle := range map[string]time.Duration{
		"120363000000000101@g.us": 2 * day,
		"120363000000000102@g.us": 210 * day,
		"120363000000000103@g.us": 120 * day,
	} {
		got, err := d.LastActivity(ctx, jid)
		require.NoError(t, err)
		assert.Equal(t, now.Add(-idle), got, jid)
	}
	got, err := d.LastActivity(ctx, "120363000000009999@g.us")
	require.NoError(t, err)
	assert.True(t, got.IsZero(), "any other group: cannot tell")

	_, err = d.Leave(ctx, "120363000000000102@g.us")
	require.NoError(t, err)
	_, err = d.LastActivity(ctx, "120363000000000102@g.us")
	assert.ErrorIs(t, err, ErrNotMember)
	_, err = d.LastActivity(ctx, "not a group")
	assert.ErrorIs(t, err, ErrInvalid)
}
