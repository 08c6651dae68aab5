package templates

import (
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/slack-go/slack"

	"github.com/waleave/waleave/leave"
)

// usage is the command grammar (SPEC §4), kept in one place so help, bad
// input replies and docs cannot disagree.
const usage = `/wa-leave                            opens the request form
/wa-leave <group> [goodbye text…]
/wa-leave <group> --no-goodbye
/wa-leave <group> --at <when>        e.g. --at 2026-12-01T09:00 or --in 3d
/wa-leave bulk <filter> [goodbye text…]   every group whose name contains <filter>
/wa-leave bulk --list <group>,<group>,…   the groups listed
/wa-leave bulk --stale <age> [<filter>]   groups with no message for <age>, e.g. 180d
/wa-leave status [<group>|<request id>]
/wa-leave history <group>
/wa-leave groups [filter]
/wa-leave help`

// Usage is the command grammar as a mrkdwn code block. Slack parses
// "<group>" as markup even inside code blocks, so the grammar is escaped.
func Usage() string {
	return "```\n" + Escape(usage) + "\n```"
}

// Help is the reply to /wa-leave help: what the command does, the
// grammar, and how a leave proceeds.
func Help() string {
	return strings.Join([]string{
		"*/wa-leave* makes the WhatsApp instance leave a group, after someone confirms.",
		Usage(),
		Escape("<group> is a group ID (120363406289005073@g.us), an invite link (https://chat.whatsapp.com/…), an invite code, or the group's name (in quotes if it has spaces)."),
		"Everything after the group that is not an option is the goodbye message, posted to the group just before leaving. Without one, the default goodbye is used if one is configured; `--no-goodbye` leaves without a word.",
		"`--at` and `--in` schedule the leave (e.g. `--in 3d`); it still needs confirming first.",
		"`/wa-leave bulk` asks to leave many groups at once, on one card (at most `WALEAVE_BULK_MAX`): every group whose name contains the filter, a `--list` of groups, or those with no message for `--stale` a while. It takes `--from`, `--no-goodbye`, `--at` and `--in` too; the card shows the progress, has a *Stop* button while it runs, and the thread gets one summary. `/wa-leave status` followed by its request ID lists every group's outcome.",
		"The bot posts a card in this channel. Nothing is sent to WhatsApp until someone presses *Leave group*; the result is posted in the card's thread.",
		"`/wa-leave status` shows recent requests, `/wa-leave history` followed by a group its audit trail, and `/wa-leave groups` lists the instance's groups.",
	}, "\n")
}

// BadCommand answers input the parser rejected: what was wrong, then the
// usage. problem is plain text from the parser; it may quote the user's
// input, so it is escaped.
func BadCommand(problem string) string {
	p := upperFirst(sentence(escapeClip(oneLine(problem), 1000)))
	if p == "" {
		p = "That command could not be read."
	}
	return ":warning: " + p + " Nothing was recorded.\nUsage:\n" + Usage()
}

// NotConfigured refuses a request while no one is allowed to use the bot.
// Authorization is deny-by-default (SPEC §2), so a fresh install refuses
// everything until an admin says who may use it; the reply says how.
func NotConfigured() string {
	return ":no_entry: waleave is not set up to accept requests yet: nobody has been allowed to use it. " +
		"Ask an admin to set `WALEAVE_ALLOWED_USERS` (Slack user IDs, comma-separated) or " +
		"`WALEAVE_ALLOWED_CHANNELS` (channel IDs where anyone may use it) and restart the bot."
}

// NotAllowed refuses a user who may not request (or cancel) leaves here.
func NotAllowed() string {
	return ":no_entry: You are not allowed to do that here. " +
		"Ask an admin to add your Slack user ID to `WALEAVE_ALLOWED_USERS`, " +
		"or use a channel listed in `WALEAVE_ALLOWED_CHANNELS`."
}

// NotApprover refuses a confirmation from someone who is not an approver.
func NotApprover() string {
	return ":no_entry: Only approvers may confirm a leave (they are listed in `WALEAVE_APPROVERS`). " +
		"Ask one of them to press *Leave group*."
}

