package templates

import (
	"encoding/json"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestAge(t *testing.T) {
	day := 24 * time.Hour
	for d, want := range map[time.Duration]string{
		180 * day: "180 days", day: "1 day", 14 * day: "2 weeks", 7 * day: "1 week", 70 * day: "70 days",
		36 * time.Hour: "36 hours", time.Hour: "1 hour", 90 * time.Minute: "90 minutes",
	} {
		assert.Equal(t, want, Age(d), "%v", d)
	}
}

// blocksText renders blocks as JSON, as Slack receives them.
func blocksText(t *testing.T, v any) string {
	t.Helper()
	b, err := json.Marshal(v)
	require.NoError(t, err)
	return string(b)
}

func TestStaleScanMessage(t *testing.T) {
	base := StaleScan{ScanID: "R1", RequesterID: "U0REQ1", Idle: 180 * 24 * time.Hour, Filter: "<acme>", Total: 120, Checked: 40, Stale: 7,
		Unknown: []StaleGroup{{JID: "1@g.us", Subject: "Night <shift>", Why: StaleWhyNoHistory}, {JID: "2@g.us", Why: StaleWhyNotMember}}}

	progress := blocksText(t, StaleScanBlocks(base))
	assert.Contains(t, progress, "Checking *40* of *120* groups for groups with no message for 180 days among those matching `\\u0026lt;acme\\u0026gt;`")
	assert.Contains(t, progress, "(7 found so far)")
	assert.Contains(t, progress, "Not included: 2 groups whose last message the gateway cannot tell")
	assert.Contains(t, progress, "Night \\u0026lt;shift\\u0026gt; — no message history at the gateway")
	assert.Contains(t, progress, "`2@g.us` — the number is not in it any more")
	assert.NotContains(t, progress, `"button"`)
	assert.Equal(t, "Checking 40 of 120 groups for groups with no message for 180 days among those matching `&lt;acme&gt;`…", StaleScanText(base))

	done := base
	done.Done, done.Checked = true, 120
	text := blocksText(t, StaleScanBlocks(done))
	assert.Contains(t, text, "No quiet group found")
	assert.Contains(t, text, "none has gone without a message for 180 days")
	assert.NotContains(t, text, `"button"`)
	assert.NotEqual(t, StaleScanBlocks(base)[0].ID(), StaleScanBlocks(done)[0].ID(), "each state has its own block IDs, so Slack redraws them")

	failed := base
	failed.Failed, failed.Failure = true, StaleStopReason("not_connected")
	text = blocksText(t, StaleScanBlocks(failed))
	assert.Contains(t, text, "stopped")
	assert.Contains(t, text, "not connected to its gateway")

	dry := base
	dry.DryRun = true
	assert.True(t, strings.HasPrefix(StaleScanText(dry), "Dry run: "))
	assert.Contains(t, blocksText(t, StaleScanBlocks(dry)), "Dry run")

	for _, s := range []StaleScan{base, done, failed, dry} {
		for _, b := range StaleScanBlocks(s) {
			checkMarkup(t, blocksText(t, b))
		}
	}
}

func TestStaleUnknownListIsBounded(t *testing.T) {
	var groups []StaleGroup
	for i := range 60 {
		groups = append(groups, StaleGroup{JID: fmt.Sprintf("%d@g.us", i), Subject: strings.Repeat("x", 100), Why: StaleWhyNoAnswer})
	}
	list := StaleUnknownList(groups)
	assert.Contains(t, list, "Not included: 60 groups")
	assert.Contains(t, list, "…and 40 more")
	assert.LessOrEqual(t, width(list), maxSectionText)
	assert.Empty(t, StaleUnknownList(nil))
}

// Names that escaping makes five times longer are cut at a line, never
// inside an escape, and the rest are still counted.
func TestStaleUnknownListCutsWholeLines(t *testing.T) {
	var groups []StaleGroup
	for i := range 15 {
		groups = append(groups, StaleGroup{JID: fmt.Sprintf("%d@g.us", i), Subject: strings.Repeat("<&>", 33)})
	}
	list := StaleUnknownList(groups)
	assert.LessOrEqual(t, width(list), maxSectionText)
	lines := strings.Split(list, "\n")
	last := lines[len(lines)-1]
	assert.Equal(t, fmt.Sprintf("…and %d more", 15-(len(lines)-2)), last, "the rest are counted")
	for _, l := range lines[1 : len(lines)-1] {
		assert.Equal(t, "• "+Escape(strings.Repeat("<&>", 33)), l, "a whole name per line")
	}
	assert.NotRegexp(t, `&(?:[^agl]|a[^m]|am[^p]|amp[^;]|g[^t]|gt[^;]|l[^t]|lt[^;])`, list, "an escape cut in half")
}

func TestStaleScanStarted(t *testing.T) {
	text := StaleScanStarted(120, 180*24*time.Hour, "", 120*1112*time.Millisecond)
	assert.Contains(t, text, "Looking for groups with no message for 180 days: checking 120 groups.")
	assert.Contains(t, text, "about 2 minutes")
	assert.Contains(t, text, "Nothing is sent to WhatsApp until someone confirms.")
	assert.NotContains(t, StaleScanStarted(3, time.Hour, "", 3*time.Second), "about")
	checkMarkup(t, text)
}
