package whatsapp

import (
	"context"
	"fmt"
	"slices"
	"strings"
	"sync"
	"time"
	"unicode/utf8"
)

// DryRunProvider is the WA_PROVIDER value of the built-in gateway that
// sends nothing (SPEC §8).
const DryRunProvider = "dryrun"

// DryRunMe is the dry-run instance's own JID. The number is in the range
// North America keeps for fiction (555-01xx), so it reaches nobody.
const DryRunMe = "15555550100@c.us"

// dryRunMaxText is the longest goodbye the dry run takes: the strictest
// of the real gateways' limits, so that a goodbye the dry run accepts is
// one every real gateway would take too.
const dryRunMaxText = 4096

// DryRunCall is one call the dry run answered instead of sending it to
// WhatsApp: a goodbye, a leave or a promotion. Lookups (group details,
// the group list, the state) change nothing and are not reported.
type DryRunCall struct {
	// Op is the real gateways' name for the call: "sendMessage",
	// "leaveGroup" or "setGroupAdmin".
	Op string
	// Chat is the group (or person) the call was for.
	Chat string
	// Text is the goodbye's text (sendMessage).
	Text string
	// Participant is the member made admin (setGroupAdmin).
	Participant string
	// Result is how the dry run answered, in a few words ("sent",
	// "left; the instance was an admin", "not a member").
	Result string
}

// DryRun is the gateway WA_PROVIDER=dryrun selects. It sends nothing to
// WhatsApp and needs no URL, instance or token, so a team can try the
// whole Slack side before any number is connected. It answers as a real
// gateway would: it knows a few example groups (DryRunGroups), treats any
// other well-formed group JID as a group it is a plain member of,
// remembers (in memory, until the process stops) the groups it left, so
// that a later leave, goodbye or lookup says "not a member", and fails
// with the same typed errors, and the same statuses, as the real clients.
type DryRun struct {
	observe func(DryRunCall)
	// Now is the clock the example groups' last activity is counted
	// back from; nil means time.Now. Set it before the first call.
	Now func() time.Time

	mu       sync.Mutex
	left     map[string]bool
	promoted map[string][]string // group JID → participants made admin
	seq      int
}

// NewDryRun returns a dry-run gateway. observe, when not nil, is told of
// every goodbye, leave and promotion the dry run answered, after it
// answered; it must not block for long.
func NewDryRun(observe func(DryRunCall)) *DryRun {
	return &DryRun{observe: observe, left: map[string]bool{}, promoted: map[string][]string{}}
}

// DryRun reports that this gateway sends nothing: the bot marks every
// card and outcome it shows as a dry run.
func (*DryRun) DryRun() bool { return true }

// DryRunGroups are the example groups the dry run is in: one where the
// instance is a plain member, one where it is an admin among others, and
// one where it is the only admin (so the card offers a successor). Their
// subjects are ordinary names, so messages say "dry run" because the bot
// marks them, not because a group's name does.
func DryRunGroups() []Group {
	member := func(n string) Participant { return Participant{JID: "1555555" + n + "@c.us"} }
	admin := func(n string) Participant { return Participant{JID: "1555555" + n + "@c.us", IsAdmin: true} }
	me, meAdmin := Participant{JID: DryRunMe}, Participant{JID: DryRunMe, IsAdmin: true, IsSuperAdmin: true}
	groups := []Group{
		{JID: "120363000000000101@g.us", Subject: "Falcon project", InviteLink: InviteLink("DryRunFalcon0101"),
			Participants: []Participant{admin("0101"), me, member("0102"), member("0103")}},
		{JID: "120363000000000102@g.us", Subject: "Suppliers Lisbon", InviteLink: InviteLink("DryRunSuppliers0102"),
			Participants: []Participant{meAdmin, admin("0104"), member("0105"), member("0106"), member("0107")}},
		{JID: "120363000000000103@g.us", Subject: "Summer party 2026", InviteLink: InviteLink("DryRunSummer0103"),
			Participants: []Participant{meAdmin, member("0108"), member("0109"), member("0110")}},
	}
	for i := range groups {
		groups[i].Size = len(groups[i].Participants)
	}
	return groups
}

// group is what the dry run knows of jid, with the promotions it made.
// Callers hold d.mu.
func (d *DryRun) group(jid string) Group {
	var g Group
	if i := slices.IndexFunc(DryRunGroups(), func(g Group) bool { return g.JID == jid }); i >= 0 {
		g = DryRunGroups()[i]
	} else {
		// Any other group: the instance is a plain member, and someone
		// else is the admin. Its name is unknown, as with Wawp.
		g = Group{JID: jid, Participants: []Participant{{JID: "15555550199@c.us", IsAdmin: true}, {JID: DryRunMe}}, Size: 2}
	}
	for i, p := range g.Participants {
		if slices.Contains(d.promoted[jid], p.JID) {
			g.Participants[i].IsAdmin = true
		}
	}
	return g
}

