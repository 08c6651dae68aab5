package templates

import (
	"strings"
	"testing"
	"time"

	"github.com/waleave/waleave/leave"
)

// With DryRun set, every state of the card says "dry run" in its header,
// its notification text and a note; without it, none does. The pending
// and done cards are golden files.
func TestCardDryRun(t *testing.T) {
	for _, tc := range cardCases() {
		t.Run(tc.name, func(t *testing.T) {
			plain := tc.card
			got := strings.ToLower(string(render(t, CardBlocks(plain), CardText(plain))))
			if strings.Contains(got, "dry run") {
				t.Errorf("a real card says dry run:\n%s", got)
			}
			dry := tc.card
			dry.DryRun = true
			blocks := CardBlocks(dry)
			checkLimits(t, blocks)
			if h := strings.ToLower(blocks[0].(interface{ ID() string }).ID()); !strings.HasPrefix(h, "leave_header") {
				t.Fatalf("first block is %s, not the header", h)
			}
			header := strings.ToLower(string(render(t, blocks[:1], "")))
			note := strings.ToLower(string(render(t, blocks[1:2], "")))
			text := strings.ToLower(CardText(dry))
			for what, s := range map[string]string{"header": header, "note": note, "text": text} {
				if !strings.Contains(s, "dry run") {
					t.Errorf("the %s does not say dry run: %s", what, s)
				}
			}
		})
	}
	for _, name := range []string{"pending_only_admin", "done_left_admin"} {
		for _, tc := range cardCases() {
			if tc.name == name {
				tc.card.DryRun = true
				golden(t, "card_dry_run_"+name, render(t, CardBlocks(tc.card), CardText(tc.card)))
			}
		}
	}
}

// The ops channel's reminder of a scheduled leave says "dry run" too.
func TestScheduledReminderDryRun(t *testing.T) {
	c := baseCard()
	c.State, c.RunAt = leave.Confirmed, testNow.Add(time.Hour)
	for _, dry := range []bool{false, true} {
		c.DryRun = dry
		blocks := CardBlocks(c)
		checkLimits(t, blocks)
		got := strings.ToLower(string(render(t, ScheduledReminderBlocks(c), ScheduledReminderText(c))))
		if strings.Count(got, "dry run") != map[bool]int{false: 0, true: 2}[dry] {
			t.Errorf("dry run %v:\n%s", dry, got)
		}
	}
}
