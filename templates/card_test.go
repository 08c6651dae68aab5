package templates

import (
	"bytes"
	"encoding/json"
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/slack-go/slack"

	"github.com/waleave/waleave/leave"
)

var update = flag.Bool("update", false, "rewrite golden files")

// Fixed time and zone, so goldens do not depend on when or where the
// tests run (a FixedZone needs no tzdata on the machine).
var (
	testNow = time.Date(2026, 11, 23, 9, 0, 0, 0, time.UTC)
	testLoc = time.FixedZone("CET", 60*60)
)

const testRequestID = "r7Kq2ZbX9mWcT4nVa1sLdE"

// baseCard is a pending card with every detail known; cases change what
// they are about.
func baseCard() Card {
	return Card{
		RequestID:    testRequestID,
		GroupJID:     "120363406289005073@g.us",
		GroupSubject: "Night shift & friends",
		Goodbye:      "Thanks for everything, see you around!",
		RequesterID:  "U012ABCDEF",
		CreatedAt:    testNow,
		ExpiresAt:    testNow.Add(24 * time.Hour),
		Location:     testLoc,
		State:        leave.Pending,
		Size:         42,
		Version:      3,
	}
}

// cardCases are the golden cards: one per state, plus the pending
// variants that change what the card says.
func cardCases() []struct {
	name string
	card Card
} {
	with := func(f func(*Card)) Card {
		c := baseCard()
		f(&c)
		return c
	}
	confirmed := func(c *Card) {
		c.State = leave.Confirmed
		c.ConfirmedBy = "U0CONFIRM1"
	}
	cases := []struct {
		name string
		card Card
	}{
		{"pending_plain", with(func(c *Card) { c.Goodbye = "" })},
		// A bot with several numbers names the one that leaves; with one
		// (pending_plain) it names none.
		{"pending_number", with(func(c *Card) { c.Goodbye, c.Number = "", "support" })},
		{"pending_goodbye_escaped", with(func(c *Card) {
			c.Goodbye = "Bye all <!channel> & <http://evil|x>\nsee you > soon"
		})},
		{"pending_only_admin", with(func(c *Card) {
			c.Size, c.IsAdmin, c.OnlyAdmin = 3, true, true
			c.Successors = []Participant{
				{JID: "4915112345678@s.whatsapp.net", Name: "Ana"},
				{JID: "4917687654321@s.whatsapp.net", Name: ""},
			}
		})},
		{"pending_details_unavailable", with(func(c *Card) {
			c.GroupSubject, c.Size, c.DetailsUnavailable = "", 0, true
		})},
		{"confirmed", with(confirmed)},
		{"scheduled", with(func(c *Card) {
			confirmed(c)
			c.RunAt = time.Date(2026, 12, 1, 8, 0, 0, 0, time.UTC)
		})},
		{"running", with(func(c *Card) {
			confirmed(c)
			c.State, c.Progress = leave.Running, "retrying (attempt 2 of 5)"
		})},
		{"done_left", with(func(c *Card) {
			confirmed(c)
			c.State, c.Outcome = leave.Done, leave.OutcomeLeft
		})},
		{"done_left_admin", with(func(c *Card) {
			confirmed(c)
			c.State, c.Outcome, c.IsAdmin = leave.Done, leave.OutcomeLeftAdmin, true
		})},
		{"failed_quota", with(func(c *Card) {
			confirmed(c)
			c.State, c.Outcome = leave.Failed, leave.OutcomeQuota
		})},
		{"cancelled", with(func(c *Card) {
			c.State, c.CancelledBy = leave.Cancelled, "U0CANCEL01"
		})},
		{"expired", with(func(c *Card) { c.State = leave.Expired })},
		{"pending_admin_unknown", with(func(c *Card) { c.AdminUnknown = true })},
		{"pending_successor_chosen", with(func(c *Card) {
			c.Size, c.IsAdmin, c.OnlyAdmin = 3, true, true
			c.Successors = []Participant{
				{JID: "4915112345678@s.whatsapp.net", Name: "Ana"},
				{JID: "4917687654321@s.whatsapp.net", Name: ""},
			}
			c.Successor = "4917687654321@s.whatsapp.net"
		})},
		{"pending_scheduled", with(func(c *Card) { c.RunAt = time.Date(2026, 12, 1, 8, 0, 0, 0, time.UTC) })},
		{"done_left_verified", with(func(c *Card) {
			confirmed(c)
			c.State, c.Outcome, c.Verification = leave.Done, leave.OutcomeLeft, Verified
		})},
		{"done_left_not_verified", with(func(c *Card) {
			confirmed(c)
			c.State, c.Outcome, c.Verification = leave.Done, leave.OutcomeLeft, NotVerified
		})},
		{"done_left_goodbye_unknown", with(func(c *Card) {
			confirmed(c)
			c.State, c.Outcome, c.GoodbyeUnknown = leave.Done, leave.OutcomeLeft, true
		})},
		{"done_successor_promoted", with(func(c *Card) {
			confirmed(c)
			c.State, c.Outcome, c.IsAdmin, c.OnlyAdmin = leave.Done, leave.OutcomeLeftAdmin, true, true
			c.Successor = "4917687654321@s.whatsapp.net"
		})},
	}
	// Every other outcome, as the card shows it once the request is over
	// (left and left_admin are above).
	for _, o := range allOutcomes {
		if o == leave.OutcomeLeft || o == leave.OutcomeLeftAdmin || o == leave.OutcomeQuota {
			continue
		}
		state, prefix := leave.Failed, "failed_"
		if o.Success() {
			state, prefix = leave.Done, "done_"
		}
		cases = append(cases, struct {
			name string
			card Card
		}{prefix + string(o), with(func(c *Card) {
			confirmed(c)
			c.State, c.Outcome = state, o
		})})
	}
	return cases
}