func (d *DryRun) fail(op string, status int, kind error, format string, args ...any) error {
	return &Error{Provider: DryRunProvider, Op: op, Status: status, Kind: kind, Message: "dry run: " + fmt.Sprintf(format, args...)}
}

func (d *DryRun) report(c DryRunCall) {
	if d.observe != nil {
		d.observe(c)
	}
}

// Leave leaves the group, in memory: a second leave of it is "not a
// member" (404), as with a real gateway.
func (d *DryRun) Leave(ctx context.Context, groupJID string) (LeaveResult, error) {
	const op = "leaveGroup"
	if err := ctx.Err(); err != nil {
		return LeaveResult{}, d.fail(op, 0, ErrUnavailable, "%v", err)
	}
	if !IsGroupJID(groupJID) {
		return LeaveResult{}, d.fail(op, 0, ErrInvalid, "%q is not a group JID (…@g.us)", groupJID)
	}
	d.mu.Lock()
	if d.left[groupJID] {
		d.mu.Unlock()
		d.report(DryRunCall{Op: op, Chat: groupJID, Result: "not a member"})
		return LeaveResult{}, d.fail(op, 404, ErrNotMember, "the instance is not in the group")
	}
	wasAdmin := false
	for _, p := range d.group(groupJID).Participants {
		if p.JID == DryRunMe {
			wasAdmin = p.IsAdmin
		}
	}
	d.left[groupJID] = true
	d.mu.Unlock()
	result := "left"
	if wasAdmin {
		result = "left; the instance was an admin"
	}
	d.report(DryRunCall{Op: op, Chat: groupJID, Result: result})
	return LeaveResult{WasAdmin: wasAdmin}, nil
}

// SendText pretends to post text and returns a made-up message ID. A
// group the instance left is "not a member" (404).
func (d *DryRun) SendText(ctx context.Context, chatID, text string) (string, error) {
	const op = "sendMessage"
	if err := ctx.Err(); err != nil {
		return "", d.fail(op, 0, ErrUnavailable, "%v", err)
	}
	switch {
	case !IsGroupJID(chatID) && !isUserJID(chatID):
		return "", d.fail(op, 0, ErrInvalid, "%q is not a chat JID", chatID)
	case strings.TrimSpace(text) == "":
		return "", d.fail(op, 0, ErrInvalid, "empty message")
	case utf8.RuneCountInString(text) > dryRunMaxText:
		return "", d.fail(op, 0, ErrInvalid, "message is longer than %d characters", dryRunMaxText)
	}
	d.mu.Lock()
	if d.left[chatID] {
		d.mu.Unlock()
		d.report(DryRunCall{Op: op, Chat: chatID, Text: text, Result: "not a member"})
		return "", d.fail(op, 404, ErrNotMember, "the instance is not in the group")
	}
	d.seq++
	id := fmt.Sprintf("DRYRUN%06d", d.seq)
	d.mu.Unlock()
	d.report(DryRunCall{Op: op, Chat: chatID, Text: text, Result: "sent (message " + id + ")"})
	return id, nil
}

// Group describes a group by JID, or an example group by its invite
// code or link. A group the instance left is "not a member" (404); an
// unknown invite code is "invalid" (400), as RyzeAPI answers.
func (d *DryRun) Group(ctx context.Context, ref string) (Group, error) {
	const op = "groupInfo"
	if err := ctx.Err(); err != nil {
		return Group{}, d.fail(op, 0, ErrUnavailable, "%v", err)
	}
	jid := ref
	if !IsGroupJID(ref) {
		code, ok := InviteCode(ref)
		if !ok {
			return Group{}, d.fail(op, 0, ErrInvalid, "%q is neither a group JID nor an invite code", ref)
		}
		i := slices.IndexFunc(DryRunGroups(), func(g Group) bool { return g.InviteLink == InviteLink(code) })
		if i < 0 {
			return Group{}, d.fail(op, 400, ErrInvalid, "no group has the invite code %q", code)
		}
		jid = DryRunGroups()[i].JID
	}
	d.mu.Lock()
	defer d.mu.Unlock()
	if d.left[jid] {
		return Group{}, d.fail(op, 404, ErrNotMember, "the instance is not in the group")
	}
	return d.group(jid), nil
}

