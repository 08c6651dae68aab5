package templates

import (
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/slack-go/slack"

	"github.com/waleave/waleave/leave"
)

// StaleGroup is a group a stale scan could not tell the last activity
// of, and why, as the scan's message and the bulk card list it.
type StaleGroup struct {
	JID     string
	Subject string // "" when unknown
	// Why is the reason in a few plain words ("no message history at
	// the gateway", "not a member any more").
	Why string
}

// StaleScan is what a stale-group scan's message shows: its progress
// while it runs, then the end of a scan that found no stale group (with
// no buttons: there is nothing to confirm) or that had to stop. A scan
// that finds stale groups ends as their bulk card instead.
type StaleScan struct {
	ScanID      string
	RequesterID string
	// Idle is the age asked for (--stale 180d); Filter the name filter.
	Idle   time.Duration
	Filter string
	// Total groups to check, Checked so far, of which Stale were stale.
	Total, Checked, Stale int
	// Unknown are the groups whose last activity cannot be told.
	Unknown []StaleGroup
	// Done: every group was checked (and none was stale, or the card
	// would show instead). Failed: the scan stopped; Failure says why in
	// plain words.
	Done    bool
	Failed  bool
	Failure string
	DryRun  bool
}

// Block IDs of the scan's message; the state is appended (see blockID) so
// that Slack redraws each block when the message changes.
const (
	blockScanHeader  = "stale_header"
	blockScanStatus  = "stale_status"
	blockScanUnknown = "stale_unknown"
)

// maxUnknownListed bounds how many "cannot tell" groups a message names;
// the rest are counted.
const maxUnknownListed = 20

// Age renders an idle age for people: whole weeks or days when it is
// one, else hours or minutes ("180 days", "2 weeks", "36 hours").
func Age(d time.Duration) string {
	const day = 24 * time.Hour
	unit := func(n int64, one string) string {
		if n == 1 {
			return "1 " + one
		}
		return strconv.FormatInt(n, 10) + " " + one + "s"
	}
	switch {
	case d >= day && d%(7*day) == 0 && d/(7*day) <= 8:
		return unit(int64(d/(7*day)), "week")
	case d >= day && d%day == 0:
		return unit(int64(d/day), "day")
	case d >= time.Hour && d%time.Hour == 0:
		return unit(int64(d/time.Hour), "hour")
	}
	return unit(int64(d.Round(time.Minute)/time.Minute), "minute")
}

// scanWhat is what the scan looks for, for headlines and replies.
func scanWhat(idle time.Duration, filter string) string {
	s := "groups with no message for " + Age(idle)
	if strings.TrimSpace(filter) != "" {
		s += " among those matching " + code(filter)
	}
	return s
}

// StaleScanStarted is the answer to /wa-leave bulk --stale at once: the
// scan runs in the background, at the gateway's pace, and its progress
// shows in the channel before the card does.
func StaleScanStarted(total int, idle time.Duration, filter string, eta time.Duration) string {
	what := scanWhat(idle, filter)
	took := ""
	if eta >= time.Minute {
		took = fmt.Sprintf(" At the gateway's pace this takes about %s.", Age(eta.Round(time.Minute)))
	}
	return fmt.Sprintf(":mag: Looking for %s: checking %s.%s Its progress shows in this channel, then a card to confirm. Nothing is sent to WhatsApp until someone confirms.",
		what, countGroups(total), took)
}

// StaleScanNothingToCheck answers a --stale command whose filter leaves
// no group to check.
func StaleScanNothingToCheck(filter string) string {
	if strings.TrimSpace(filter) == "" {
		return ":information_source: The WhatsApp number is in no group, so there is nothing to scan. Nothing was recorded."
	}
	return ":information_source: No group's name contains " + code(filter) + ", so there is nothing to scan. Nothing was recorded."
}

func countGroups(n int) string {
	if n == 1 {
		return "1 group"
	}
	return strconv.Itoa(n) + " groups"
}

// StaleScanText is the scan message's notification text.
func StaleScanText(s StaleScan) string {
	var t string
	switch {
	case s.Failed:
		t = "The search for " + scanWhat(s.Idle, s.Filter) + " stopped."
	case s.Done:
		t = "No group has been quiet for " + Age(s.Idle) + "."
	default:
		t = fmt.Sprintf("Checking %d of %d groups for %s…", s.Checked, s.Total, scanWhat(s.Idle, s.Filter))
	}
	if s.DryRun {
		t = dryRunMark + ": " + t
	}
	return t
}