// render is a message as Slack receives it: blocks plus notification
// text. HTML escaping is off so the goldens show exactly which "<" and
// "&" reach Slack.
func render(t *testing.T, blocks []slack.Block, text string) []byte {
	t.Helper()
	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	enc.SetEscapeHTML(false)
	enc.SetIndent("", "  ")
	if err := enc.Encode(map[string]any{"blocks": blocks, "text": text}); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}

func golden(t *testing.T, name string, got []byte) {
	t.Helper()
	path := filepath.Join("testdata", name+".golden")
	if *update {
		if err := os.WriteFile(path, got, 0o644); err != nil {
			t.Fatal(err)
		}
		return
	}
	want, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("%v (run go test -update to create it)", err)
	}
	if !bytes.Equal(got, want) {
		t.Errorf("%s differs from the golden file (go test -update rewrites it)\ngot:\n%s\nwant:\n%s", path, got, want)
	}
}

func TestCardGolden(t *testing.T) {
	for _, tc := range cardCases() {
		t.Run(tc.name, func(t *testing.T) {
			golden(t, "card_"+tc.name, render(t, CardBlocks(tc.card), CardText(tc.card)))
		})
	}
}

func TestCardBlockKitLimits(t *testing.T) {
	for _, tc := range cardCases() {
		t.Run(tc.name, func(t *testing.T) { checkLimits(t, CardBlocks(tc.card)) })
	}

	t.Run("long inputs are clipped", func(t *testing.T) {
		c := baseCard()
		c.Goodbye = strings.Repeat("Tom & Jerry say bye <3\n", 500) // ~11,500 characters before escaping
		c.GroupSubject = strings.Repeat("Very long name ", 400)
		c.Progress = strings.Repeat("retrying ", 1000)
		c.Size, c.IsAdmin, c.OnlyAdmin = 300, true, true
		for i := range 150 {
			c.Successors = append(c.Successors, Participant{
				JID:  fmt.Sprintf("49151%08d@s.whatsapp.net", i),
				Name: strings.Repeat("Name ", 40),
			})
		}
		for _, st := range []leave.State{leave.Pending, leave.Running} {
			c.State = st
			blocks := CardBlocks(c)
			checkLimits(t, blocks)
			_, selects := interactive(blocks)
			if st == leave.Pending && (len(selects) != 1 || len(selects[0].Options) != maxOptions) {
				t.Errorf("pending: want one select with %d options, got %v", maxOptions, selects)
			}
		}

		c.State = leave.Pending
		goodbye := blockText(t, CardBlocks(c), blockGoodbye)
		if !strings.HasSuffix(goodbye, ellipsis) {
			t.Errorf("long goodbye not marked as cut: …%s", goodbye[len(goodbye)-40:])
		}
		if m := regexp.MustCompile(`&[a-z]*…$`).FindString(goodbye); m != "" {
			t.Errorf("goodbye cut inside an escape: %q", m)
		}
		if !strings.HasPrefix(goodbye, goodbyeIntro+"> Tom &amp; Jerry say bye &lt;3\n> Tom") {
			t.Errorf("goodbye preview starts %q", goodbye[:80])
		}
	})

	t.Run("a short goodbye is not cut", func(t *testing.T) {
		c := baseCard()
		got := blockText(t, CardBlocks(c), blockGoodbye)
		if want := goodbyeIntro + "> " + c.Goodbye; got != want {
			t.Errorf("got %q, want %q", got, want)
		}
	})
}