// TwoPerson refuses a requester confirming their own request when the
// two-person rule is on: a second pair of eyes is the point.
func TwoPerson() string {
	return ":no_entry: Someone other than the requester must confirm this leave (`WALEAVE_TWO_PERSON` is on). " +
		"Ask a colleague to press *Leave group*."
}

// Recorded is the immediate answer to a valid command, sent before the
// card is posted, so the user knows the command worked.
func Recorded(requestID string) string {
	return "Request " + code(requestID) + " recorded; a confirmation card is on its way to this channel."
}

// ReadAsUTC follows Recorded when the requester's time zone could not be
// learnt from Slack, so a --at time without a zone was read as UTC.
func ReadAsUTC() string {
	return ":warning: Slack did not tell me your time zone in time, so the time was read as UTC (the card shows it). " +
		"If that is wrong, cancel and ask again with an offset (`--at 2026-12-01T09:00+01:00`) or `--in`."
}

// NotInChannel explains that the bot cannot post in the channel (so there
// is no card, and the request was dropped) and how to invite it.
func NotInChannel() string {
	return ":warning: I can't post in this channel, so I can't show the confirmation card; nothing was sent to WhatsApp. " +
		"Invite me with `/invite @waleave` (or open the channel's details → *Integrations* → *Add apps*), then run `/wa-leave` again."
}

// CardRefused tells the requester that Slack refused to show the card for
// a reason other than the bot's membership (the channel is archived, the
// card is malformed); the request was cancelled.
func CardRefused() string {
	return ":warning: Slack refused to show the confirmation card in this channel, so the request was cancelled and nothing was sent to WhatsApp. " +
		"Try `/wa-leave` again, or in another channel; if it happens again, ask whoever runs waleave to look at its logs."
}

// OutcomeElsewhere carries an outcome reply that Slack refused in the
// card's thread (the card was deleted, the channel archived or left the
// bot) to the ops channel.
func OutcomeElsewhere(channelID, requesterID, outcome string) string {
	return fmt.Sprintf("Outcome of %s's request in %s (Slack refused the reply in the card's thread):\n%s", mention(requesterID), channelRef(channelID), outcome)
}

// Expired answers a click on a card whose request has expired.
func Expired() string {
	return ":hourglass: This request expired before anyone confirmed it; nothing was sent to WhatsApp. Run `/wa-leave` again to start over."
}

// AlreadyDecided answers a click on a request that has moved on, for
// instance a second click on Leave group. by is the user who decided it,
// or "" when unknown.
func AlreadyDecided(state leave.State, by string) string {
	byWhom := ""
	if by != "" {
		byWhom = " by " + mention(by)
	}
	switch state {
	case leave.Pending:
		return "This request is still waiting for confirmation."
	case leave.Confirmed:
		return "This request was already confirmed" + byWhom + "; the card shows its progress."
	case leave.Running:
		return "This request is already being carried out" + confirmedBy(by) + "; the card shows its progress."
	case leave.Done:
		return "This request is already done; the result is in the card's thread."
	case leave.Failed:
		return "This request already ran and failed; the card's thread says why. Run `/wa-leave` again to retry."
	case leave.Cancelled:
		return "This request was already cancelled" + byWhom + "; nothing was sent to WhatsApp."
	case leave.Expired:
		return Expired()
	}
	return "This request has already been decided."
}

func confirmedBy(by string) string {
	if by == "" {
		return ""
	}
	return " (confirmed by " + mention(by) + ")"
}

// NotFound answers a request ID (from a button or /wa-leave status) that
// matches nothing.
func NotFound(id string) string {
	if strings.TrimSpace(id) == "" {
		return "No request was given. `/wa-leave status` lists recent requests."
	}
	return "No request " + code(plainClip(id, 100)) + " was found. `/wa-leave status` lists recent requests."
}

// Reminder is the one nudge posted in a card's thread when a request has
// waited WALEAVE_REMIND_AFTER without a decision. It mentions the
// requester, who is the one who can chase a confirmer.
func Reminder(requesterID string, age time.Duration) string {
	return ":bell: " + mention(requesterID) + ", this request has been waiting for confirmation for " + humanDuration(age) + ". " +
		"Ask someone to press *Leave group* on the card, or press *Cancel* if it is no longer needed."
}

