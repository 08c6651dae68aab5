package templates

import (
	"strings"
	"testing"
	"time"

	"github.com/waleave/waleave/leave"
)

// maxMessageText is the most characters Slack takes in a message's text
// (chat.postMessage answers msg_too_long beyond it, and the outbox would
// try again for ever).
const maxMessageText = 40000

// worstBulk is n groups, each with a 100-character name that escaping
// makes as long as it can get, each ended with the longest phrase there
// is (or still to do, or stopped), so every line is as long as it gets.
func worstBulk(n int) []BulkGroup {
	longest := leave.Outcomes()[0]
	for _, o := range leave.Outcomes() {
		if width(Summary(o)) > width(Summary(longest)) {
			longest = o
		}
	}
	name := strings.Repeat("<!channel>&", 10) // 110 characters, 330 escaped
	gs := make([]BulkGroup, n)
	for i := range gs {
		gs[i] = BulkGroup{Name: name[:100], JID: "120363406289005073-1587570015@g.us", State: leave.Failed, Outcome: longest}
		switch i % 5 {
		case 1:
			gs[i].State, gs[i].Outcome = leave.Cancelled, ""
		case 2:
			gs[i].State, gs[i].Outcome = leave.Confirmed, ""
		}
	}
	return gs
}

// A bulk request of 500 groups with long, hostile names fits every limit
// Slack sets, on its card, its summary and its status answer, and no
// name turns into a mention or a link.
func TestBulkFitsSlackLimitsAt500(t *testing.T) {
	gs := worstBulk(500)
	desc := "groups matching “" + strings.Repeat("<https://evil|click>", 10) + "”"
	for _, st := range []leave.State{leave.Pending, leave.Confirmed, leave.Running, leave.Done, leave.Failed, leave.Cancelled, leave.Expired} {
		c := bulkCard()
		c.State, c.ConfirmedBy, c.Goodbye = st, "U0CONFIRM1", strings.Repeat("<!here> bye & ", 300)
		c.Bulk = &Bulk{Description: desc, Groups: gs}
		blocks := CardBlocks(c)
		checkLimits(t, blocks)
		for _, text := range append(mrkdwnTexts(blocks), CardText(c)) {
			checkMarkup(t, text)
		}
		if w := width(CardText(c)); w > maxMessageText {
			t.Errorf("%s: the card's text is %d characters", st, w)
		}
	}
	for name, text := range map[string]string{
		"summary": BulkSummary(testRequestID, desc, gs),
		"status": BulkStatus(StatusLine{RequestID: testRequestID, State: leave.Running, RequesterID: "U0REQ1", CreatedAt: testNow, Number: "sales"},
			desc, true, gs, time.UTC),
		"unresolved": BulkUnresolved(unresolvedNames(5000), map[string][]string{"<!channel>": unresolvedNames(500)}),
	} {
		checkMarkup(t, text)
		if w := width(text); w > maxMessageText {
			t.Errorf("the %s is %d characters, more than Slack takes", name, w)
		}
	}
}

func unresolvedNames(n int) []string {
	out := make([]string, n)
	for i := range out {
		out[i] = strings.Repeat("<!channel>", 10)
	}
	return out
}
