package templates

import (
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/waleave/waleave/leave"
)

func TestHistoryGolden(t *testing.T) {
	at := testNow
	reqs := []HistoryRequest{
		{RequestID: testRequestID, State: leave.Done, Outcome: leave.OutcomeLeft, RequesterID: "U0REQ1", CreatedAt: at,
			ConfirmedBy: "U0APP1", Goodbye: "Thanks all <3 & see you",
			Steps: []StatusEntry{
				{At: at, Actor: "U0REQ1", Action: "requested"},
				{At: at.Add(time.Minute), Actor: "U0APP1", Action: "confirmed"},
				{At: at.Add(61 * time.Second), Actor: "waleave", Action: "goodbye sent", GatewayStatus: 200},
				{At: at.Add(62 * time.Second), Actor: "waleave", Action: "done", GatewayStatus: 200},
			}},
		{RequestID: "r0ld", State: leave.Cancelled, RequesterID: "U0REQ2", CreatedAt: at.Add(-48 * time.Hour),
			CancelledBy: "U0REQ2", RunAt: at.Add(-24 * time.Hour),
			Steps: []StatusEntry{{At: at.Add(-48 * time.Hour), Actor: "U0REQ2", Action: "requested"}, {At: at.Add(-47 * time.Hour), Actor: "U0REQ2", Action: "cancelled"}}},
	}
	got := History("Project <Phoenix>", "120363406289005073@g.us", reqs, testLoc)
	golden(t, "history", []byte(got+"\n"))
	require.NotContains(t, got, "<Phoenix>", "the group's name is escaped")
	require.Contains(t, got, "gateway HTTP 200")

	require.Contains(t, History("120363406289005073@g.us", "120363406289005073@g.us", nil, nil), "No request to leave `120363406289005073@g.us`")

	many := make([]HistoryRequest, 15)
	for i := range many {
		many[i] = HistoryRequest{RequestID: "R", State: leave.Pending, RequesterID: "U0REQ1", CreatedAt: at}
	}
	got = History("g", "120363406289005073@g.us", many, nil)
	require.Equal(t, maxHistoryRequests, strings.Count(got, "\n• "))
	require.Contains(t, got, "…and 5 older requests.")
}
