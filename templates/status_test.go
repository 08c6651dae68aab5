package templates

import (
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/waleave/waleave/leave"
)

func TestStatus(t *testing.T) {
	at := time.Date(2026, 11, 23, 9, 30, 0, 0, time.UTC)
	lines := []StatusLine{
		{RequestID: "R1", Group: "Project <Phoenix> & co", State: leave.Failed, Outcome: leave.OutcomeQuota, RequesterID: "U0REQ1", CreatedAt: at},
	}
	history := []StatusEntry{
		{At: at, Actor: "U0REQ1", Action: "requested"},
		{At: at.Add(time.Minute), Actor: "waleave", Action: "failed", GatewayStatus: 466},
	}
	got := Status(lines, history, "https://chat.whatsapp.com/ABC<x>", time.UTC)
	require.Contains(t, got, "Project &lt;Phoenix&gt; &amp; co", "group names are escaped")
	require.Contains(t, got, "*failed*")
	require.Contains(t, got, Summary(leave.OutcomeQuota))
	require.Contains(t, got, "<@U0REQ1>")
	require.Contains(t, got, "gateway HTTP 466")
	require.Contains(t, got, "by waleave")
	require.Contains(t, got, "https://chat.whatsapp.com/ABC&lt;x&gt;")
	require.NotContains(t, got, "<x>")

	require.Contains(t, Status(nil, nil, "", nil), "No requests")

	many := make([]StatusLine, 30)
	for i := range many {
		many[i] = StatusLine{RequestID: "R", Group: "g", State: leave.Pending, RequesterID: "U0REQ1", CreatedAt: at}
	}
	got = Status(many, nil, "", nil)
	require.Equal(t, maxStatusLines, strings.Count(got, "• "))
	require.Contains(t, got, "…and 10 more.")
}
