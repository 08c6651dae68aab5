package templates

import (
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/waleave/waleave/leave"
)

// bulkGroups are n groups of a bulk request, all in state st.
func bulkGroups(n int, st leave.State) []BulkGroup {
	var gs []BulkGroup
	for i := range n {
		gs = append(gs, BulkGroup{Name: fmt.Sprintf("Acme %02d", i+1), JID: fmt.Sprintf("1203634062890050%02d@g.us", i+1), State: st})
	}
	return gs
}

// bulkCard is a pending bulk card of 12 groups, one named with markup.
func bulkCard() Card {
	gs := bulkGroups(12, leave.Pending)
	gs[1].Name = "Acme <!channel> & co"
	return Card{
		RequestID: testRequestID, Goodbye: "Thanks for everything, see you around!", RequesterID: "U012ABCDEF",
		CreatedAt: testNow, ExpiresAt: testNow.Add(24 * time.Hour), Location: testLoc, State: leave.Pending, Version: 2,
		Bulk: &Bulk{Description: "groups matching “acme”", Groups: gs},
	}
}

// running sets the groups of c: done, failed and the rest confirmed or
// running.
func withProgress(c Card, done, failed int) Card {
	gs := append([]BulkGroup(nil), c.Bulk.Groups...)
	for i := range gs {
		switch {
		case i < done:
			gs[i].State, gs[i].Outcome = leave.Done, leave.OutcomeLeft
		case i < done+failed:
			gs[i].State, gs[i].Outcome = leave.Failed, leave.OutcomeOnlyAdmin
		case i == done+failed:
			gs[i].State = leave.Running
		default:
			gs[i].State = leave.Confirmed
		}
	}
	b := *c.Bulk
	b.Groups = gs
	c.Bulk = &b
	return c
}

func bulkCardCases() []struct {
	name string
	card Card
} {
	with := func(f func(*Card)) Card {
		c := bulkCard()
		f(&c)
		return c
	}
	return []struct {
		name string
		card Card
	}{
		{"pending", bulkCard()},
		{"pending_no_goodbye_number", with(func(c *Card) { c.Goodbye, c.Number = "", "sales" })},
		{"pending_scheduled", with(func(c *Card) { c.RunAt = testNow.Add(3 * time.Hour) })},
		{"pending_two", with(func(c *Card) { c.Bulk.Groups = c.Bulk.Groups[:2] })},
		{"running", with(func(c *Card) {
			*c = withProgress(*c, 5, 1)
			c.State, c.ConfirmedBy = leave.Confirmed, "U0CONFIRM1"
		})},
		{"stopping", with(func(c *Card) {
			*c = withProgress(*c, 5, 1)
			for i := 7; i < 12; i++ {
				c.Bulk.Groups[i].State = leave.Cancelled
			}
			c.State, c.ConfirmedBy, c.Bulk.StoppedBy = leave.Confirmed, "U0CONFIRM1", "U0STOP1"
		})},
		{"done", with(func(c *Card) {
			*c = withProgress(*c, 12, 0)
			c.State, c.ConfirmedBy = leave.Done, "U0CONFIRM1"
		})},
		{"failed", with(func(c *Card) {
			*c = withProgress(*c, 10, 2)
			c.State, c.ConfirmedBy = leave.Failed, "U0CONFIRM1"
		})},
		{"stopped", with(func(c *Card) {
			*c = withProgress(*c, 3, 0)
			for i := 3; i < 12; i++ {
				c.Bulk.Groups[i].State = leave.Cancelled
			}
			c.State, c.ConfirmedBy, c.Bulk.StoppedBy = leave.Done, "U0CONFIRM1", "U0STOP1"
		})},
		{"cancelled", with(func(c *Card) {
			c.Bulk.Groups = bulkGroups(12, leave.Cancelled)
			c.State, c.CancelledBy = leave.Cancelled, "U012ABCDEF"
		})},
		{"expired", with(func(c *Card) {
			c.Bulk.Groups = bulkGroups(12, leave.Expired)
			c.State = leave.Expired
		})},
		{"dry_run", with(func(c *Card) { c.DryRun = true })},
	}
}

func TestBulkCardGolden(t *testing.T) {
	for _, tc := range bulkCardCases() {
		t.Run(tc.name, func(t *testing.T) {
			blocks := CardBlocks(tc.card)
			checkLimits(t, blocks)
			golden(t, "card_bulk_"+tc.name, render(t, blocks, CardText(tc.card)))
		})
	}
}

// A bulk card offers Leave (with the count in its dialog) and Cancel while
// pending, Stop while groups are to do, and nothing once stopped or over.
func TestBulkCardButtons(t *testing.T) {
	for _, tc := range bulkCardCases() {
		t.Run(tc.name, func(t *testing.T) {
			buttons, _ := interactive(CardBlocks(tc.card))
			var ids []string
			for _, b := range buttons {
				ids = append(ids, b.ActionID)
				if b.Value != testRequestID {
					t.Errorf("%s carries %q, not the request ID", b.ActionID, b.Value)
				}
				if b.ActionID == ActionConfirm {
					n := len(tc.card.Bulk.Groups)
					if !strings.Contains(b.Confirm.Text.Text, fmt.Sprint(n)+" WhatsApp groups") {
						t.Errorf("the confirm dialog does not say how many groups: %q", b.Confirm.Text.Text)
					}
				}
			}
			want := map[string]string{"pending": "leave_confirm leave_cancel", "running": "leave_stop"}
			name := tc.name
			if strings.HasPrefix(name, "pending") || name == "dry_run" {
				name = "pending"
			}
			if got := strings.Join(ids, " "); got != want[name] {
				t.Errorf("buttons %q, want %q", got, want[name])
			}
		})
	}
}

