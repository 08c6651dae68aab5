package templates

import (
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/slack-go/slack"

	"github.com/waleave/waleave/leave"
)

// messageCases is every string message, rendered with sample input; the
// golden file shows the wording in one place for review.
func messageCases() []struct{ name, text string } {
	card := baseCard()
	card.State, card.ConfirmedBy = leave.Confirmed, "U0CONFIRM1"
	card.RunAt = time.Date(2026, 12, 1, 8, 0, 0, 0, time.UTC)
	cases := []struct{ name, text string }{
		{"Usage", Usage()},
		{"Help", Help()},
		{"BadCommand", BadCommand(`unknown option --foo (options are --no-goodbye, --at and --in)`)},
		{"BadCommand/empty", BadCommand("")},
		{"NotConfigured", NotConfigured()},
		{"NotAllowed", NotAllowed()},
		{"NotApprover", NotApprover()},
		{"TwoPerson", TwoPerson()},
		{"Recorded", Recorded(testRequestID)},
		{"NotInChannel", NotInChannel()},
		{"CardRefused", CardRefused()},
		{"ReadAsUTC", ReadAsUTC()},
		{"OutcomeElsewhere", OutcomeElsewhere("C0CHANNEL1", "U012ABCDEF", OutcomeText(leave.OutcomeLeft, "Night shift & friends", ""))},
		{"Expired", Expired()},
		{"NotFound", NotFound("abc")},
		{"NotFound/empty", NotFound(" ")},
		{"Reminder", Reminder("U012ABCDEF", 61*time.Minute)},
		{"Internal", Internal()},
		{"StillRecording", StillRecording()},
		{"StillConfirming", StillConfirming()},
		{"CardChanged", CardChanged()},
		{"TooManyRequests", TooManyRequests(30)},
		{"TooManyPending/mine", TooManyPending(50, true)},
		{"TooManyPending/channel", TooManyPending(50, false)},
		{"OtherWorkspace", OtherWorkspace()},
		{"WorkspaceUnknown", WorkspaceUnknown()},
		{"ScheduledReminderText", ScheduledReminderText(card)},
		{"PickGroupText", PickGroupText("Ops", 3)},
		{"DigestText/empty", DigestText(Digest{})},
		{"DigestText", DigestText(Digest{
			Location: testLoc, Now: testNow.Add(3 * time.Hour),
			Awaiting: []DigestItem{{RequestID: "r1", Group: "Night shift & friends", At: testNow, RequesterID: "U0REQ1", Link: "https://example.slack.com/archives/C1/p1"}},
			Failed:   []DigestItem{{RequestID: "r2", Group: "120363406289005073@g.us", At: testNow, Outcome: leave.OutcomeQuota}},
			Upcoming: []DigestItem{{RequestID: "r3", Group: "Suppliers", At: card.RunAt}},
		})},
		// A bot with several numbers names each item's number.
		{"DigestText/numbers", DigestText(Digest{
			Location: testLoc, Now: testNow.Add(3 * time.Hour),
			Awaiting: []DigestItem{{RequestID: "r1", Group: "Night shift & friends", At: testNow, RequesterID: "U0REQ1", Number: "sales"}},
			Failed:   []DigestItem{{RequestID: "r2", Group: "120363406289005073@g.us", At: testNow, Outcome: leave.OutcomeQuota, Number: "support"}},
		})},
		{"WhichNumber", WhichNumber([]string{"sales", "support"})},
		{"NoNumberInGroup", NoNumberInGroup([]string{"sales", "support"})},
		{"NotAllowedNumber", NotAllowedNumber("support")},
	}
	statusAt := testNow.Add(30 * time.Minute)
	cases = append(cases,
		struct{ name, text string }{"Status/none", Status(nil, nil, "", testLoc)},
		struct{ name, text string }{"Status/list", Status([]StatusLine{
			{RequestID: "r1", Group: "Night shift & friends", State: leave.Pending, RequesterID: "U0REQ1", CreatedAt: statusAt},
			{RequestID: "r2", Group: "120363406289005073@g.us", State: leave.Done, Outcome: leave.OutcomeLeft, RequesterID: "U0REQ1", CreatedAt: testNow},
		}, nil, "", testLoc)},
		struct{ name, text string }{"Status/numbers", Status([]StatusLine{
			{RequestID: "r1", Group: "Night shift & friends", State: leave.Pending, RequesterID: "U0REQ1", CreatedAt: statusAt, Number: "sales"},
		}, nil, "", testLoc)},
		struct{ name, text string }{"Status/one", Status([]StatusLine{
			{RequestID: "r3", Group: "Project <Phoenix>", State: leave.Failed, Outcome: leave.OutcomeQuota, RequesterID: "U0REQ1", CreatedAt: testNow},
		}, []StatusEntry{
			{At: testNow, Actor: "U0REQ1", Action: "requested"},
			{At: testNow.Add(time.Minute), Actor: "U0CONFIRM1", Action: "confirmed"},
			{At: testNow.Add(2 * time.Minute), Actor: "waleave", Action: "failed", GatewayStatus: 466},
		}, "https://chat.whatsapp.com/AbCdEfGhIjKlMnOpQrStUv", testLoc)},
	)
	for _, st := range []leave.State{leave.Pending, leave.Confirmed, leave.Running, leave.Done, leave.Failed, leave.Cancelled, leave.Expired, "other"} {
		cases = append(cases, struct{ name, text string }{"AlreadyDecided/" + string(st), AlreadyDecided(st, "U0DECIDER1")})
	}
	for _, o := range allOutcomes {
		cases = append(cases, struct{ name, text string }{"OutcomeText/" + string(o), OutcomeText(o, "Night shift & friends", "")})
	}
	return cases
}

