package templates

import (
	"fmt"
	"strings"
	"time"

	"github.com/waleave/waleave/leave"
)

// StatusLine is one request in a /wa-leave status answer.
type StatusLine struct {
	RequestID   string
	Group       string // subject, or JID when unknown
	State       leave.State
	Outcome     leave.Outcome // set once done or failed
	RequesterID string
	CreatedAt   time.Time
	// Number is the WhatsApp number that leaves ("" = not shown: the bot
	// has one).
	Number string
}

// StatusEntry is one step of a request's history.
type StatusEntry struct {
	At     time.Time
	Actor  string // a Slack user ID, or "waleave"
	Action string
	// GatewayStatus is the gateway's HTTP status for gateway steps (0: none).
	GatewayStatus int
}

// maxStatusLines keeps a status answer short and far inside Slack's limits.
const maxStatusLines = 20

// Status is the ephemeral answer to /wa-leave status: the requests (the
// caller's recent ones and anything pending, or one group's), then, when
// one request is shown, its history, and the invite link kept for the
// group when there is one.
func Status(lines []StatusLine, history []StatusEntry, inviteLink string, loc *time.Location) string {
	loc = zone(loc)
	if len(lines) == 0 {
		return "No requests to show: you have none recently and nothing is waiting for confirmation."
	}
	var b strings.Builder
	for i, l := range lines {
		if i == maxStatusLines {
			fmt.Fprintf(&b, "…and %d more.\n", len(lines)-i)
			break
		}
		fmt.Fprintf(&b, "• %s %s — *%s*", code(l.RequestID), groupRef(l.Group), l.State)
		if l.Outcome != "" {
			b.WriteString(" (" + Summary(l.Outcome) + ")")
		}
		fmt.Fprintf(&b, ", asked by %s %s", mention(l.RequesterID), l.CreatedAt.In(loc).Format("Mon 2 Jan 15:04 MST"))
		if l.Number != "" {
			b.WriteString(" · " + FromNumber(l.Number))
		}
		b.WriteString("\n")
	}
	for i, e := range history {
		if i == 0 {
			b.WriteString("*History*\n")
		}
		actor := "waleave"
		if e.Actor != "" && e.Actor != "waleave" {
			actor = mention(e.Actor)
		}
		fmt.Fprintf(&b, "%s — %s by %s", e.At.In(loc).Format("2006-01-02 15:04:05 MST"), escapeClip(oneLine(e.Action), 200), actor)
		if e.GatewayStatus != 0 {
			fmt.Fprintf(&b, " (gateway HTTP %d)", e.GatewayStatus)
		}
		b.WriteString("\n")
	}
	if inviteLink != "" {
		b.WriteString("Invite link kept, to rejoin: " + escapeClip(inviteLink, 300) + "\n")
	}
	return strings.TrimSuffix(b.String(), "\n")
}