// Internal is the reply when something failed that the user cannot fix.
// The cause goes to the log, never to Slack, since it may hold details
// users should not see.
func Internal() string {
	return ":warning: Something went wrong on our side; it has been logged. Please try again in a minute."
}

// StillRecording answers a command whose request was handed to the
// database but not yet written when Slack's time ran out: it may well be
// recorded, so asking again could make a second request.
func StillRecording() string {
	return ":hourglass: This is taking longer than usual, and your request may still be recorded: its card will appear here if it is. " +
		"Check with `/wa-leave status` before asking again."
}

// StillConfirming answers a click whose confirmation was handed to the
// database but not yet written when Slack's time ran out.
func StillConfirming() string {
	return ":hourglass: This is taking longer than usual, and your confirmation may still go through: the card will show it if it does. " +
		"Press the button again only if the card still asks after a minute."
}

// CardChanged refuses a confirmation from a card that no longer shows
// the request as it is (the successor or the group's details changed
// after it was drawn): the confirmer must see what they approve.
func CardChanged() string {
	return ":eyes: The card changed after you looked at it (someone chose another member to make admin, or the group's details arrived). " +
		"Nothing was confirmed: look at the card again and press *Leave group* if it is still right."
}

// TooManyRequests refuses a new request from someone who made perMinute
// of them in the last minute (WALEAVE_USER_RATE).
func TooManyRequests(perMinute int) string {
	return fmt.Sprintf(":hourglass: You have made %d requests in the last minute, the most one person may make. "+
		"Nothing was recorded; try again in a minute.", perMinute)
}

// TooManyPending refuses a new request while max requests already wait
// for confirmation, the requester's own (mine) or in this channel
// (WALEAVE_MAX_PENDING).
func TooManyPending(max int, mine bool) string {
	whose := "this channel has"
	if mine {
		whose = "you have"
	}
	return fmt.Sprintf(":hourglass: Nothing was recorded: %s %d requests waiting for confirmation, the most allowed. "+
		"Confirm or cancel some of them first (`/wa-leave status` lists them).", whose, max)
}

// OtherWorkspace refuses a command or click from a Slack workspace other
// than the one the bot is installed in.
func OtherWorkspace() string {
	return ":no_entry: This bot works only in the Slack workspace it is installed in. Nothing was done."
}

// WorkspaceUnknown refuses a command or click while the bot does not yet
// know which workspace it is installed in (Slack did not answer auth.test
// at start-up): nothing is accepted until it does.
func WorkspaceUnknown() string {
	return ":hourglass: The bot is still starting up and cannot check where this came from yet. Nothing was done; try again in a minute."
}

// Candidate is a group whose name matched an ambiguous /wa-leave name.
type Candidate struct {
	JID     string
	Subject string
	Size    int // 0 = unknown
}

// maxCandidates keeps the candidate list, one block each plus a heading
// and footer, well under Slack's 50-block limit.
const maxCandidates = 20

// PickGroupBlocks asks which group was meant when name matched several:
// one section per candidate with a button (action ActionPickGroup, value
// the candidate's JID). A section each, rather than one actions block,
// because action IDs must be unique within a block.
func PickGroupBlocks(name string, candidates []Candidate) []slack.Block {
	// Slack rejects a message with two identical block IDs, and a group
	// listed twice would be confusing anyway.
	seen := make(map[string]bool)
	var unique []Candidate
	for _, g := range candidates {
		if g.JID != "" && !seen[g.JID] {
			seen[g.JID] = true
			unique = append(unique, g)
		}
	}
	blocks := []slack.Block{
		slack.NewSectionBlock(mrkdwn(PickGroupText(name, len(unique))+" Which one should the instance leave?"), nil, nil,
			slack.SectionBlockOptionBlockID("leave_pick")),
	}
	for i, g := range unique[:min(len(unique), maxCandidates)] {
		text := code(g.JID)
		if s := oneLine(g.Subject); s != "" {
			text = "*" + escapeClip(s, 500) + "*\n" + text
		}
		if g.Size > 0 {
			text += " · " + members(g.Size)
		}
		blocks = append(blocks, slack.NewSectionBlock(mrkdwn(text), nil,
			slack.NewAccessory(slack.NewButtonBlockElement(ActionPickGroup, g.JID, plain("Pick this group"))),
			slack.SectionBlockOptionBlockID("leave_pick."+strconv.Itoa(i+1))))
	}
	if more := len(unique) - maxCandidates; more > 0 {
		blocks = append(blocks, slack.NewContextBlock("leave_pick.more",
			mrkdwn(fmt.Sprintf("…and %d more. %s lists them all with their IDs.", more, code("/wa-leave groups "+plainClip(oneLine(name), 100))))))
	}
	return blocks
}