func TestMessagesGolden(t *testing.T) {
	var b strings.Builder
	for _, m := range messageCases() {
		fmt.Fprintf(&b, "== %s\n%s\n\n", m.name, m.text)
	}
	golden(t, "messages", []byte(b.String()))
}

func TestMessagesMarkup(t *testing.T) {
	for _, m := range messageCases() {
		t.Run(m.name, func(t *testing.T) { checkMarkup(t, m.text) })
	}
	evil := "<!channel> & <http://evil|x>"
	for name, text := range map[string]string{
		"BadCommand":       BadCommand(evil),
		"NotFound":         NotFound(evil),
		"Recorded":         Recorded(evil),
		"Reminder":         Reminder(evil, time.Hour),
		"AlreadyDecided":   AlreadyDecided(leave.Cancelled, evil),
		"PickGroupText":    PickGroupText(evil, 2),
		"OutcomeElsewhere": OutcomeElsewhere(evil, evil, Escape(evil)),
		"DigestText": DigestText(Digest{
			Awaiting: []DigestItem{{RequestID: evil, Group: evil}},
			Failed:   []DigestItem{{RequestID: evil, Group: evil, Outcome: leave.Outcome(evil)}},
		}),
	} {
		t.Run("evil/"+name, func(t *testing.T) { checkMarkup(t, text) })
	}
}

func TestUsage(t *testing.T) {
	u := Usage()
	if !strings.HasPrefix(u, "```\n") || !strings.HasSuffix(u, "\n```") {
		t.Errorf("usage is not a code block: %q", u)
	}
	// SPEC §4, line by line, as Slack will display it.
	for _, line := range []string{
		"/wa-leave <group> [goodbye text…]",
		"/wa-leave <group> --no-goodbye",
		"/wa-leave <group> --at <when>        e.g. --at 2026-12-01T09:00 or --in 3d",
		"/wa-leave status [<group>|<request id>]",
		"/wa-leave groups [filter]",
		"/wa-leave help",
	} {
		if !strings.Contains(u, Escape(line)+"\n") {
			t.Errorf("usage lacks %q", line)
		}
	}
	if !strings.Contains(Help(), u) {
		t.Errorf("help does not show the usage")
	}
}

func TestBadCommand(t *testing.T) {
	got := BadCommand(`the group name "Ops <b> has no closing quote`)
	if want := ":warning: The group name \"Ops &lt;b&gt; has no closing quote. Nothing was recorded.\nUsage:\n" + Usage(); got != want {
		t.Errorf("got  %q\nwant %q", got, want)
	}
	if got := BadCommand("no group given?"); !strings.HasPrefix(got, ":warning: No group given? ") {
		t.Errorf("punctuation doubled or lost: %q", got)
	}
}

func TestRefusalsNameTheSetting(t *testing.T) {
	tests := []struct {
		name, text string
		want       []string
	}{
		{"NotConfigured", NotConfigured(), []string{"`WALEAVE_ALLOWED_USERS`", "`WALEAVE_ALLOWED_CHANNELS`"}},
		{"NotAllowed", NotAllowed(), []string{"`WALEAVE_ALLOWED_USERS`", "`WALEAVE_ALLOWED_CHANNELS`"}},
		{"NotApprover", NotApprover(), []string{"`WALEAVE_APPROVERS`"}},
		{"TwoPerson", TwoPerson(), []string{"`WALEAVE_TWO_PERSON`"}},
		{"NotInChannel", NotInChannel(), []string{"`/invite @waleave`", "Integrations"}},
		{"Expired", Expired(), []string{"expired", "`/wa-leave`"}},
		{"Internal", Internal(), []string{"Something went wrong", "logged"}},
		{"Recorded", Recorded("abc"), []string{"`abc`", "recorded", "confirmation card"}},
		{"Reminder", Reminder("U012ABCDEF", time.Hour), []string{"<@U012ABCDEF>", "1 hour"}},
	}
	for _, tt := range tests {
		for _, w := range tt.want {
			if !strings.Contains(tt.text, w) {
				t.Errorf("%s: %q lacks %q", tt.name, tt.text, w)
			}
		}
	}
}

