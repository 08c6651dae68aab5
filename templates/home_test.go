package templates

import (
	"encoding/json"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/waleave/waleave/leave"
)

func TestHomeGolden(t *testing.T) {
	at := testNow
	h := Home{
		Connection: "authorized", Connected: true, ConnectionKnown: true,
		Waiting: []HomeItem{{RequestID: testRequestID, Group: "Project <Phoenix>", State: leave.Pending, RequesterID: "U0REQ1", CreatedAt: at, Version: 3}},
		Mine:    []HomeItem{{RequestID: "R2", Group: "120363406289005073@g.us", State: leave.Failed, Outcome: leave.OutcomeQuota, RequesterID: "U0APP1", CreatedAt: at}},
		Scheduled: []HomeItem{{RequestID: "R3", Group: "Night shift", State: leave.Confirmed, RequesterID: "U0REQ1", CreatedAt: at,
			RunAt: at.Add(48 * time.Hour)}},
		Outcomes: []HomeItem{{RequestID: "R4", Group: "Day crew", State: leave.Done, Outcome: leave.OutcomeLeft, RequesterID: "U0REQ1", CreatedAt: at}},
	}
	golden(t, "home", renderJSON(t, HomeView(h, testLoc)))
	golden(t, "home_restricted", renderJSON(t, HomeView(Home{Restricted: true, Connection: "notAuthorized", ConnectionKnown: true}, testLoc)))

	b, _ := json.Marshal(HomeView(h, testLoc))
	require.Contains(t, string(b), `"block_id":"`+HomeBlockID(testRequestID, 3)+`"`)
}

func TestHomeBlockID(t *testing.T) {
	id, v, ok := HomeVersionFromBlockID(HomeBlockID("R0T8X6J2M9QD4KAB", 12))
	require.True(t, ok)
	require.Equal(t, "R0T8X6J2M9QD4KAB", id)
	require.Equal(t, 12, v)
	for _, bad := range []string{"leave_actions.pending.v3", "home_actions.R1.v0", "home_actions.R1.v", "home_actions..v2", "home_actions.R1.v02", "home_actions.R1"} {
		_, _, ok := HomeVersionFromBlockID(bad)
		require.False(t, ok, bad)
	}
	_, ok = CardVersionFromBlockID(HomeBlockID("R1", 2))
	require.False(t, ok, "a Home block ID is not a card's")
}
