package bot

import (
	"context"
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/riverqueue/river"
	"github.com/riverqueue/river/rivertype"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/waleave/waleave/store"
	"github.com/waleave/waleave/whatsapp"
)

// bulkRecorder stands in for the bulk request a scan ends in, for tests
// of the scan alone: it records what it was given and ends the scan.
type bulkRecorder struct {
	db *store.DB
	mu sync.Mutex
	// made lists, per call, the stale and unknown groups' JIDs.
	made []struct{ stale, unknown []string }
}

func (r *bulkRecorder) makeStaleBulk(ctx context.Context, sc *store.Scan, stale, unknown []store.ScanGroup, _ store.Enqueue) error {
	r.mu.Lock()
	defer r.mu.Unlock()
	var m struct{ stale, unknown []string }
	for _, g := range stale {
		m.stale = append(m.stale, g.JID)
	}
	for _, g := range unknown {
		m.unknown = append(m.unknown, g.JID)
	}
	r.made = append(r.made, m)
	_, err := r.db.EndScan(ctx, sc.ID, store.ScanDone, sc.ID, "", time.Now())
	return err
}

// scanJob is the River job of a scan, as a worker receives it.
func scanJob(id string) *river.Job[staleScanArgs] {
	return &river.Job[staleScanArgs]{JobRow: &rivertype.JobRow{ID: 2, Attempt: 1}, Args: staleScanArgs{ScanID: id}}
}

// scanGroupsFixture are six groups of known ages (relative to t0) and
// the ones a 180-day scan must find stale or cannot tell.
func scanGroupsFixture(tb *testBot) (entries []store.DirectoryEntry, stale, unknown []string) {
	day := 24 * time.Hour
	ages := []struct {
		jid  string
		idle time.Duration // 0: no history (cannot tell)
	}{
		{"120363000000000001@g.us", 3 * day},
		{"120363000000000002@g.us", 400 * day},
		{"120363000000000003@g.us", 0},
		{"120363000000000004@g.us", 181 * day},
		{"120363000000000005@g.us", 179 * day},
		{"120363000000000006@g.us", 200 * day},
	}
	tb.gw.Locked(func() {
		tb.gw.LastActive = map[string]time.Time{}
		for _, a := range ages {
			if a.idle > 0 {
				tb.gw.LastActive[a.jid] = t0.Add(-a.idle)
			}
		}
	})
	for i, a := range ages {
		entries = append(entries, store.DirectoryEntry{Number: store.DefaultNumber, JID: a.jid, Subject: fmt.Sprintf("Group %d", i+1)})
		switch {
		case a.idle == 0:
			unknown = append(unknown, a.jid)
		case a.idle > 180*day:
			stale = append(stale, a.jid)
		}
	}
	return entries, stale, unknown
}

func (tb *testBot) scan(t *testing.T, entries []store.DirectoryEntry) string {
	t.Helper()
	id, reply, err := tb.startStaleScan(context.Background(), staleScan{
		TeamID: "T1", ChannelID: "C1", UserID: "U0REQ1", Number: tb.num(""), Idle: 180 * 24 * time.Hour, Groups: entries,
	})
	require.NoError(t, err)
	assert.Contains(t, reply, "no message for 180 days")
	assert.Contains(t, reply, fmt.Sprintf("checking %d groups", len(entries)))
	return id
}

// TestStaleScan_ResumesWhereItStopped interrupts a scan midway (its run
// is killed during the third group's check) and checks that the next run
// checks only the groups not yet checked, and ends with exactly the
// stale ones, the ones that cannot be told apart.
func TestStaleScan_ResumesWhereItStopped(t *testing.T) {
	tb := newTestBot(t, Options{})
	bulk := &bulkRecorder{db: tb.db}
	tb.staleBulk = bulk
	entries, stale, unknown := scanGroupsFixture(tb)
	id := tb.scan(t, entries)
	w := &staleScanWorker{b: tb.Bot}

	ctx, kill := context.WithCancel(context.Background())
	tb.gw.OnActivity = func(group string) {
		if group == entries[2].JID {
			kill() // the process dies during the third check
		}
	}
	require.Error(t, w.Work(ctx, scanJob(id)))
	require.Equal(t, []string{entries[0].JID, entries[1].JID, entries[2].JID}, tb.gw.ActivityChecks())
	groups, err := tb.db.ScanGroups(context.Background(), id)
	require.NoError(t, err)
	assert.Equal(t, store.ScanRecent, groups[0].Result)
	assert.Equal(t, store.ScanStale, groups[1].Result)
	assert.Equal(t, store.ScanUnchecked, groups[2].Result, "its answer was lost with the run")

	tb.gw.OnActivity = nil
	require.NoError(t, w.Work(context.Background(), scanJob(id)))
	checks := tb.gw.ActivityChecks()
	assert.Equal(t, []string{entries[2].JID, entries[3].JID, entries[4].JID, entries[5].JID}, checks[3:],
		"the second run starts at the group whose check was cut short")
	for _, g := range entries[:2] {
		n := 0
		for _, c := range checks {
			if c == g.JID {
				n++
			}
		}
		assert.Equal(t, 1, n, "%s was checked once", g.JID)
	}

	require.Len(t, bulk.made, 1)
	assert.Equal(t, stale, bulk.made[0].stale, "exactly the groups older than 180 days")
	assert.Equal(t, unknown, bulk.made[0].unknown)
	sc, err := tb.db.Scan(context.Background(), id)
	require.NoError(t, err)
	assert.Equal(t, store.ScanDone, sc.State)

	// A further run (a duplicate, a retry) finds the scan over.
	require.NoError(t, w.Work(context.Background(), scanJob(id)))
	assert.Len(t, tb.gw.ActivityChecks(), len(checks))
	assert.Len(t, bulk.made, 1)
}