// blockText is the text of the section whose block ID starts with purpose.
func blockText(t *testing.T, blocks []slack.Block, purpose string) string {
	t.Helper()
	for _, b := range blocks {
		if s, ok := b.(*slack.SectionBlock); ok && strings.HasPrefix(s.BlockID, purpose+".") {
			return s.Text.Text
		}
	}
	t.Fatalf("no %s block", purpose)
	return ""
}

func TestCardButtons(t *testing.T) {
	actions := map[string]bool{ActionConfirm: true, ActionCancel: true, ActionPickGroup: true, ActionSuccessor: true}
	for _, tc := range cardCases() {
		t.Run(tc.name, func(t *testing.T) {
			blocks := CardBlocks(tc.card)
			buttons, selects := interactive(blocks)
			for _, b := range buttons {
				if !actions[b.ActionID] {
					t.Errorf("button action_id %q is not one of the Action constants", b.ActionID)
				}
				if b.Value != tc.card.RequestID {
					t.Errorf("button %s value %q, want the request ID %q", b.ActionID, b.Value, tc.card.RequestID)
				}
			}
			if tc.card.State != leave.Pending {
				if len(buttons)+len(selects) != 0 {
					t.Errorf("state %s: %d buttons and %d selects, want none", tc.card.State, len(buttons), len(selects))
				}
				return
			}
			if len(buttons) != 2 || buttons[0].ActionID != ActionConfirm || buttons[1].ActionID != ActionCancel {
				t.Fatalf("pending: want buttons %s and %s, got %d buttons", ActionConfirm, ActionCancel, len(buttons))
			}
			confirm := buttons[0]
			if confirm.Style != slack.StyleDanger {
				t.Errorf("confirm style %q, want danger", confirm.Style)
			}
			d := confirm.Confirm
			if d == nil || d.Title == nil || d.Text == nil || d.Confirm == nil || d.Deny == nil || d.Style != slack.StyleDanger {
				t.Fatalf("confirm dialog incomplete: %+v", d)
			}
			if !strings.Contains(d.Text.Text, groupName(tc.card)) {
				t.Errorf("confirm dialog %q does not name the group", d.Text.Text)
			}
			if buttons[1].Style != "" || buttons[1].Confirm != nil {
				t.Errorf("cancel button should be plain and need no confirmation")
			}

			wantSelect := tc.card.OnlyAdmin && len(tc.card.Successors) > 0
			if got := len(selects) == 1; got != wantSelect {
				t.Fatalf("successor select shown = %v, want %v", got, wantSelect)
			}
			if wantSelect {
				s := selects[0]
				if s.ActionID != ActionSuccessor || s.Type != slack.OptTypeStatic {
					t.Errorf("select %s/%s, want %s/%s", s.ActionID, s.Type, ActionSuccessor, slack.OptTypeStatic)
				}
				for i, o := range s.Options {
					if o.Value != tc.card.Successors[i].JID {
						t.Errorf("option %d value %q, want %q", i, o.Value, tc.card.Successors[i].JID)
					}
				}
				var id string
				for _, b := range blocks {
					if sec, ok := b.(*slack.SectionBlock); ok && sec.Accessory != nil && sec.Accessory.SelectElement == s {
						id = sec.BlockID
					}
				}
				if got, ok := RequestIDFromBlockID(id); !ok || got != tc.card.RequestID {
					t.Errorf("RequestIDFromBlockID(%q) = %q, %v; want %q", id, got, ok, tc.card.RequestID)
				}
			}
		})
	}
}

