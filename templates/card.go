package templates

import (
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/slack-go/slack"

	"github.com/waleave/waleave/leave"
)

// Action IDs route button clicks and menu choices back to the bot. They
// are part of the public contract (SPEC §5): Slack sends them back in
// block_actions payloads, so renaming one breaks cards already posted.
const (
	// ActionConfirm is the card's "Leave group" button; its value is the
	// request ID, and its block's ID carries the card's version (see
	// CardVersionFromBlockID).
	ActionConfirm = "leave_confirm"
	// ActionCancel is the card's "Cancel" button; its value is the request ID.
	ActionCancel = "leave_cancel"
	// ActionPickGroup is a button offered for each candidate when a group
	// name is ambiguous; its value is the candidate's group JID.
	ActionPickGroup = "leave_pick_group"
	// ActionSuccessor is the static select of participants shown when the
	// instance is the group's only admin; each option's value is a
	// participant JID, and the block ID carries the request ID (see
	// RequestIDFromBlockID).
	ActionSuccessor = "leave_successor"
)

// Card is everything the confirmation card shows. The bot re-renders the
// whole card from it on every state change, so the card never drifts from
// the stored request.
type Card struct {
	RequestID    string
	GroupJID     string
	GroupSubject string // "" when unknown
	Goodbye      string // "" = no goodbye
	RequesterID  string // Slack user ID
	CreatedAt    time.Time
	ExpiresAt    time.Time
	RunAt        time.Time      // zero = as soon as confirmed; else a scheduled leave
	Location     *time.Location // zone to show times in (nil = UTC); scheduled times are shown in this zone and in UTC
	State        leave.State
	ConfirmedBy  string        // Slack user ID
	CancelledBy  string        // Slack user ID
	Progress     string        // e.g. "retrying (attempt 2 of 5)" while running; plain text from the bot
	Outcome      leave.Outcome // set when done or failed
	// Verification is what the group lookup after the leave found; the
	// card of a finished leave says whether it was verified.
	Verification Verification
	// GoodbyeUnknown: the goodbye was attempted but its fate is unknown
	// (its answer was lost, and it is never sent twice); the card says
	// it may not have reached the group.
	GoodbyeUnknown bool

	// Group details from the gateway; zero values when unknown.
	DetailsUnavailable bool // the gateway could not be asked in time: the card says so
	Size               int
	IsAdmin            bool
	OnlyAdmin          bool
	AdminUnknown       bool          // the gateway answered but the instance's role is unknown: the card claims no role
	Successors         []Participant // offered in a static select when OnlyAdmin and pending
	Successor          string        // chosen participant JID, if any

	// Number names the WhatsApp number that leaves; empty (not shown)
	// when the bot has one.
	Number string

	// DryRun marks the card of a bot whose gateway sends nothing
	// (WA_PROVIDER=dryrun): its header, notification text and a note
	// under the header say so in every state.
	DryRun bool
	// Version is the request's version this card shows; a pending card's
	// buttons carry it, so that a confirmation approves what the card
	// showed and nothing changed since.
	Version int

	// Bulk, when set, makes this the card of a bulk request (SPEC §9):
	// its groups instead of one group's details.
	Bulk *Bulk
}

// Verification is what the group lookup after a leave found. The values
// match the bot's stored ones.
type Verification string

// The verifications.
const (
	// NoVerification: no lookup was made (the leave did not happen, or
	// there was nothing to leave).
	NoVerification Verification = ""
	// Verified: the group no longer lists the instance.
	Verified Verification = "verified"
	// NotVerified: the lookup could not tell; the outcome is the
	// gateway's word alone.
	NotVerified Verification = "unverified"
)

// Participant is a member of a WhatsApp group who could be made admin.
type Participant struct{ JID, Name string }

// Block Kit limits (https://docs.slack.dev/reference/block-kit). Slack
// rejects the whole message when one is exceeded, so the card clips
// user-supplied text to fit rather than fail to post.
const (
	maxSectionText = 3000
	maxField       = 2000
	maxHeader      = 150
	maxButtonText  = 75
	maxOptionText  = 75
	maxOptionValue = 150
	maxOptions     = 100
	maxDialogTitle = 100
	maxDialogText  = 300
	maxDialogWord  = 30
	maxBlocks      = 50
)