// TestStaleScan_NoneStale ends a scan that finds nothing to leave: its
// message says so, lists the groups it cannot tell, and has no button.
func TestStaleScan_NoneStale(t *testing.T) {
	tb := newTestBot(t, Options{})
	bulk := &bulkRecorder{db: tb.db}
	tb.staleBulk = bulk
	entries, _, _ := scanGroupsFixture(tb)
	entries = []store.DirectoryEntry{entries[0], entries[2], entries[4]} // recent, unknown, recent
	id := tb.scan(t, entries)
	require.NoError(t, (&staleScanWorker{b: tb.Bot}).Work(context.Background(), scanJob(id)))
	assert.Empty(t, bulk.made, "no bulk request")

	cards := tb.slack.Cards()
	require.Len(t, cards, 1, "one message, posted once")
	ts := cards[0].TS
	updates := tb.slack.Calls("chat.update")
	require.NotEmpty(t, updates)
	last := updates[len(updates)-1]
	assert.Equal(t, ts, last.Form.Get("ts"))
	blocks := last.Form.Get("blocks")
	assert.Contains(t, blocks, "No quiet group found")
	assert.Contains(t, blocks, "Not included: 1 group whose last message the gateway cannot tell")
	assert.Contains(t, blocks, "Group 3")
	assert.NotContains(t, blocks, `"type":"button"`)
	assert.Equal(t, "b", tb.slack.ButtonsBlockID(ts))
	sc, err := tb.db.Scan(context.Background(), id)
	require.NoError(t, err)
	assert.Equal(t, store.ScanDone, sc.State)
	assert.Empty(t, sc.RequestID)
}

// TestStaleScan_ProgressIsThrottled checks that the progress message is
// redrawn at most once per scanProgressEvery however fast the checks go.
func TestStaleScan_ProgressIsThrottled(t *testing.T) {
	tb := newTestBot(t, Options{})
	tb.staleBulk = &bulkRecorder{db: tb.db}
	entries, _, _ := scanGroupsFixture(tb)
	id := tb.scan(t, entries)
	// Each check takes 700 ms of the test's clock.
	tb.gw.OnActivity = func(string) { tb.clock.Add(700 * time.Millisecond) }
	require.NoError(t, (&staleScanWorker{b: tb.Bot}).Work(context.Background(), scanJob(id)))
	var at []time.Time
	for _, c := range append(tb.slack.Cards(), tb.slack.Calls("chat.update")...) {
		assert.NotContains(t, c.Form.Get("text"), "REDACTED")
		at = append(at, c.At)
	}
	// 6 checks over 4.2 s: the post, a redraw after 2.1 s and one after
	// 4.2 s at most; the end of the scan is the bulk card's (outbox).
	assert.LessOrEqual(t, len(at), 3)
	assert.True(t, strings.Contains(tb.slack.Cards()[0].Form.Get("text"), "Checking 0 of 6 groups"))
}

// TestStaleScan_StopsWhenTheNumberIsDisconnected checks that a gateway
// refusal that holds for every group stops the scan, with the reason in
// its message, rather than listing every group as "cannot tell".
func TestStaleScan_StopsWhenTheNumberIsDisconnected(t *testing.T) {
	tb := newTestBot(t, Options{})
	bulk := &bulkRecorder{db: tb.db}
	tb.staleBulk = bulk
	entries, _, _ := scanGroupsFixture(tb)
	tb.gw.Locked(func() {
		tb.gw.ActivityErrs = map[string]error{entries[1].JID: &whatsapp.Error{Provider: "greenapi", Op: "getChatHistory", Status: 200, Kind: whatsapp.ErrNotConnected}}
	})
	id := tb.scan(t, entries)
	require.NoError(t, (&staleScanWorker{b: tb.Bot}).Work(context.Background(), scanJob(id)))
	assert.Len(t, tb.gw.ActivityChecks(), 2, "no check after the refusal")
	assert.Empty(t, bulk.made)
	sc, err := tb.db.Scan(context.Background(), id)
	require.NoError(t, err)
	assert.Equal(t, store.ScanFailed, sc.State)
	updates := tb.slack.Calls("chat.update")
	require.NotEmpty(t, updates)
	assert.Contains(t, updates[len(updates)-1].Form.Get("blocks"), "not connected")
}

// TestStaleScan_TransientFailureIsTriedAgain checks that a rate limit or
// an outage snoozes the job and checks the same group again, and that a
// group that never answers ends as "cannot tell".
func TestStaleScan_TransientFailureIsTriedAgain(t *testing.T) {
	tb := newTestBot(t, Options{MaxAttempts: 2})
	bulk := &bulkRecorder{db: tb.db}
	tb.staleBulk = bulk
	entries, _, _ := scanGroupsFixture(tb)
	tb.gw.Locked(func() {
		tb.gw.ActivityErrs = map[string]error{entries[1].JID: &whatsapp.Error{Provider: "greenapi", Op: "getChatHistory", Status: 429, Kind: whatsapp.ErrRateLimited}}
	})
	id := tb.scan(t, entries)
	w := &staleScanWorker{b: tb.Bot}
	err := w.Work(context.Background(), scanJob(id))
	var snooze *river.JobSnoozeError
	require.ErrorAs(t, err, &snooze)
	require.NoError(t, w.Work(context.Background(), scanJob(id)))
	checks := tb.gw.ActivityChecks()
	assert.Equal(t, []string{entries[0].JID, entries[1].JID, entries[1].JID}, checks[:3])
	require.Len(t, bulk.made, 1)
	assert.Contains(t, bulk.made[0].unknown, entries[1].JID, "no answer after the tries: cannot tell")
	assert.NotContains(t, bulk.made[0].stale, entries[1].JID)
}