// StaleScanBlocks is the scan message: a header, the progress or how
// the scan ended, and the groups whose last activity cannot be told,
// listed apart (they are never included). It has no buttons.
func StaleScanBlocks(s StaleScan) []slack.Block {
	state := "scanning"
	header := ":mag: Looking for quiet groups"
	var status string
	switch {
	case s.Failed:
		state, header = "failed", ":warning: The search for quiet groups stopped"
		status = fmt.Sprintf("Checked %d of %d groups before it stopped: %s Nothing was recorded; run the command again once that is fixed.",
			s.Checked, s.Total, sentence(Escape(oneLine(s.Failure))))
	case s.Done:
		state, header = "done", ":white_check_mark: No quiet group found"
		status = fmt.Sprintf("Checked %s: none has gone without a message for %s, so there is nothing to leave.", countGroups(s.Total), Age(s.Idle))
	default:
		status = fmt.Sprintf("Checking *%d* of *%d* groups for %s… (%d found so far)", s.Checked, s.Total, scanWhat(s.Idle, s.Filter), s.Stale)
	}
	if s.DryRun {
		header = ":test_tube: " + dryRunMark + ": " + strings.TrimPrefix(header, ":mag: ")
	}
	blocks := []slack.Block{
		slack.NewHeaderBlock(plain(plainClip(header, maxHeader)), slack.HeaderBlockOptionBlockID(blockID(blockScanHeader, "", s.ScanID+"."+state))),
		slack.NewSectionBlock(mrkdwn(escapeLimit(status+"\nAsked by "+mention(s.RequesterID)+".")), nil, nil, slack.SectionBlockOptionBlockID(blockID(blockScanStatus, "", s.ScanID+"."+state))),
	}
	if list := StaleUnknownList(s.Unknown); list != "" {
		blocks = append(blocks, slack.NewSectionBlock(mrkdwn(list), nil, nil, slack.SectionBlockOptionBlockID(blockID(blockScanUnknown, "", s.ScanID+"."+state))))
	}
	return blocks
}

// StaleUnknownList lists the groups whose last activity the gateway
// cannot tell, which a stale scan leaves out; "" when there are none. The
// bulk card shows it under the groups it includes.
func StaleUnknownList(groups []StaleGroup) string {
	if len(groups) == 0 {
		return ""
	}
	head := fmt.Sprintf("*Not included: %s whose last message the gateway cannot tell*", countGroups(len(groups)))
	// Whole lines only, so that no escape is cut in half, with room kept
	// for the line that counts the rest.
	room := maxSectionText - width(head) - width(fmt.Sprintf("\n…and %d more", len(groups)))
	lines := []string{head}
	for i, g := range groups {
		name := Escape(oneLine(g.Subject))
		if name == "" {
			name = code(g.JID)
		}
		line := "• " + name
		if g.Why != "" {
			line += " — " + Escape(oneLine(g.Why))
		}
		if i == maxUnknownListed || width(line)+1 > room {
			lines = append(lines, fmt.Sprintf("…and %d more", len(groups)-i))
			break
		}
		room -= width(line) + 1
		lines = append(lines, line)
	}
	return strings.Join(lines, "\n")
}

// escapeLimit keeps already-escaped mrkdwn within a section's limit.
// It cuts before an escape (&amp; &lt; &gt;) rather than inside one.
func escapeLimit(s string) string {
	if width(s) <= maxSectionText {
		return s
	}
	r := []rune(s)
	for width(string(r)) > maxSectionText-1 {
		r = r[:len(r)-len(r)/10-1]
	}
	if amp := strings.LastIndex(string(r), "&"); amp >= 0 && !strings.Contains(string(r)[amp:], ";") {
		r = []rune(string(r)[:amp])
	}
	return string(r) + "…"
}

// Why a group's last activity could not be told, as StaleGroup.Why
// says it. The bot stores these words with the scan.
const (
	StaleWhyNoHistory = "no message history at the gateway"
	StaleWhyNotMember = "the number is not in it any more"
	StaleWhyNoAnswer  = "the gateway did not answer"
	StaleWhyRefused   = "the gateway refused to tell"
)

// StaleStopReason says in plain words why a scan had to stop: the gateway
// refused in a way that holds for every group (o is the outcome a leave
// would have ended in).
func StaleStopReason(o leave.Outcome) string {
	switch o {
	case leave.OutcomeCredentials, leave.OutcomeSessionMissing:
		return "the gateway rejected the instance credentials; ask an admin to check the number's instance and token"
	case leave.OutcomeNotConnected:
		return "the WhatsApp number is not connected to its gateway; reconnect it (scan the QR code)"
	case leave.OutcomePlanExpired:
		return "the gateway plan of the WhatsApp number has expired"
	case leave.OutcomeQuota:
		return "the gateway plan's quota is used up"
	case leave.OutcomeNotSupported, leave.OutcomeWrongEndpoint:
		return "the gateway cannot tell groups' last messages"
	}
	return "the gateway refused the checks"
}