// PickGroupText is the notification text for PickGroupBlocks.
func PickGroupText(name string, n int) string {
	return fmt.Sprintf("%d groups match “%s”.", n, escapeClip(oneLine(name), 200))
}

func members(n int) string {
	if n == 1 {
		return "1 member"
	}
	return strconv.Itoa(n) + " members"
}

// ScheduledReminderBlocks is the ops channel's notice, an hour before a
// scheduled leave runs, with a last chance to cancel (action ActionCancel,
// value the request ID, like the card's button).
func ScheduledReminderBlocks(c Card) []slack.Block {
	blocks := []slack.Block{slack.NewSectionBlock(mrkdwn(scheduledReminder(c)), nil, nil, slack.SectionBlockOptionBlockID(blockID("leave_upcoming", c.State)))}
	if c.DryRun {
		blocks = append(blocks, dryRunBlock(c.State))
	}
	return append(blocks, slack.NewActionBlock(blockID("leave_upcoming_actions", c.State),
		slack.NewButtonBlockElement(ActionCancel, c.RequestID, plain("Cancel the leave"))))
}

// ScheduledReminderText is the notification text for ScheduledReminderBlocks.
func ScheduledReminderText(c Card) string {
	text := "In about an hour the instance leaves the WhatsApp group " + escapeClip(oneLine(groupName(c)), 200) + "."
	if c.Bulk != nil {
		text = "In about an hour the instance leaves " + groupsNoun(len(c.Bulk.Groups)) + " (" + escapeClip(oneLine(c.Bulk.Description), 200) + ")."
	}
	if c.DryRun {
		return dryRunMark + ". " + text
	}
	return text
}

func scheduledReminder(c Card) string {
	var b strings.Builder
	switch {
	case c.Bulk != nil:
		b.WriteString(":alarm_clock: In about an hour the instance leaves " + groupsNoun(len(c.Bulk.Groups)))
		if s := oneLine(c.Bulk.Description); s != "" {
			b.WriteString(" (" + escapeClip(s, 200) + ")")
		}
		b.WriteString(", at " + scheduledAt(c.RunAt, c.Location) + ".")
		if strings.TrimSpace(c.Goodbye) != "" {
			b.WriteString(" It posts the goodbye message in each first.")
		}
	default:
		b.WriteString(":alarm_clock: In about an hour the instance leaves the WhatsApp group ")
		if s := oneLine(c.GroupSubject); s != "" {
			b.WriteString("*" + escapeClip(s, 500) + "* ")
		}
		b.WriteString(code(c.GroupJID) + ", at " + scheduledAt(c.RunAt, c.Location) + ".")
		if strings.TrimSpace(c.Goodbye) != "" {
			b.WriteString(" It posts the goodbye message first.")
		}
	}
	b.WriteString("\nRequested by " + mention(c.RequesterID))
	if c.ConfirmedBy != "" {
		b.WriteString(", confirmed by " + mention(c.ConfirmedBy))
	}
	b.WriteString(". Request " + code(c.RequestID) + ".")
	if c.Number != "" {
		b.WriteString("\n" + FromNumber(c.Number))
	}
	return b.String()
}