// Block IDs are "<purpose>.<state>": stable per purpose, so the bot and
// tests can find a block, and different per state, because Slack keeps
// the old rendering of a block whose ID did not change when a message is
// updated. RequestIDFromBlockID reads the request ID that interactive
// blocks append.
const (
	blockHeader    = "leave_header"
	blockGroup     = "leave_group"
	blockGoodbye   = "leave_goodbye"
	blockDetails   = "leave_details"
	blockAdmin     = "leave_admin"
	blockSuccessor = "leave_successor"
	blockStatus    = "leave_status"
	blockActions   = "leave_actions"
	blockDryRun    = "leave_dryrun"
)

func blockID(purpose string, st leave.State, requestID ...string) string {
	id := purpose + "." + string(st)
	for _, r := range requestID {
		id += "." + r
	}
	return id
}

// versionMark introduces the card version in the actions block's ID:
// "leave_actions.pending.v7".
const versionMark = ".v"

// CardVersionFromBlockID returns the card version carried in the block ID
// of a card's buttons. ok is false for a block ID without one (a card
// drawn before cards carried their version, or one not drawn here).
func CardVersionFromBlockID(blockID string) (version int, ok bool) {
	rest, found := strings.CutPrefix(blockID, blockActions+"."+string(leave.Pending)+versionMark)
	if !found {
		return 0, false
	}
	v, err := strconv.Atoi(rest)
	if err != nil || v < 1 || strconv.Itoa(v) != rest {
		return 0, false
	}
	return v, true
}

// RequestIDFromBlockID returns the request ID carried in the block ID of
// an interactive card block (the successor select's), for actions whose
// value is not the request ID. ok is false for other block IDs.
func RequestIDFromBlockID(blockID string) (id string, ok bool) {
	parts := strings.SplitN(blockID, ".", 3)
	if len(parts) != 3 || !strings.HasPrefix(parts[0], "leave_") || parts[2] == "" {
		return "", false
	}
	return parts[2], true
}

// CardBlocks renders the confirmation card for c. Only a pending card has
// buttons; every other state replaces them with a status line, so a stale
// card cannot be clicked into doing anything.
func CardBlocks(c Card) []slack.Block {
	if c.Bulk != nil {
		return bulkCardBlocks(c)
	}
	st := c.State
	head := headline(c)
	if c.DryRun {
		head += " (dry run)"
	}
	blocks := []slack.Block{slack.NewHeaderBlock(plain(plainClip(head, maxHeader)), slack.HeaderBlockOptionBlockID(blockID(blockHeader, st)))}
	if c.DryRun {
		blocks = append(blocks, dryRunBlock(st))
	}
	blocks = append(blocks,
		slack.NewSectionBlock(mrkdwn(groupLine(c)), cardFields(c), nil, slack.SectionBlockOptionBlockID(blockID(blockGroup, st))),
		slack.NewSectionBlock(mrkdwn(goodbyeText(c)), nil, nil, slack.SectionBlockOptionBlockID(blockID(blockGoodbye, st))),
	)
	if c.DetailsUnavailable {
		blocks = append(blocks, slack.NewContextBlock(blockID(blockDetails, st),
			mrkdwn(":grey_question: The gateway did not answer in time, so the member count and whether the instance is an admin are unknown.")))
	}
	if c.OnlyAdmin && (st == leave.Pending || st == leave.Confirmed) {
		blocks = append(blocks, adminWarning(c))
	}
	blocks = append(blocks, slack.NewContextBlock(blockID(blockStatus, st), statusElements(c)...))
	if st == leave.Pending {
		blocks = append(blocks, slack.NewActionBlock(blockID(blockActions, st)+versionMark+strconv.Itoa(c.Version),
			slack.NewButtonBlockElement(ActionConfirm, c.RequestID, plain("Leave group")).
				WithStyle(slack.StyleDanger).
				WithConfirm(confirmDialog(c)),
			slack.NewButtonBlockElement(ActionCancel, c.RequestID, plain("Cancel")),
		))
	}
	return blocks
}

// CardText is the card's notification text: what Slack shows in
// notifications, the channel sidebar and screen readers. It is plain and
// escaped, and mentions nobody, so an update never pings anyone.
func CardText(c Card) string {
	text := cardText(c)
	if c.Bulk != nil {
		text = bulkCardText(c)
	}
	if c.Number != "" {
		text += " (WhatsApp number " + escapeClip(oneLine(c.Number), 100) + ")"
	}
	if c.DryRun {
		return dryRunMark + ". " + text
	}
	return text
}

