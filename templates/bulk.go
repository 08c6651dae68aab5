package templates

import (
	"fmt"
	"maps"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/slack-go/slack"

	"github.com/waleave/waleave/leave"
)

// ActionStop is the button on a running bulk request's card that stops
// it (SPEC §9): groups not yet started are not left, groups under way
// finish. Its value is the request ID. Part of the public contract, like
// the other action IDs.
const ActionStop = "leave_stop"

// Bulk is what a bulk request's card shows besides what every card does
// (SPEC §9): its groups, and who stopped it.
type Bulk struct {
	// Description says how the groups were chosen ("groups matching
	// “acme”"); plain text, escaped when shown.
	Description string
	// Groups are the request's groups, in the order to show them (by
	// name).
	Groups []BulkGroup
	// StoppedBy is who pressed Stop (a Slack user ID; "" = nobody).
	StoppedBy string
}

// BulkGroup is one group of a bulk request: its name (or JID) and where
// its own request is.
type BulkGroup struct {
	Name    string // subject, or "" when unknown
	JID     string
	State   leave.State
	Outcome leave.Outcome
}

// bulkShown is how many groups a card names; the rest are counted.
const bulkShown = 10

// BulkCounts are a bulk request's groups by where they are.
type BulkCounts struct {
	Total, Done, Failed, Stopped, ToDo int
}

// CountBulk counts groups: done (left, or not a member), failed, stopped
// (cancelled or expired before they started) and still to do.
func CountBulk(groups []BulkGroup) BulkCounts {
	n := BulkCounts{Total: len(groups)}
	for _, g := range groups {
		switch g.State {
		case leave.Done:
			n.Done++
		case leave.Failed:
			n.Failed++
		case leave.Cancelled, leave.Expired:
			n.Stopped++
		default:
			n.ToDo++
		}
	}
	return n
}

func (g BulkGroup) name() string {
	if strings.TrimSpace(g.Name) != "" {
		return g.Name
	}
	return g.JID
}

// groupsNoun is "1 WhatsApp group" or "n WhatsApp groups".
func groupsNoun(n int) string {
	if n == 1 {
		return "1 WhatsApp group"
	}
	return strconv.Itoa(n) + " WhatsApp groups"
}

// bulkCardBlocks renders a bulk request's card: the groups (the first by
// name, then how many more), the number, the goodbye, who asked and when
// it expires; while it runs its progress and a Stop button; at the end
// the counts.
func bulkCardBlocks(c Card) []slack.Block {
	st, n := c.State, CountBulk(c.Bulk.Groups)
	head := bulkHeadline(c, n)
	if c.DryRun {
		head += " (dry run)"
	}
	blocks := []slack.Block{slack.NewHeaderBlock(plain(plainClip(head, maxHeader)), slack.HeaderBlockOptionBlockID(blockID(blockHeader, st)))}
	if c.DryRun {
		blocks = append(blocks, dryRunBlock(st))
	}
	blocks = append(blocks,
		slack.NewSectionBlock(mrkdwn(bulkGroupsText(c)), cardFields(c), nil, slack.SectionBlockOptionBlockID(blockID(blockGroup, st))),
		slack.NewSectionBlock(mrkdwn(goodbyeText(c)), nil, nil, slack.SectionBlockOptionBlockID(blockID(blockGoodbye, st))),
	)
	if st != leave.Pending && st != leave.Expired && !(st == leave.Cancelled && c.Bulk.StoppedBy == "" && n.Done+n.Failed == 0) {
		// The block's ID changes with the counts, so that no client keeps
		// an older rendering of it.
		id := fmt.Sprintf("%s.%s.%d-%d-%d", blockProgress, st, n.Done, n.Failed, n.Stopped)
		blocks = append(blocks, slack.NewSectionBlock(mrkdwn(bulkProgress(n)), nil, nil, slack.SectionBlockOptionBlockID(id)))
	}
	blocks = append(blocks, slack.NewContextBlock(blockID(blockStatus, st), bulkStatusElements(c, n)...))
	switch {
	case st == leave.Pending:
		blocks = append(blocks, slack.NewActionBlock(blockID(blockActions, st)+versionMark+strconv.Itoa(c.Version),
			slack.NewButtonBlockElement(ActionConfirm, c.RequestID, plain(plainClip("Leave "+groupsNoun(n.Total), maxButtonText))).
				WithStyle(slack.StyleDanger).
				WithConfirm(bulkConfirmDialog(c, n)),
			slack.NewButtonBlockElement(ActionCancel, c.RequestID, plain("Cancel")),
		))
	case st == leave.Confirmed && n.ToDo > 0 && c.Bulk.StoppedBy == "":
		blocks = append(blocks, slack.NewActionBlock(blockID(blockActions, st),
			slack.NewButtonBlockElement(ActionStop, c.RequestID, plain("Stop")).
				WithConfirm(slack.NewConfirmationBlockObject(
					plain("Stop leaving these groups?"),
					plain("Groups not started yet are not left; those under way finish."),
					plain("Stop"), plain("Keep going"))),
		))
	}
	return blocks
}

