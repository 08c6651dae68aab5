package templates

import (
	"fmt"
	"strings"
	"time"

	"github.com/waleave/waleave/leave"
)

// HistoryRequest is one request in a group's audit trail, with its steps.
type HistoryRequest struct {
	RequestID   string
	State       leave.State
	Outcome     leave.Outcome // set once done or failed
	RequesterID string
	CreatedAt   time.Time
	ConfirmedBy string // "" until confirmed
	CancelledBy string // "" unless cancelled
	Goodbye     string // "" for none
	RunAt       time.Time
	Steps       []StatusEntry
}

// maxHistoryRequests and maxHistorySteps keep a history answer far inside
// Slack's message limits: a group is rarely asked to be left more than a
// few times, and a request rarely takes more than a dozen steps.
const (
	maxHistoryRequests = 10
	maxHistorySteps    = 40
)

// History is the ephemeral answer to /wa-leave history <group>: every
// request for the group (newest first), who asked and who confirmed or
// cancelled, the goodbye, each step with the gateway's HTTP answer, and the
// outcome. A step's stored detail is not shown: it can hold a gateway's
// raw error text, which is for the logs, not for Slack.
func History(group, jid string, reqs []HistoryRequest, loc *time.Location) string {
	loc = zone(loc)
	var b strings.Builder
	name := groupRef(group)
	if group != jid && jid != "" {
		name += " (" + code(jid) + ")"
	}
	if len(reqs) == 0 {
		return "No request to leave " + name + " has been made."
	}
	fmt.Fprintf(&b, "History of %s\n", name)
	for i, r := range reqs {
		if i == maxHistoryRequests {
			fmt.Fprintf(&b, "…and %d older requests.\n", len(reqs)-i)
			break
		}
		fmt.Fprintf(&b, "\n• %s — *%s*", code(r.RequestID), r.State)
		if r.Outcome != "" {
			b.WriteString(" (" + Summary(r.Outcome) + ")")
		}
		fmt.Fprintf(&b, "\nAsked by %s %s", mention(r.RequesterID), r.CreatedAt.In(loc).Format("2006-01-02 15:04 MST"))
		if r.ConfirmedBy != "" {
			b.WriteString("; confirmed by " + mention(r.ConfirmedBy))
		}
		if r.CancelledBy != "" {
			b.WriteString("; cancelled by " + mention(r.CancelledBy))
		}
		if !r.RunAt.IsZero() {
			b.WriteString("; scheduled for " + r.RunAt.In(loc).Format("2006-01-02 15:04 MST"))
		}
		b.WriteString("\n")
		if r.Goodbye == "" {
			b.WriteString("Goodbye: none\n")
		} else {
			b.WriteString("Goodbye: “" + escapeClip(oneLine(r.Goodbye), 300) + "”\n")
		}
		for j, e := range r.Steps {
			if j == maxHistorySteps {
				fmt.Fprintf(&b, "   …and %d more steps.\n", len(r.Steps)-j)
				break
			}
			actor := "waleave"
			if e.Actor != "" && e.Actor != "waleave" {
				actor = mention(e.Actor)
			}
			fmt.Fprintf(&b, "   %s — %s by %s", e.At.In(loc).Format("2006-01-02 15:04:05"), escapeClip(oneLine(e.Action), 200), actor)
			if e.GatewayStatus != 0 {
				fmt.Fprintf(&b, " (gateway HTTP %d)", e.GatewayStatus)
			}
			b.WriteString("\n")
		}
	}
	return strings.TrimSuffix(b.String(), "\n")
}