func cardText(c Card) string {
	g := escapeClip(oneLine(groupName(c)), 200)
	switch c.State {
	case leave.Pending:
		return "Confirm: leave the WhatsApp group " + g + "?"
	case leave.Confirmed:
		if !c.RunAt.IsZero() {
			return "Scheduled: leave the WhatsApp group " + g + " at " + scheduledAt(c.RunAt, c.Location)
		}
		return "Confirmed: leaving the WhatsApp group " + g
	case leave.Running:
		return "Leaving the WhatsApp group " + g + "…"
	case leave.Done:
		return "Done: " + g + ": " + Summary(c.Outcome)
	case leave.Failed:
		return "Failed: " + g + ": " + Summary(c.Outcome)
	case leave.Cancelled:
		return "Cancelled: leave the WhatsApp group " + g
	case leave.Expired:
		return "Expired: leave the WhatsApp group " + g
	}
	return "Leave the WhatsApp group " + g
}

// groupName is the subject when known, else the JID.
func groupName(c Card) string {
	if strings.TrimSpace(c.GroupSubject) != "" {
		return c.GroupSubject
	}
	return c.GroupJID
}

// headline is the card's header: the state in a few words, so the card
// reads correctly at a glance in a busy channel.
func headline(c Card) string {
	switch c.State {
	case leave.Pending:
		return "Leave this WhatsApp group?"
	case leave.Confirmed:
		if !c.RunAt.IsZero() {
			return "Scheduled: leaving this WhatsApp group"
		}
		return "Confirmed: leaving this WhatsApp group"
	case leave.Running:
		return "Leaving this WhatsApp group…"
	case leave.Done:
		if c.Outcome == leave.OutcomeNotMember {
			return "Already out of this WhatsApp group"
		}
		return "Left this WhatsApp group"
	case leave.Failed:
		return "Could not leave this WhatsApp group"
	case leave.Cancelled:
		return "Leave cancelled"
	case leave.Expired:
		return "Leave request expired"
	}
	return "Leave a WhatsApp group"
}

// groupLine names the group: subject in bold when known, and always the
// JID, because subjects are not unique and the JID is what gets left.
func groupLine(c Card) string {
	jid := code(c.GroupJID)
	if s := oneLine(c.GroupSubject); s != "" {
		return "*" + escapeClip(s, 500) + "*\n" + jid
	}
	return jid + "\n_The gateway did not report the group's name._"
}

// cardFields are the two-column facts under the group's name.
func cardFields(c Card) []*slack.TextBlockObject {
	field := func(label, value string) *slack.TextBlockObject {
		return mrkdwn(clipPieces([]string{"*" + label + "*\n", value}, maxField))
	}
	fields := []*slack.TextBlockObject{field("Requested by", mention(c.RequesterID))}
	if c.Number != "" {
		fields = append(fields, field("WhatsApp number", escapeClip(c.Number, 100)))
	}
	// When it runs and when it expires matter only to whoever is about to
	// confirm; afterwards the status line says what is happening.
	if c.State == leave.Pending {
		if c.RunAt.IsZero() {
			fields = append(fields, field("When", "As soon as someone confirms"))
		} else {
			fields = append(fields, field("Scheduled for", scheduledAt(c.RunAt, c.Location)))
		}
		if !c.ExpiresAt.IsZero() {
			fields = append(fields, field("Expires", slackDate(c.ExpiresAt, c.Location)))
		}
	}
	if c.Size > 0 {
		fields = append(fields, field("Members", strconv.Itoa(c.Size)))
	}
	switch {
	case c.OnlyAdmin:
		fields = append(fields, field("The instance is", "the *only* admin"))
	case c.IsAdmin:
		fields = append(fields, field("The instance is", "an admin"))
	case c.Size > 0 && !c.AdminUnknown:
		fields = append(fields, field("The instance is", "a member (not an admin)"))
	}
	return fields
}

// goodbyeIntro heads the goodbye section while the goodbye is still to
// come; afterwards goodbyeLabel does, since whether it was posted is
// the thread's story. The rest of the section's 3000 characters are left
// for the quoted goodbye.
const (
	goodbyeIntro = "*Goodbye message*, posted to the group before leaving:\n"
	goodbyeLabel = "*Goodbye message:*\n"
	// goodbyeIntroBulk: a bulk request posts it in each of its groups.
	goodbyeIntroBulk = "*Goodbye message*, posted to each group before leaving it:\n"
	// goodbyeUnknownIntro: the send was attempted and its answer lost.
	goodbyeUnknownIntro = "*Goodbye message:* :grey_question: it may not have reached the group. The gateway's answer to it was lost, and it is never sent twice.\n"
)