// blockProgress is the bulk card's progress block.
const blockProgress = "leave_progress"

func bulkHeadline(c Card, n BulkCounts) string {
	g := groupsNoun(n.Total)
	switch c.State {
	case leave.Pending:
		return "Leave " + g + "?"
	case leave.Confirmed, leave.Running:
		switch {
		case c.Bulk.StoppedBy != "":
			return "Stopping: finishing the groups under way"
		case !c.RunAt.IsZero() && n.Done+n.Failed == 0:
			return "Scheduled: leaving " + g
		}
		return "Leaving " + g + "…"
	case leave.Done:
		return "Left " + g
	case leave.Failed:
		return "Bulk leave finished: " + strconv.Itoa(n.Failed) + " of " + g + " not left"
	case leave.Cancelled:
		if c.Bulk.StoppedBy != "" {
			return "Bulk leave stopped"
		}
		return "Bulk leave cancelled"
	case leave.Expired:
		return "Bulk leave request expired"
	}
	return "Leave " + g
}

// bulkGroupsText names how the groups were chosen and the first of them.
func bulkGroupsText(c Card) string {
	groups := c.Bulk.Groups
	pieces := []string{"*" + groupsNoun(len(groups)) + "*"}
	if d := oneLine(c.Bulk.Description); d != "" {
		pieces[0] += ": " + escapeClip(d, 200)
	}
	for i, g := range groups {
		if i == bulkShown {
			pieces = append(pieces, fmt.Sprintf("…and %d more", len(groups)-i))
			break
		}
		pieces = append(pieces, "• "+escapeClip(oneLine(g.name()), 100))
	}
	return clipPieces([]string{strings.Join(pieces, "\n")}, maxSectionText)
}

// bulkProgress is done / failed / to do (and stopped, when some were).
func bulkProgress(n BulkCounts) string {
	s := fmt.Sprintf("*Done:* %d   *Failed:* %d   *To do:* %d", n.Done, n.Failed, n.ToDo)
	if n.Stopped > 0 {
		s += fmt.Sprintf("   *Stopped:* %d", n.Stopped)
	}
	return s
}

func bulkStatusElements(c Card, n BulkCounts) []slack.MixedElement {
	var parts []string
	confirmed := func() {
		if c.ConfirmedBy != "" {
			parts = append(parts, "Confirmed by "+mention(c.ConfirmedBy))
		}
	}
	stopped := func() {
		if c.Bulk.StoppedBy != "" {
			parts = append(parts, ":octagonal_sign: Stopped by "+mention(c.Bulk.StoppedBy)+": groups not started were not left")
		}
	}
	switch c.State {
	case leave.Pending:
		parts = append(parts, ":hourglass_flowing_sand: Waiting for confirmation. Nothing is sent to WhatsApp until someone presses *Leave "+groupsNoun(n.Total)+"*.")
	case leave.Confirmed, leave.Running:
		if c.ConfirmedBy != "" {
			parts = append(parts, ":white_check_mark: Confirmed by "+mention(c.ConfirmedBy))
		}
		if !c.RunAt.IsZero() {
			parts = append(parts, "Scheduled for "+scheduledAt(c.RunAt, c.Location))
		}
		stopped()
	case leave.Done:
		parts = append(parts, ":white_check_mark: Done: every group is left. The summary is in the thread.")
		confirmed()
		stopped()
	case leave.Failed:
		parts = append(parts, ":x: Finished: some groups were not left. The summary is in the thread.")
		confirmed()
		stopped()
	case leave.Cancelled:
		switch {
		case c.Bulk.StoppedBy != "":
			stopped()
		case c.CancelledBy != "":
			parts = append(parts, ":no_entry_sign: Cancelled by "+mention(c.CancelledBy)+". Nothing was sent to WhatsApp.")
		default:
			parts = append(parts, ":no_entry_sign: Cancelled. Nothing was sent to WhatsApp.")
		}
	case leave.Expired:
		parts = append(parts, ":hourglass: Expired — run `/wa-leave bulk` again to start over. Nothing was sent to WhatsApp.")
	}
	parts = append(parts, "Request "+code(c.RequestID))
	elems := make([]slack.MixedElement, len(parts))
	for i, p := range parts {
		elems[i] = mrkdwn(p)
	}
	return elems
}