// Groups lists the example groups the instance has not left.
func (d *DryRun) Groups(ctx context.Context) ([]GroupSummary, error) {
	if err := ctx.Err(); err != nil {
		return nil, d.fail("getGroups", 0, ErrUnavailable, "%v", err)
	}
	d.mu.Lock()
	defer d.mu.Unlock()
	var out []GroupSummary
	for _, g := range DryRunGroups() {
		if !d.left[g.JID] {
			out = append(out, GroupSummary{JID: g.JID, Subject: g.Subject})
		}
	}
	return out, nil
}

// Promote makes participant an admin, in memory. Like WhatsApp, it
// needs the instance to be an admin (403 otherwise) and participant to
// be a member (400 otherwise).
func (d *DryRun) Promote(ctx context.Context, groupJID, participant string) error {
	const op = "setGroupAdmin"
	if err := ctx.Err(); err != nil {
		return d.fail(op, 0, ErrUnavailable, "%v", err)
	}
	if !IsGroupJID(groupJID) || !isUserJID(participant) {
		return d.fail(op, 0, ErrInvalid, "%q or %q is malformed", groupJID, participant)
	}
	d.mu.Lock()
	if d.left[groupJID] {
		d.mu.Unlock()
		return d.fail(op, 404, ErrNotMember, "the instance is not in the group")
	}
	g := d.group(groupJID)
	meAdmin, member := false, false
	for _, p := range g.Participants {
		meAdmin = meAdmin || (p.JID == DryRunMe && p.IsAdmin)
		member = member || p.JID == asCUs(participant)
	}
	switch {
	case !meAdmin:
		d.mu.Unlock()
		return d.fail(op, 403, ErrForbidden, "the instance is not an admin of the group")
	case !member:
		d.mu.Unlock()
		return d.fail(op, 400, ErrInvalid, "%s is not a member of the group", participant)
	}
	d.promoted[groupJID] = append(d.promoted[groupJID], asCUs(participant))
	d.mu.Unlock()
	d.report(DryRunCall{Op: op, Chat: groupJID, Participant: participant, Result: "made admin"})
	return nil
}

// Me is DryRunMe.
func (d *DryRun) Me(ctx context.Context) (string, error) {
	st, err := d.State(ctx)
	return st.Me, err
}

// InviteLink is the link the dry-run group carries.
func (d *DryRun) InviteLink(_ context.Context, g Group) (string, error) {
	return g.InviteLink, nil
}

// dryRunIdle is how long ago each example group last had a message: one
// recent, one idle for more than the 180 days a stale scan typically
// asks about, and one in between, so a dry-run scan finds some groups
// stale and some not. Any other group's history is empty: the dry run
// cannot tell.
func dryRunIdle(jid string) (time.Duration, bool) {
	const day = 24 * time.Hour
	switch jid {
	case "120363000000000101@g.us": // Falcon project
		return 2 * day, true
	case "120363000000000102@g.us": // Suppliers Lisbon
		return 210 * day, true
	case "120363000000000103@g.us": // Summer party 2026
		return 120 * day, true
	}
	return 0, false
}

// LastActivity answers for the example groups at fixed ages counted back
// from Now (see dryRunIdle), "cannot tell" (a zero time) for any other
// group, and "not a member" (404) for a group the dry run left.
func (d *DryRun) LastActivity(ctx context.Context, groupJID string) (time.Time, error) {
	const op = "getChatHistory"
	if err := ctx.Err(); err != nil {
		return time.Time{}, d.fail(op, 0, ErrUnavailable, "%v", err)
	}
	if !IsGroupJID(groupJID) {
		return time.Time{}, d.fail(op, 0, ErrInvalid, "%q is not a group JID (…@g.us)", groupJID)
	}
	d.mu.Lock()
	left, now := d.left[groupJID], d.Now
	d.mu.Unlock()
	if left {
		return time.Time{}, d.fail(op, 404, ErrNotMember, "the instance is not in the group")
	}
	idle, known := dryRunIdle(groupJID)
	if !known {
		return time.Time{}, nil
	}
	if now == nil {
		now = time.Now
	}
	return now().Add(-idle).Truncate(time.Second), nil
}

// State is always connected, with DryRunMe as the instance's JID.
func (d *DryRun) State(ctx context.Context) (State, error) {
	if err := ctx.Err(); err != nil {
		return State{}, d.fail("getStateInstance", 0, ErrUnavailable, "%v", err)
	}
	return State{Connected: true, Raw: "dry run", Me: DryRunMe}, nil
}