// goodbyeText previews the goodbye exactly as it will be sent (escaped for
// Slack, cut with "…" if it would not fit), or says there is none.
func goodbyeText(c Card) string {
	ahead := c.State == leave.Pending || c.State == leave.Confirmed || c.State == leave.Running
	if strings.TrimSpace(c.Goodbye) == "" {
		if ahead {
			return "*Goodbye message:* none. The instance leaves without a word."
		}
		return "*Goodbye message:* none."
	}
	intro := goodbyeLabel
	switch {
	case c.GoodbyeUnknown:
		intro = goodbyeUnknownIntro
	case ahead && c.Bulk != nil:
		intro = goodbyeIntroBulk
	case ahead:
		intro = goodbyeIntro
	}
	return intro + quote(c.Goodbye, maxSectionText-width(intro))
}

// adminWarning warns that the instance is the group's only admin: when the
// last admin leaves, WhatsApp makes a member admin at random. While the
// card is pending it offers the participants, so someone can be chosen
// to be made admin first, and the choice changed until it is confirmed.
func adminWarning(c Card) slack.Block {
	text := ":warning: *The instance is the only admin of this group.* When it leaves, WhatsApp makes a member admin at random."
	var accessory *slack.Accessory
	switch {
	case c.State == leave.Pending && len(c.Successors) > 0:
		if c.Successor != "" {
			text += " " + escapeClip(participantName(c), 200) + " will be made admin first; to choose someone else, pick them here."
		} else {
			text += " To choose who takes over, pick them here before confirming."
		}
		accessory = slack.NewAccessory(successorSelect(c))
	case c.Successor != "":
		text += " " + escapeClip(participantName(c), 200) + " will be made admin first."
	}
	id := blockID(blockAdmin, c.State)
	if accessory != nil {
		// The select's value is a participant, so the block carries the
		// request it belongs to.
		id = blockID(blockSuccessor, c.State, c.RequestID)
	}
	return slack.NewSectionBlock(mrkdwn(text), nil, accessory, slack.SectionBlockOptionBlockID(id))
}

// successorSelect lists at most 100 participants (Slack's limit for a
// static select); with more, the first 100 the gateway listed are offered.
func successorSelect(c Card) *slack.SelectBlockElement {
	opts := make([]*slack.OptionBlockObject, 0, min(len(c.Successors), maxOptions))
	var initial *slack.OptionBlockObject
	for _, p := range c.Successors {
		if len(opts) == maxOptions {
			break
		}
		if p.JID == "" || width(p.JID) > maxOptionValue {
			continue // Slack would reject the whole card over one bad value
		}
		o := slack.NewOptionBlockObject(p.JID, plain(plainClip(participantLabel(p), maxOptionText)), nil)
		if p.JID == c.Successor {
			initial = o
		}
		opts = append(opts, o)
	}
	sel := slack.NewOptionsSelectBlockElement(slack.OptTypeStatic, plain("Make admin first…"), ActionSuccessor, opts...)
	if initial != nil {
		sel = sel.WithInitialOption(initial)
	}
	return sel
}

// participantLabel is a participant as a select shows them: name and
// phone number, since names are not unique.
func participantLabel(p Participant) string {
	phone, _, _ := strings.Cut(p.JID, "@")
	if n := oneLine(p.Name); n != "" {
		return n + " (+" + phone + ")"
	}
	return "+" + phone
}

// participantName names the chosen successor, using the name from
// Successors when it is there.
func participantName(c Card) string {
	for _, p := range c.Successors {
		if p.JID == c.Successor {
			return participantLabel(p)
		}
	}
	return participantLabel(Participant{JID: c.Successor})
}

