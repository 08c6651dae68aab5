package templates

import (
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/slack-go/slack"

	"github.com/waleave/waleave/leave"
)

// HomeItem is one request as the Home tab lists it.
type HomeItem struct {
	RequestID   string
	Group       string // subject, or JID when unknown
	State       leave.State
	Outcome     leave.Outcome
	RequesterID string
	CreatedAt   time.Time
	RunAt       time.Time
	// Version is the request's card version: a Home button carries it,
	// so a click on a Home tab drawn before a change is refused as a
	// click on an old card is.
	Version int
}

// Home is what a person's Home tab shows.
type Home struct {
	// Restricted: the person may not request anywhere by name (only
	// through a channel allow-list, or not at all): only their own
	// requests are listed.
	Restricted bool
	Waiting    []HomeItem // waiting for this person's confirmation
	Mine       []HomeItem // their own recent requests
	Outcomes   []HomeItem // the latest finished leaves
	Scheduled  []HomeItem // confirmed leaves waiting for their time
	// Connection is the number's state as the gateway gave it; Connected
	// says whether it can leave groups now. ConnectionKnown is false when
	// the gateway did not answer.
	Connection      string
	Connected       bool
	ConnectionKnown bool
	DryRun          bool
}

// homeActions prefixes the block ID of a Home tab's buttons:
// "home_actions.<request>.v<version>".
const homeActions = "home_actions"

// maxHomeWaiting bounds the requests shown with buttons (two blocks each),
// within Slack's 100 blocks for a Home tab.
const maxHomeWaiting = 15

// HomeBlockID is the block ID of a Home tab's buttons for a request at a
// card version.
func HomeBlockID(requestID string, version int) string {
	return homeActions + "." + requestID + versionMark + strconv.Itoa(version)
}

// HomeVersionFromBlockID returns the request and card version a Home
// tab's buttons carry; ok is false for any other block ID.
func HomeVersionFromBlockID(blockID string) (requestID string, version int, ok bool) {
	rest, found := strings.CutPrefix(blockID, homeActions+".")
	if !found {
		return "", 0, false
	}
	id, v, found := strings.Cut(rest, versionMark)
	n, err := strconv.Atoi(v)
	if !found || id == "" || err != nil || n < 1 || strconv.Itoa(n) != v {
		return "", 0, false
	}
	return id, n, true
}

// HomeView is the Home tab (views.publish).
func HomeView(h Home, loc *time.Location) slack.HomeTabViewRequest {
	loc = zone(loc)
	newButton := slack.NewButtonBlockElement(ActionOpenForm, "new", plain("New request"))
	newButton.Style = slack.StylePrimary
	blocks := []slack.Block{
		slack.NewHeaderBlock(plain("WhatsApp groups")),
		slack.NewActionBlock("home_new", newButton),
	}
	conn := ":grey_question: The WhatsApp number's state is unknown just now (the gateway did not answer)."
	switch {
	case h.ConnectionKnown && h.Connected:
		conn = ":large_green_circle: The WhatsApp number is connected."
	case h.ConnectionKnown:
		conn = ":red_circle: The WhatsApp number is not connected (" + code(plainClip(h.Connection, 50)) + "): leaves fail until it is."
	}
	if h.DryRun {
		conn += " _Dry run: nothing is sent to WhatsApp._"
	}
	blocks = append(blocks, slack.NewContextBlock("home_connection", mrkdwn(conn)))

	if !h.Restricted {
		blocks = append(blocks, slack.NewDividerBlock(), slack.NewSectionBlock(mrkdwn("*Waiting for your confirmation*"), nil, nil))
		if len(h.Waiting) == 0 {
			blocks = append(blocks, slack.NewContextBlock("", mrkdwn("Nothing is waiting for you.")))
		}
		for i, it := range h.Waiting {
			if i == maxHomeWaiting {
				blocks = append(blocks, slack.NewContextBlock("", mrkdwn(fmt.Sprintf("…and %d more; `/wa-leave status` lists them.", len(h.Waiting)-i))))
				break
			}
			text := fmt.Sprintf("%s, asked by %s %s", groupRef(it.Group), mention(it.RequesterID), it.CreatedAt.In(loc).Format("Mon 2 Jan 15:04"))
			if !it.RunAt.IsZero() {
				text += ", to run " + it.RunAt.In(loc).Format("Mon 2 Jan 15:04 MST")
			}
			blocks = append(blocks, slack.NewSectionBlock(mrkdwn(text), nil, nil))
			confirm := slack.NewButtonBlockElement(ActionConfirm, it.RequestID, plain("Leave group"))
			confirm.Style = slack.StyleDanger
			confirm.Confirm = slack.NewConfirmationBlockObject(plain("Leave the group?"),
				mrkdwn("The WhatsApp number leaves "+groupRef(it.Group)+". This cannot be undone from Slack."), plain("Leave"), plain("Back"))
			cancel := slack.NewButtonBlockElement(ActionCancel, it.RequestID, plain("Cancel"))
			blocks = append(blocks, slack.NewActionBlock(HomeBlockID(it.RequestID, it.Version), confirm, cancel))
		}
	}
	blocks = append(blocks, slack.NewDividerBlock(), slack.NewSectionBlock(mrkdwn(homeList("Your recent requests", h.Mine, loc, "You have made no request yet.")), nil, nil))
	if !h.Restricted {
		blocks = append(blocks,
			slack.NewSectionBlock(mrkdwn(homeList("Scheduled leaves", h.Scheduled, loc, "No leave is scheduled.")), nil, nil),
			slack.NewSectionBlock(mrkdwn(homeList("Latest outcomes", h.Outcomes, loc, "No leave has finished yet.")), nil, nil))
	}
	return slack.HomeTabViewRequest{Type: slack.VTHomeTab, CallbackID: "wa_leave_home", Blocks: slack.Blocks{BlockSet: blocks}}
}

// maxHomeList bounds each list, within a section's 3000 characters.
const maxHomeList = 10

func homeList(title string, items []HomeItem, loc *time.Location, none string) string {
	var b strings.Builder
	b.WriteString("*" + title + "*\n")
	if len(items) == 0 {
		b.WriteString(none)
		return b.String()
	}
	for i, it := range items {
		if i == maxHomeList {
			fmt.Fprintf(&b, "…and %d more.", len(items)-i)
			break
		}
		fmt.Fprintf(&b, "• %s — *%s*", groupRef(it.Group), it.State)
		if it.Outcome != "" {
			b.WriteString(" (" + Summary(it.Outcome) + ")")
		}
		if !it.RunAt.IsZero() && it.State == leave.Confirmed {
			b.WriteString(", runs " + it.RunAt.In(loc).Format("Mon 2 Jan 15:04 MST"))
		}
		fmt.Fprintf(&b, ", asked by %s %s %s\n", mention(it.RequesterID), it.CreatedAt.In(loc).Format("2 Jan 15:04"), code(it.RequestID))
	}
	// At most maxHomeList lines of clipped names: far inside a
	// section's 3000 characters.
	return strings.TrimSuffix(b.String(), "\n")
}