func TestSuccessorChosen(t *testing.T) {
	c := baseCard()
	c.OnlyAdmin, c.IsAdmin = true, true
	c.Successors = []Participant{{JID: "4915112345678@s.whatsapp.net", Name: "Ana"}, {JID: "4917687654321@s.whatsapp.net", Name: "Ben"}}
	c.Successor = "4917687654321@s.whatsapp.net"

	// Until the card is confirmed the choice can be changed: the select
	// stays, showing the one chosen.
	_, selects := interactive(CardBlocks(c))
	if len(selects) != 1 || selects[0].InitialOption == nil || selects[0].InitialOption.Value != c.Successor {
		t.Fatalf("pending: want the select showing the chosen successor, got %+v", selects)
	}
	if got := blockText(t, CardBlocks(c), blockSuccessor); !strings.Contains(got, "Ben (+4917687654321) will be made admin first; to choose someone else, pick them here.") {
		t.Errorf("warning does not name the successor: %q", got)
	}

	c.State, c.ConfirmedBy = leave.Confirmed, "U0CONFIRM1"
	_, selects = interactive(CardBlocks(c))
	if len(selects) != 0 {
		t.Errorf("select still offered once confirmed")
	}
	if got := blockText(t, CardBlocks(c), blockAdmin); !strings.Contains(got, "Ben (+4917687654321) will be made admin first.") {
		t.Errorf("confirmed: warning does not name the successor: %q", got)
	}

	c.State = leave.Running
	for _, b := range CardBlocks(c) {
		if strings.HasPrefix(b.ID(), blockAdmin) {
			t.Errorf("only-admin warning still shown once the leave is running")
		}
	}
}

// safeMarkup is the only Slack markup the templates emit themselves: user
// mentions, channel links, date formatting and the digest's links to
// cards. Any other "<" in mrkdwn is an injection.
var safeMarkup = regexp.MustCompile(`<@[UW][A-Z0-9]+>|<#[CGD][A-Z0-9]+>|<!date\^\d+\^\{date_short_pretty\} \{time\}\|[^<>|]*>|<https://[^<>| ]+\|card>`)

// checkMarkup fails t if text has markup other than safeMarkup, or a ">"
// that is not a block quote marker.
func checkMarkup(t *testing.T, text string) {
	t.Helper()
	rest := safeMarkup.ReplaceAllString(text, "")
	if strings.Contains(rest, "<") {
		t.Errorf("unescaped < in mrkdwn %q", text)
	}
	for line := range strings.SplitSeq(rest, "\n") {
		if strings.Contains(strings.TrimPrefix(line, "> "), ">") {
			t.Errorf("unescaped > in mrkdwn line %q", line)
		}
	}
	if strings.Contains(regexp.MustCompile(`&(?:amp|lt|gt);`).ReplaceAllString(rest, ""), "&") {
		t.Errorf("unescaped & in mrkdwn %q", text)
	}
}

func TestCardEscapesUserText(t *testing.T) {
	evil := "<!channel> & <http://evil|x> <@U0VICTIM1>"
	c := baseCard()
	c.GroupSubject = evil
	c.Goodbye = evil
	c.Progress = evil
	c.RequesterID = "<!here>" // not a user ID: must not become markup either
	c.ConfirmedBy = "U0CONFIRM1"
	c.CancelledBy = "<!everyone>"
	c.RequestID = "id<!channel>`x"
	c.OnlyAdmin = true
	c.Successor = "<!channel>@s.whatsapp.net"
	for _, st := range []leave.State{leave.Pending, leave.Confirmed, leave.Running, leave.Done, leave.Failed, leave.Cancelled, leave.Expired, "bogus<!channel>"} {
		c.State = st
		for _, text := range mrkdwnTexts(CardBlocks(c)) {
			checkMarkup(t, text)
		}
		checkMarkup(t, CardText(c))
	}

	c.State = leave.Pending
	goodbye := blockText(t, CardBlocks(c), blockGoodbye)
	if want := "&lt;!channel&gt; &amp; &lt;http://evil|x&gt; &lt;@U0VICTIM1&gt;"; !strings.Contains(goodbye, want) {
		t.Errorf("goodbye %q does not show the text escaped (%q)", goodbye, want)
	}
}