// statusElements is the card's status line: what state it is in, who
// moved it there, and the request ID (which /wa-leave status accepts).
func statusElements(c Card) []slack.MixedElement {
	var parts []string
	confirmed := func() {
		if c.ConfirmedBy != "" {
			parts = append(parts, "Confirmed by "+mention(c.ConfirmedBy))
		}
	}
	switch c.State {
	case leave.Pending:
		parts = append(parts, ":hourglass_flowing_sand: Waiting for confirmation. Nothing is sent to WhatsApp until someone presses *Leave group*.")
	case leave.Confirmed:
		if c.ConfirmedBy != "" {
			parts = append(parts, ":white_check_mark: Confirmed by "+mention(c.ConfirmedBy))
		} else {
			parts = append(parts, ":white_check_mark: Confirmed")
		}
		if !c.RunAt.IsZero() {
			parts = append(parts, "Scheduled for "+scheduledAt(c.RunAt, c.Location))
		}
	case leave.Running:
		s := ":arrows_counterclockwise: Leaving…"
		if p := oneLine(c.Progress); p != "" {
			s += " " + escapeClip(p, 300)
		}
		parts = append(parts, s)
		confirmed()
	case leave.Done:
		parts = append(parts, ":white_check_mark: Done: "+Summary(c.Outcome))
		switch c.Verification {
		case Verified:
			parts = append(parts, "Verified: the group no longer lists the instance")
		case NotVerified:
			parts = append(parts, ":grey_question: Not verified: the gateway could not say afterwards whether the group still lists the instance")
		}
		confirmed()
	case leave.Failed:
		parts = append(parts, ":x: Failed: "+Summary(c.Outcome)+". Details are in the thread.")
		confirmed()
	case leave.Cancelled:
		if c.CancelledBy != "" {
			parts = append(parts, ":no_entry_sign: Cancelled by "+mention(c.CancelledBy)+". Nothing was sent to WhatsApp.")
		} else {
			parts = append(parts, ":no_entry_sign: Cancelled. Nothing was sent to WhatsApp.")
		}
	case leave.Expired:
		parts = append(parts, ":hourglass: Expired — run `/wa-leave` again to start over. Nothing was sent to WhatsApp.")
	default:
		parts = append(parts, "Status: "+escapeClip(oneLine(string(c.State)), 100))
	}
	parts = append(parts, "Request "+code(c.RequestID))
	elems := make([]slack.MixedElement, len(parts))
	for i, p := range parts {
		elems[i] = mrkdwn(p)
	}
	return elems
}

// confirmDialog is the "are you sure" Slack shows before a Leave click is
// sent. It names the group, because a wrong card is the mistake it exists
// to catch. Dialog texts are plain_text, which Slack shows literally, so
// they are clipped but not escaped.
func confirmDialog(c Card) *slack.ConfirmationBlockObject {
	name := plainClip(oneLine(groupName(c)), 120)
	what := "leave " + name
	if strings.TrimSpace(c.Goodbye) != "" {
		what = "post the goodbye message, then leave " + name
	}
	when := ""
	if !c.RunAt.IsZero() {
		when = " at " + scheduledAt(c.RunAt, c.Location)
	}
	return slack.NewConfirmationBlockObject(
		plain(plainClip("Leave the WhatsApp group?", maxDialogTitle)),
		plain(plainClip("The instance will "+what+when+". This cannot be undone.", maxDialogText)),
		plain(plainClip("Leave group", maxDialogWord)),
		plain(plainClip("Keep it", maxDialogWord)),
	).WithStyle(slack.StyleDanger)
}

// slackDate shows t in each reader's own time zone (Slack's date
// formatting); the fallback, for clients that cannot, uses loc.
func slackDate(t time.Time, loc *time.Location) string {
	return fmt.Sprintf("<!date^%d^{date_short_pretty} {time}|%s>", t.Unix(), Escape(t.In(zone(loc)).Format("2006-01-02 15:04 MST")))
}

// scheduledAt shows a scheduled time in the configured zone and in UTC.
// It is spelled out rather than Slack-formatted because the schedule was
// given in the configured zone and that is the zone the ops team plans in.
func scheduledAt(t time.Time, loc *time.Location) string {
	local, utc := t.In(zone(loc)), t.UTC()
	const day, clock = "Mon 2 Jan 2006", "15:04"
	if local.Format("-0700 MST") == utc.Format("-0700 MST") {
		return utc.Format(day + " " + clock + " MST")
	}
	u := utc.Format(clock + " MST")
	if utc.Format(day) != local.Format(day) {
		u = utc.Format(day + " " + clock + " MST")
	}
	return local.Format(day+" "+clock+" MST") + " (" + u + ")"
}

func zone(loc *time.Location) *time.Location {
	if loc == nil {
		return time.UTC
	}
	return loc
}

func plain(s string) *slack.TextBlockObject {
	return slack.NewTextBlockObject(slack.PlainTextType, s, true, false)
}

func mrkdwn(s string) *slack.TextBlockObject {
	return slack.NewTextBlockObject(slack.MarkdownType, s, false, false)
}