// bulkConfirmDialog says how many groups a click on Leave leaves.
func bulkConfirmDialog(c Card, n BulkCounts) *slack.ConfirmationBlockObject {
	what := "leave " + groupsNoun(n.Total)
	if strings.TrimSpace(c.Goodbye) != "" {
		what = "post the goodbye message in each of " + groupsNoun(n.Total) + ", then leave them"
	}
	when := ""
	if !c.RunAt.IsZero() {
		when = " at " + scheduledAt(c.RunAt, c.Location)
	}
	return slack.NewConfirmationBlockObject(
		plain(plainClip("Leave "+groupsNoun(n.Total)+"?", maxDialogTitle)),
		plain(plainClip("The instance will "+what+when+". This cannot be undone.", maxDialogText)),
		plain(plainClip("Leave groups", maxDialogWord)),
		plain(plainClip("Keep them", maxDialogWord)),
	).WithStyle(slack.StyleDanger)
}

// bulkCardText is a bulk card's notification text.
func bulkCardText(c Card) string {
	n := CountBulk(c.Bulk.Groups)
	g := groupsNoun(n.Total)
	d := ""
	if s := oneLine(c.Bulk.Description); s != "" {
		d = " (" + escapeClip(s, 200) + ")"
	}
	switch c.State {
	case leave.Pending:
		return "Confirm: leave " + g + d + "?"
	case leave.Confirmed, leave.Running:
		return fmt.Sprintf("Leaving %s%s: %d done, %d failed, %d to do", g, d, n.Done, n.Failed, n.ToDo)
	case leave.Done, leave.Failed:
		return fmt.Sprintf("Finished: %s%s: %d done, %d failed, %d stopped", g, d, n.Done, n.Failed, n.Stopped)
	case leave.Cancelled:
		return "Cancelled: leave " + g + d
	case leave.Expired:
		return "Expired: leave " + g + d
	}
	return "Leave " + g + d
}

// bulkPhrase is where one group of a bulk request is, in words: its
// outcome's summary (which holds SPEC §5's phrase) once it ended, else
// its state. confirmed says the bulk request was confirmed, so that a
// cancelled group was stopped rather than cancelled with its request.
func bulkPhrase(g BulkGroup, confirmed bool) string {
	switch g.State {
	case leave.Done, leave.Failed:
		return Summary(g.Outcome)
	case leave.Pending:
		return "waiting for confirmation"
	case leave.Confirmed:
		return "to do"
	case leave.Running:
		return "under way"
	case leave.Cancelled:
		if confirmed {
			return "stopped before it started; not left"
		}
		return "cancelled; nothing was sent"
	case leave.Expired:
		return "expired; nothing was sent"
	}
	return "status " + escapeClip(oneLine(string(g.State)), 50)
}

// maxSummaryGroups is how many groups not left the summary names; more
// would make the reply unreadable (and Slack cuts messages at 40,000
// characters). /wa-leave status lists them all.
const maxSummaryGroups = 100

// BulkSummary is the one reply in a bulk request's thread once every
// group has ended (SPEC §9): how many groups ended with each outcome
// (and how many were stopped), then every group not left with its
// outcome's phrase, the stopped ones included.
func BulkSummary(requestID, description string, groups []BulkGroup) string {
	n := CountBulk(groups)
	var b strings.Builder
	emoji := ":white_check_mark:"
	if n.Failed > 0 || n.Stopped > 0 {
		emoji = ":warning:"
	}
	d := ""
	if s := oneLine(description); s != "" {
		d = " (" + escapeClip(s, 200) + ")"
	}
	fmt.Fprintf(&b, "%s Bulk leave of %s%s finished: %d done, %d failed, %d stopped.\n", emoji, groupsNoun(n.Total), d, n.Done, n.Failed, n.Stopped)
	// Counts per outcome, in the order outcomes are defined, stopped last.
	counts := map[leave.Outcome]int{}
	for _, g := range groups {
		if g.State == leave.Done || g.State == leave.Failed {
			counts[g.Outcome]++
		}
	}
	seen := map[leave.Outcome]bool{}
	for _, o := range leave.Outcomes() {
		if counts[o] > 0 {
			fmt.Fprintf(&b, "• %s: %d\n", Summary(o), counts[o])
			seen[o] = true
		}
	}
	for o, c := range counts {
		if !seen[o] {
			fmt.Fprintf(&b, "• %s: %d\n", Summary(o), c)
		}
	}
	if n.Stopped > 0 {
		fmt.Fprintf(&b, "• stopped before they started (not left): %d\n", n.Stopped)
	}
	var notLeft []BulkGroup
	for _, g := range groups {
		if !(g.State == leave.Done && g.Outcome.Success()) {
			notLeft = append(notLeft, g)
		}
	}
	if len(notLeft) > 0 {
		b.WriteString("*Not left*\n")
		for i, g := range notLeft {
			if i == maxSummaryGroups {
				fmt.Fprintf(&b, "…and %d more: `/wa-leave status %s` lists every group.\n", len(notLeft)-i, requestID)
				break
			}
			fmt.Fprintf(&b, "• %s — %s\n", groupRef(g.name()), bulkPhrase(g, true))
		}
	}
	return strings.TrimSuffix(b.String(), "\n")
}