func TestAlreadyDecided(t *testing.T) {
	if got := AlreadyDecided(leave.Confirmed, "U0DECIDER1"); !strings.Contains(got, "confirmed by <@U0DECIDER1>") {
		t.Errorf("confirmed: %q", got)
	}
	if got := AlreadyDecided(leave.Cancelled, ""); strings.Contains(got, " by ") {
		t.Errorf("cancelled with nobody named: %q", got)
	}
	if got, want := AlreadyDecided(leave.Expired, "U0DECIDER1"), Expired(); got != want {
		t.Errorf("expired: %q, want %q", got, want)
	}
}

func TestHumanDuration(t *testing.T) {
	tests := []struct {
		d    time.Duration
		want string
	}{
		{0, "less than a minute"},
		{29 * time.Second, "less than a minute"},
		{31 * time.Second, "1 minute"},
		{45 * time.Minute, "45 minutes"},
		{time.Hour, "1 hour"},
		{61 * time.Minute, "1 hour 1 minute"},
		{150 * time.Minute, "2 hours 30 minutes"},
		{24 * time.Hour, "1 day"},
		{24*time.Hour + 5*time.Minute, "1 day"},
		{50*time.Hour + 10*time.Minute, "2 days 2 hours"},
	}
	for _, tt := range tests {
		if got := humanDuration(tt.d); got != tt.want {
			t.Errorf("humanDuration(%v) = %q, want %q", tt.d, got, tt.want)
		}
	}
}

func TestPickGroupBlocks(t *testing.T) {
	cands := []Candidate{
		{JID: "120363000000000001@g.us", Subject: "Ops", Size: 12},
		{JID: "120363000000000002@g.us", Subject: "Ops <!here>", Size: 1},
		{JID: "120363000000000001@g.us", Subject: "Ops"}, // listed twice by the gateway
		{JID: "11001234567-1587570015@g.us"},
	}
	blocks := PickGroupBlocks("Ops", cands)
	golden(t, "pick_group", render(t, blocks, PickGroupText("Ops", 3)))
	checkLimits(t, blocks)
	for _, text := range mrkdwnTexts(blocks) {
		checkMarkup(t, text)
	}
	buttons, _ := interactive(blocks)
	want := []string{"120363000000000001@g.us", "120363000000000002@g.us", "11001234567-1587570015@g.us"}
	if len(buttons) != len(want) {
		t.Fatalf("%d buttons, want %d", len(buttons), len(want))
	}
	for i, b := range buttons {
		if b.ActionID != ActionPickGroup || b.Value != want[i] {
			t.Errorf("button %d: %s=%q, want %s=%q", i, b.ActionID, b.Value, ActionPickGroup, want[i])
		}
	}

	var many []Candidate
	for i := range 60 {
		many = append(many, Candidate{JID: fmt.Sprintf("1203630000000%05d@g.us", i), Subject: strings.Repeat("Ops ", 300)})
	}
	blocks = PickGroupBlocks(strings.Repeat("Ops ", 300), many)
	checkLimits(t, blocks)
	if buttons, _ := interactive(blocks); len(buttons) != maxCandidates {
		t.Errorf("%d buttons, want %d", len(buttons), maxCandidates)
	}
	if last, ok := blocks[len(blocks)-1].(*slack.ContextBlock); !ok || !strings.Contains(last.ContextElements.Elements[0].(*slack.TextBlockObject).Text, "and 40 more") {
		t.Errorf("no note of the %d candidates left out", 40)
	}
}

func TestScheduledReminderBlocks(t *testing.T) {
	c := baseCard()
	c.State, c.ConfirmedBy = leave.Confirmed, "U0CONFIRM1"
	c.RunAt = time.Date(2026, 12, 1, 8, 0, 0, 0, time.UTC)
	blocks := ScheduledReminderBlocks(c)
	golden(t, "scheduled_reminder", render(t, blocks, ScheduledReminderText(c)))
	checkLimits(t, blocks)
	buttons, _ := interactive(blocks)
	if len(buttons) != 1 || buttons[0].ActionID != ActionCancel || buttons[0].Value != c.RequestID {
		t.Errorf("want one %s button with the request ID, got %v", ActionCancel, buttons)
	}
}

func TestDigestClipsLongLists(t *testing.T) {
	var items []DigestItem
	for i := range 40 {
		items = append(items, DigestItem{RequestID: fmt.Sprint(i), Group: "G", At: testNow})
	}
	got := DigestText(Digest{Awaiting: items})
	if n := strings.Count(got, "\n• "); n != maxDigestItems {
		t.Errorf("%d lines, want %d", n, maxDigestItems)
	}
	if !strings.Contains(got, "…and 15 more") {
		t.Errorf("no note of the items left out: %q", got[len(got)-80:])
	}
}