func TestCardTimes(t *testing.T) {
	c := baseCard()
	fields := ""
	for _, b := range CardBlocks(c) {
		if s, ok := b.(*slack.SectionBlock); ok {
			for _, f := range s.Fields {
				fields += f.Text + "\n"
			}
		}
	}
	// ExpiresAt is 2026-11-24 09:00 UTC, 10:00 in the card's zone.
	if want := "<!date^1795510800^{date_short_pretty} {time}|2026-11-24 10:00 CET>"; !strings.Contains(fields, want) {
		t.Errorf("fields %q lack the expiry %q", fields, want)
	}

	tests := []struct {
		at   time.Time
		loc  *time.Location
		want string
	}{
		{time.Date(2026, 12, 1, 8, 0, 0, 0, time.UTC), testLoc, "Tue 1 Dec 2026 09:00 CET (08:00 UTC)"},
		{time.Date(2026, 12, 1, 23, 30, 0, 0, time.UTC), testLoc, "Wed 2 Dec 2026 00:30 CET (Tue 1 Dec 2026 23:30 UTC)"},
		{time.Date(2026, 12, 1, 8, 0, 0, 0, time.UTC), nil, "Tue 1 Dec 2026 08:00 UTC"},
		{time.Date(2026, 12, 1, 8, 0, 0, 0, testLoc), time.UTC, "Tue 1 Dec 2026 07:00 UTC"},
	}
	for _, tt := range tests {
		if got := scheduledAt(tt.at, tt.loc); got != tt.want {
			t.Errorf("scheduledAt(%v, %v) = %q, want %q", tt.at, tt.loc, got, tt.want)
		}
	}
}

func TestRequestIDFromBlockID(t *testing.T) {
	tests := []struct {
		in     string
		want   string
		wantOK bool
	}{
		{"leave_successor.pending.abc123", "abc123", true},
		{"leave_actions.pending", "", false},
		{"leave_successor.pending.", "", false},
		{"other.pending.abc", "", false},
		{"", "", false},
	}
	for _, tt := range tests {
		got, ok := RequestIDFromBlockID(tt.in)
		if got != tt.want || ok != tt.wantOK {
			t.Errorf("RequestIDFromBlockID(%q) = %q, %v; want %q, %v", tt.in, got, ok, tt.want, tt.wantOK)
		}
	}
}

// TestCardVersionFromBlockID: the pending card's buttons carry its
// version, read back exactly; anything else carries none.
func TestCardVersionFromBlockID(t *testing.T) {
	c := baseCard()
	c.Version = 12
	var actions *slack.ActionBlock
	for _, b := range CardBlocks(c) {
		if a, ok := b.(*slack.ActionBlock); ok {
			actions = a
		}
	}
	if actions == nil {
		t.Fatal("a pending card has buttons")
	}
	if v, ok := CardVersionFromBlockID(actions.BlockID); !ok || v != 12 {
		t.Errorf("CardVersionFromBlockID(%q) = %d, %v; want 12, true", actions.BlockID, v, ok)
	}
	for _, id := range []string{"leave_actions.pending", "leave_actions.pending.v", "leave_actions.pending.v0", "leave_actions.pending.v07",
		"leave_actions.pending.v-1", "leave_actions.pending.v1x", "leave_actions.confirmed.v3", "leave_successor.pending.R1", "wa_leave", ""} {
		if v, ok := CardVersionFromBlockID(id); ok {
			t.Errorf("CardVersionFromBlockID(%q) = %d, true; want none", id, v)
		}
	}
}