// maxBulkStatus bounds the status answer inside Slack's 40,000
// characters (a line is at most about 130).
const maxBulkStatus = 300

// BulkStatus is the ephemeral answer to /wa-leave status <bulk id>: the
// request, then every group with where it is or its outcome's phrase.
func BulkStatus(l StatusLine, description string, confirmed bool, groups []BulkGroup, loc *time.Location) string {
	var b strings.Builder
	n := CountBulk(groups)
	fmt.Fprintf(&b, "• %s %s — *%s*", code(l.RequestID), escapeClip(oneLine(description), 200), l.State)
	fmt.Fprintf(&b, ", asked by %s %s", mention(l.RequesterID), l.CreatedAt.In(zone(loc)).Format("Mon 2 Jan 15:04 MST"))
	if l.Number != "" {
		b.WriteString(" · " + FromNumber(l.Number))
	}
	fmt.Fprintf(&b, "\n*%s*: %d done, %d failed, %d stopped, %d to do\n", groupsNoun(n.Total), n.Done, n.Failed, n.Stopped, n.ToDo)
	for i, g := range groups {
		if i == maxBulkStatus {
			fmt.Fprintf(&b, "…and %d more.\n", len(groups)-i)
			break
		}
		jid := ""
		if strings.TrimSpace(g.Name) != "" {
			jid = " " + code(g.JID)
		}
		fmt.Fprintf(&b, "• %s%s — %s\n", groupRef(g.name()), jid, bulkPhrase(g, confirmed))
	}
	return strings.TrimSuffix(b.String(), "\n")
}

// BulkRecorded is the immediate answer to a valid bulk command.
func BulkRecorded(requestID string, groups int) string {
	return "Request " + code(requestID) + " for " + groupsNoun(groups) + " recorded; a confirmation card is on its way to this channel."
}

// BulkNoMatch answers a bulk command whose filter matches no group.
func BulkNoMatch(filter string) string {
	return ":grey_question: No WhatsApp group's name contains “" + escapeClip(oneLine(filter), 200) + "”. Nothing was recorded. `/wa-leave groups` lists the groups."
}

// BulkTooMany refuses a bulk command that matches more groups than
// WALEAVE_BULK_MAX allows.
func BulkTooMany(matched, max int) string {
	return fmt.Sprintf(":no_entry: That matches %d groups; one bulk request may hold at most %d (`WALEAVE_BULK_MAX`). Nothing was recorded. Narrow the filter, or split the list.", matched, max)
}

// BulkUnresolved answers a --list whose entries do not each name one
// group: the names that match none, and those that match several (with
// the candidates' names).
func BulkUnresolved(unknown []string, ambiguous map[string][]string) string {
	var b strings.Builder
	b.WriteString(":warning: Some groups in the list could not be told apart or found, so nothing was recorded.")
	if len(unknown) > 0 {
		names := make([]string, len(unknown))
		for i, u := range unknown {
			names[i] = "“" + escapeClip(oneLine(u), 100) + "”"
		}
		b.WriteString("\n• No group is called " + strings.Join(names, ", ") + ".")
	}
	for _, name := range slices.Sorted(maps.Keys(ambiguous)) {
		cands := ambiguous[name]
		shown := make([]string, 0, len(cands))
		for i, c := range cands {
			if i == 10 {
				shown = append(shown, fmt.Sprintf("and %d more", len(cands)-i))
				break
			}
			shown = append(shown, escapeClip(oneLine(c), 100))
		}
		fmt.Fprintf(&b, "\n• “%s” matches several groups: %s.", escapeClip(oneLine(name), 100), strings.Join(shown, "; "))
	}
	b.WriteString("\nUse each group's exact name (quoted) or its id (…@g.us); `/wa-leave groups` lists them.")
	return b.String()
}

// StaleScanNotReady answers bulk --stale while this version cannot yet
// tell when a group last had a message.
func StaleScanNotReady() string {
	return ":construction: `--stale` cannot be used yet: this version of waleave cannot tell when a group last had a message. Nothing was recorded. Use a filter or `--list` instead."
}