func TestBulkCardClipsLongLists(t *testing.T) {
	c := bulkCard()
	c.Bulk.Groups = bulkGroups(500, leave.Pending)
	for i := range c.Bulk.Groups {
		c.Bulk.Groups[i].Name = strings.Repeat("Very long name & ", 30)
	}
	blocks := CardBlocks(c)
	checkLimits(t, blocks)
	text := blockText(t, blocks, blockGroup)
	if !strings.Contains(text, "…and 490 more") {
		t.Errorf("the card does not count the groups it does not name: %s", text)
	}
}

func bulkSummaryGroups() []BulkGroup {
	gs := bulkGroups(8, leave.Done)
	for i := range gs {
		gs[i].Outcome = leave.OutcomeLeft
	}
	gs[1].Outcome = leave.OutcomeNotMember
	gs[2].State, gs[2].Outcome = leave.Failed, leave.OutcomeOnlyAdmin
	gs[3].State, gs[3].Outcome, gs[3].Name = leave.Failed, leave.OutcomeQuota, ""
	gs[4].State, gs[4].Name = leave.Cancelled, "Acme <b> & co"
	gs[5].State = leave.Cancelled
	return gs
}

func TestBulkMessagesGolden(t *testing.T) {
	gs := bulkSummaryGroups()
	var b strings.Builder
	for _, m := range []struct{ name, text string }{
		{"BulkSummary", BulkSummary(testRequestID, "groups matching “acme”", gs)},
		{"BulkSummary/all_left", BulkSummary(testRequestID, "3 listed groups", bulkSummaryGroupsLeft())},
		{"BulkStatus", BulkStatus(StatusLine{RequestID: testRequestID, State: leave.Failed, RequesterID: "U0REQ1", CreatedAt: testNow, Number: "sales"},
			"groups matching “acme”", true, append(gs, BulkGroup{Name: "Acme 09", JID: "120363406289005099@g.us", State: leave.Running}), testLoc)},
		{"BulkRecorded", BulkRecorded(testRequestID, 30)},
		{"BulkNoMatch", BulkNoMatch("<acme>")},
		{"BulkTooMany", BulkTooMany(612, 500)},
		{"BulkUnresolved", BulkUnresolved([]string{"Nope", "<x>"}, map[string][]string{"Sales": {"Sales EU", "Sales US"}})},
		{"StaleScanNotReady", StaleScanNotReady()},
		{"ScheduledReminderText/bulk", ScheduledReminderText(scheduledBulk())},
		{"ScheduledReminderBlocks/bulk", scheduledReminder(scheduledBulk())},
	} {
		checkMarkup(t, m.text)
		fmt.Fprintf(&b, "== %s\n%s\n\n", m.name, m.text)
	}
	golden(t, "bulk_messages", []byte(b.String()))
}

func bulkSummaryGroupsLeft() []BulkGroup {
	gs := bulkGroups(3, leave.Done)
	for i := range gs {
		gs[i].Outcome = leave.OutcomeLeft
	}
	return gs
}

// The summary counts every outcome, and names each group not left with
// its outcome's phrase (SPEC §5), the stopped ones included.
func TestBulkSummaryNamesEveryGroupNotLeft(t *testing.T) {
	text := strings.ToLower(BulkSummary(testRequestID, "", bulkSummaryGroups()))
	for _, want := range []string{
		"left the group: 3", "not a member, so nothing to leave: 1", "only admin; leave it on its own to choose a successor: 1",
		"quota is used up; group not left: 1", "stopped before they started (not left): 2",
		"*acme 03* — not left: the number is the group's only admin", "`120363406289005004@g.us` — the gateway plan's quota",
		"*acme &lt;b&gt; &amp; co* — stopped before it started", "*acme 06* — stopped",
	} {
		if !strings.Contains(text, want) {
			t.Errorf("the summary lacks %q:\n%s", want, text)
		}
	}
	if strings.Contains(text, "acme 01*") || strings.Contains(text, "acme 02*") {
		t.Errorf("the summary names a group that was left:\n%s", text)
	}
	many := bulkGroups(300, leave.Failed)
	for i := range many {
		many[i].Outcome = leave.OutcomeUnavailable
	}
	long := BulkSummary(testRequestID, "", many)
	if !strings.Contains(long, "…and 200 more: `/wa-leave status "+testRequestID+"`") || len(long) > 40000 {
		t.Errorf("a long summary is not clipped (%d characters)", len(long))
	}
}

func scheduledBulk() Card {
	c := bulkCard()
	c.State, c.ConfirmedBy, c.RunAt = leave.Confirmed, "U0CONFIRM1", testNow.Add(3*time.Hour)
	return c
}