// DigestItem is one request in the ops digest.
type DigestItem struct {
	RequestID   string
	Group       string        // subject, or JID when unknown
	At          time.Time     // Awaiting: when requested; Failed: when it failed; Upcoming: when it runs
	Outcome     leave.Outcome // Failed only
	RequesterID string        // who asked ("" = not shown)
	// Link is the card's permalink ("" when unknown); the line links to it.
	Link string
	// Number is the WhatsApp number that leaves ("" = not shown: the bot
	// has one).
	Number string
	// Groups, for a bulk request, is how many groups it holds and
	// NotLeft how many were not left (Failed: shown instead of an
	// outcome, which a bulk request as a whole has none of).
	Groups, NotLeft int
}

// Digest is what the periodic ops digest reports.
type Digest struct {
	Awaiting []DigestItem // pending requests
	Failed   []DigestItem // leaves that failed since the last digest
	Upcoming []DigestItem // confirmed, scheduled leaves
	Location *time.Location
	// Now dates the digest, for the age of waiting requests (zero: no ages).
	Now time.Time
}

// maxDigestItems keeps each digest list readable and the message far
// below Slack's 40,000-character text limit.
const maxDigestItems = 25

// DigestText is the ops digest (mrkdwn) posted on WALEAVE_DIGEST_CRON.
func DigestText(d Digest) string {
	if len(d.Awaiting)+len(d.Failed)+len(d.Upcoming) == 0 {
		return ":sunny: *waleave digest*: nothing waiting for confirmation, no failed leaves, nothing scheduled."
	}
	loc := zone(d.Location)
	var b strings.Builder
	b.WriteString("*waleave digest*")
	list := func(title string, items []DigestItem, line func(DigestItem) string) {
		if len(items) == 0 {
			return
		}
		fmt.Fprintf(&b, "\n*%s (%d)*", title, len(items))
		for i, it := range items {
			if i == maxDigestItems {
				fmt.Fprintf(&b, "\n…and %d more; `/wa-leave status` lists them.", len(items)-i)
				break
			}
			b.WriteString("\n• " + groupRef(it.Group) + " — " + line(it) + " · " + code(it.RequestID))
			if it.Number != "" {
				b.WriteString(" · " + FromNumber(it.Number))
			}
			if strings.HasPrefix(it.Link, "https://") && !strings.ContainsAny(it.Link, "<>| ") {
				b.WriteString(" · <" + it.Link + "|card>")
			}
		}
	}
	list("Waiting for confirmation", d.Awaiting, func(it DigestItem) string {
		s := "requested " + it.At.In(loc).Format("Mon 2 Jan 15:04 MST")
		if it.RequesterID != "" {
			s += " by " + mention(it.RequesterID)
		}
		if !d.Now.IsZero() && d.Now.After(it.At) {
			s += ", waiting " + humanDuration(d.Now.Sub(it.At))
		}
		return s
	})
	list("Failed", d.Failed, func(it DigestItem) string {
		if it.Groups > 0 {
			return fmt.Sprintf("%d of %s not left", it.NotLeft, groupsNoun(it.Groups))
		}
		return Summary(it.Outcome)
	})
	list("Scheduled", d.Upcoming, func(it DigestItem) string {
		return scheduledAt(it.At, loc)
	})
	return b.String()
}

// humanDuration writes d in words, to the minute and at most two units
// ("1 hour", "2 days 3 hours"): a reminder needs no more precision.
func humanDuration(d time.Duration) string {
	d = d.Round(time.Minute)
	if d < time.Minute {
		return "less than a minute"
	}
	units := []struct {
		size time.Duration
		name string
	}{{24 * time.Hour, "day"}, {time.Hour, "hour"}, {time.Minute, "minute"}}
	var parts []string
	for _, u := range units {
		if n := int(d / u.size); n > 0 && len(parts) < 2 {
			name := u.name
			if n != 1 {
				name += "s"
			}
			parts = append(parts, strconv.Itoa(n)+" "+name)
			d -= time.Duration(n) * u.size
		} else if len(parts) > 0 {
			break // "1 day 5 minutes" would read as precise when it is not
		}
	}
	return strings.Join(parts, " ")
}
