package bot

import (
	"context"
	"errors"
	"fmt"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/riverqueue/river"
	"github.com/riverqueue/river/rivertype"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/waleave/waleave/leave"
	"github.com/waleave/waleave/store"
	"github.com/waleave/waleave/whatsapp"
)

// madeBulk returns the bulk request a scan made (its ID is the scan's),
// by group: the JIDs of its groups, or nil when none was made.
func (tb *testBot) madeBulk(t *testing.T, id string) []string {
	t.Helper()
	p, err := tb.db.Requests().Request(context.Background(), id)
	if errors.Is(err, store.ErrNotFound) {
		return nil
	}
	require.NoError(t, err)
	require.Equal(t, leave.KindBulk, p.Kind)
	children, err := tb.db.Requests().Children(context.Background(), id)
	require.NoError(t, err)
	jids := []string{}
	for _, c := range children {
		jids = append(jids, c.GroupJID)
	}
	sort.Strings(jids)
	return jids
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

// scan records a 180-day scan of entries as the command does, and
// returns its ID.
func (tb *testBot) scan(t *testing.T, entries []store.DirectoryEntry) string {
	t.Helper()
	now := tb.clock.Now()
	sc := &store.Scan{TeamID: "T1", ChannelID: "C1", RequesterID: "U0REQ1", Command: "bulk --stale 180d",
		Idle: 180 * 24 * time.Hour, Cutoff: now.Add(-180 * 24 * time.Hour), CreatedAt: now}
	groups := make([]store.ScanGroup, len(entries))
	for i, e := range entries {
		groups[i] = store.ScanGroup{JID: e.JID, Subject: e.Subject}
	}
	require.NoError(t, tb.recordScan(context.Background(), sc, groups))
	return sc.ID
}

// TestStaleScan_ResumesWhereItStopped interrupts a scan midway (its run
// is killed during the third group's check) and checks that the next run
// checks only the groups not yet checked, and ends with exactly the
// stale ones, the ones that cannot be told apart.
func TestStaleScan_ResumesWhereItStopped(t *testing.T) {
	tb := newTestBot(t, Options{})
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
	groups, err := tb.db.Scans().ScanGroups(context.Background(), id)
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

	assert.Equal(t, stale, tb.madeBulk(t, id), "exactly the groups older than 180 days")
	sc, err := tb.db.Scans().Scan(context.Background(), id)
	require.NoError(t, err)
	assert.Equal(t, store.ScanDone, sc.State)
	assert.Equal(t, id, sc.RequestID)
	notIncluded, err := tb.staleNotIncluded(context.Background(), id)
	require.NoError(t, err)
	require.Len(t, notIncluded, len(unknown))
	assert.Equal(t, unknown[0], notIncluded[0].JID)

	// The scan's message becomes the bulk card: redrawn in place, with
	// the groups that cannot be told listed apart, and confirmable.
	tb.deliver(id)
	posts := tb.slack.Cards()
	require.Len(t, posts, 1, "no second message")
	require.Equal(t, sc.MessageTS, posts[0].TS)
	updates := tb.slack.Calls("chat.update")
	require.NotEmpty(t, updates)
	card := updates[len(updates)-1]
	assert.Equal(t, sc.MessageTS, card.Form.Get("ts"))
	assert.Contains(t, card.Form.Get("blocks"), "Leave 3 WhatsApp groups")
	assert.Contains(t, card.Form.Get("blocks"), "Not included: 1 group whose last message the gateway cannot tell")
	assert.Contains(t, card.Form.Get("blocks"), "Group 3")
	assert.Equal(t, "leave_actions.pending.v1", tb.slack.ButtonsBlockID(sc.MessageTS))

	// A further run (a duplicate, a retry) finds the scan over.
	require.NoError(t, w.Work(context.Background(), scanJob(id)))
	assert.Len(t, tb.gw.ActivityChecks(), len(checks))
}

// TestStaleScan_NoneStale ends a scan that finds nothing to leave: its
// message says so, lists the groups it cannot tell, and has no button.
func TestStaleScan_NoneStale(t *testing.T) {
	tb := newTestBot(t, Options{})
	entries, _, _ := scanGroupsFixture(tb)
	entries = []store.DirectoryEntry{entries[0], entries[2], entries[4]} // recent, unknown, recent
	id := tb.scan(t, entries)
	require.NoError(t, (&staleScanWorker{b: tb.Bot}).Work(context.Background(), scanJob(id)))
	assert.Nil(t, tb.madeBulk(t, id), "no bulk request")

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
	sc, err := tb.db.Scans().Scan(context.Background(), id)
	require.NoError(t, err)
	assert.Equal(t, store.ScanDone, sc.State)
	assert.Empty(t, sc.RequestID)
}

// TestStaleScan_ProgressIsThrottled checks that the progress message is
// redrawn at most once per scanProgressEvery however fast the checks go.
func TestStaleScan_ProgressIsThrottled(t *testing.T) {
	tb := newTestBot(t, Options{})
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
	entries, _, _ := scanGroupsFixture(tb)
	tb.gw.Locked(func() {
		tb.gw.ActivityErrs = map[string]error{entries[1].JID: &whatsapp.Error{Provider: "greenapi", Op: "getChatHistory", Status: 200, Kind: whatsapp.ErrNotConnected}}
	})
	id := tb.scan(t, entries)
	require.NoError(t, (&staleScanWorker{b: tb.Bot}).Work(context.Background(), scanJob(id)))
	assert.Len(t, tb.gw.ActivityChecks(), 2, "no check after the refusal")
	assert.Nil(t, tb.madeBulk(t, id))
	sc, err := tb.db.Scans().Scan(context.Background(), id)
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
	made := tb.madeBulk(t, id)
	require.NotEmpty(t, made)
	assert.NotContains(t, made, entries[1].JID)
	groups, err := tb.db.Scans().ScanGroups(context.Background(), id)
	require.NoError(t, err)
	assert.Equal(t, store.ScanUnknown, groups[1].Result, "no answer after the tries: cannot tell")
}

// TestStaleScan_HandsBackWhenStopping checks that a scan run stops
// checking when the process begins to stop (the job snoozes, for the
// next start or another replica), rather than running on until the
// stop's deadline cancels it.
func TestStaleScan_HandsBackWhenStopping(t *testing.T) {
	tb := newTestBot(t, Options{})
	entries, _, _ := scanGroupsFixture(tb)
	id := tb.scan(t, entries)
	tb.gw.OnActivity = func(group string) {
		if group == entries[1].JID {
			tb.stopping.Store(true) // Stop begins during the second check
		}
	}
	err := (&staleScanWorker{b: tb.Bot}).Work(context.Background(), scanJob(id))
	var snooze *river.JobSnoozeError
	require.ErrorAs(t, err, &snooze)
	assert.Equal(t, []string{entries[0].JID, entries[1].JID}, tb.gw.ActivityChecks())
	groups, err := tb.db.Scans().ScanGroups(context.Background(), id)
	require.NoError(t, err)
	assert.Equal(t, store.ScanStale, groups[1].Result, "the check under way was recorded")
	assert.Equal(t, store.ScanUnchecked, groups[2].Result)
}
