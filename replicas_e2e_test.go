package main

import (
	"database/sql"
	"slices"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/waleave/waleave/fake"

	"github.com/waleave/waleave/store/storetest"
)

// Several replicas on one PostgreSQL database, as a Deployment with two
// or more pods runs them: the same fakes stand for Slack and the gateway
// behind every replica, so their calls add up as Slack and WhatsApp would
// see them.

// TestE2E_Replicas_ClicksOnBothLeaveOnce sends a command to one replica
// and twenty confirm clicks, from three people, split across two: one
// leave, one goodbye, one card and one thread reply.
func TestE2E_Replicas_ClicksOnBothLeaveOnce(t *testing.T) {
	t.Parallel()
	sl, gw := fake.NewSlack(t), fake.NewProvider(t, "greenapi")
	env := baseEnvOn(t, sl, gw, storetest.Postgres(t))
	a := startApp(t, sl, gw, env)
	b := startApp(t, sl, gw, env)

	id, ts := a.requestCard("U0REQ1", "C1", testGroup+" bye all")
	var wg sync.WaitGroup
	for i := range 20 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			replica := []*app{a, b}[i%2]
			status, _ := replica.click([]string{"U0REQ1", "U0CNF2", "U0CNF3"}[i%3], "C1", "leave_confirm", id, ts)
			if status != 200 {
				t.Errorf("click %d: status %d", i, status)
			}
		}()
	}
	wg.Wait()
	eventually(t, 15*time.Second, func() bool { return len(sl.ThreadReplies()) >= 1 }, "no outcome reply")
	// Long enough for a second job, had there been one, to be fetched
	// (LISTEN wakes the other replica at once) and to call the gateway.
	time.Sleep(1500 * time.Millisecond)
	require.Len(t, gw.Calls("leave"), 1, "one leave")
	require.Len(t, gw.Calls("send"), 1, "one goodbye")
	require.Len(t, sl.ThreadReplies(), 1, "one thread reply")
	require.Len(t, sl.Cards(), 1, "one card")
	require.Contains(t, strings.ToLower(sl.ThreadReplies()[0].Form.Get("text")), "left")
	// 19 clicks were refused, and every person-replica pair had at least
	// two of them. A replica tells a person the same thing about a card
	// once (a repeat within seconds is not sent again); the words change
	// only with the request's state. So each person hears each answer at
	// most twice, once from each replica.
	eventually(t, 5*time.Second, func() bool { return len(sl.Calls("chat.postEphemeral")) >= 6 }, "refused clicks not answered: %d", len(sl.Calls("chat.postEphemeral")))
	time.Sleep(500 * time.Millisecond)
	answers := map[[2]string]int{}
	people := map[string]bool{}
	for _, c := range sl.Calls("chat.postEphemeral") {
		answers[[2]string{c.Form.Get("user"), c.Form.Get("text")}]++
		people[c.Form.Get("user")] = true
	}
	require.Len(t, people, 3, "everyone whose click was refused is told why")
	for k, n := range answers {
		require.LessOrEqual(t, n, 2, "%s told %q %d times", k[0], k[1], n)
	}
	require.Less(t, len(sl.Calls("chat.postEphemeral")), 19, "repeated clicks are not each answered")
}

// TestE2E_Replicas_ShareTheGatewayRate sends commands for four groups to
// two replicas at once. Each command looks its group up (Green API's
// getGroupData, documented at one request a second per instance), so
// without a shared limiter each replica would space only its own two
// calls and the first of each would reach the gateway together. The
// replicas take turns from one bucket in the database instead: no two
// lookups arrive closer than the documented rate allows.
func TestE2E_Replicas_ShareTheGatewayRate(t *testing.T) {
	t.Parallel()
	sl, gw := fake.NewSlack(t), fake.NewProvider(t, "greenapi")
	env := baseEnvOn(t, sl, gw, storetest.Postgres(t))
	a := startApp(t, sl, gw, env)
	b := startApp(t, sl, gw, env)

	groups := []string{"120363406289005071@g.us", "120363406289005072@g.us", "120363406289005073@g.us", "120363406289005074@g.us"}
	var wg sync.WaitGroup
	for i, g := range groups {
		wg.Go(func() {
			if status, body := []*app{a, b}[i%2].command("U0REQ1", "C1", g+" bye"); status != 200 {
				t.Errorf("command %d: %d %s", i, status, body)
			}
		})
	}
	wg.Wait()
	lookups := func() []fake.ProviderCall {
		var out []fake.ProviderCall
		for _, c := range gw.Calls("") {
			if strings.Contains(c.Path, "/getGroupData/") {
				out = append(out, c)
			}
		}
		return out
	}
	eventually(t, 15*time.Second, func() bool { return len(lookups()) >= len(groups) }, "group lookups: %d", len(lookups()))
	calls := lookups()
	slices.SortFunc(calls, func(x, y fake.ProviderCall) int { return x.At.Compare(y.At) })
	// One a second at the client's margin (0.965) is 1.04 s; the bound
	// leaves room for scheduling jitter while still failing for two
	// independent limiters, whose first calls come within milliseconds.
	for i := 1; i < len(calls); i++ {
		require.GreaterOrEqual(t, calls[i].At.Sub(calls[i-1].At), 800*time.Millisecond,
			"lookups %d and %d of %d came too close together", i-1, i, len(calls))
	}
}

// TestE2E_Replicas_KilledMidLeaveFinishedByAnother kills the replica that
// is waiting on the gateway's leave call (SIGKILL: no shutdown, its job
// stays "running" and it stays River's leader until its lease runs out)
// and checks that the other replica carries the request through: one
// goodbye, one outcome reply. The dead replica also dies holding the
// request's outbox lease (its card update is held open by the fake
// Slack). With the default settings River's rescuer would take over a
// minute and the lease 45 s; the survivor sees the dead replica's
// heartbeat stop, gives its lease back at once and requeues its job once
// the dead run's timeout has passed, so the bound here is 30 s, half of
// SPEC's minute.
func TestE2E_Replicas_KilledMidLeaveFinishedByAnother(t *testing.T) {
	if testing.Short() {
		t.Skip("starts a child process and waits for River's rescuer")
	}
	t.Parallel()
	sl, gw := fake.NewSlack(t), fake.NewProvider(t, "greenapi")
	gw.Block = make(chan struct{})
	env := baseEnvOn(t, sl, gw, storetest.Postgres(t))

	child, u, childLogs := startChild(t, env)
	defer func() {
		if child.ProcessState == nil {
			_ = child.Process.Kill()
			_ = child.Wait()
		}
	}()
	a := &app{t: t, url: u, slack: sl, gw: gw, logs: childLogs}
	id, ts := a.requestCard("U0REQ1", "C1", testGroup+" so long")
	releaseUpdates := sl.HoldCalls("chat.update")
	status, _ := a.click("U0CNF2", "C1", "leave_confirm", id, ts)
	require.Equal(t, 200, status)
	eventually(t, 10*time.Second, func() bool { return len(gw.Calls("leave")) == 1 }, "leave not started")
	eventually(t, 10*time.Second, func() bool { return sl.Held() > 0 }, "the card update is not under way")

	b := startApp(t, sl, gw, env)

	require.NoError(t, child.Process.Signal(syscall.SIGKILL))
	_ = child.Wait()
	killed := time.Now()
	close(gw.Block) // the gateway answers promptly from now on
	releaseUpdates()

	deadline := killed.Add(30 * time.Second)
	for len(sl.ThreadReplies()) == 0 && time.Now().Before(deadline) {
		time.Sleep(50 * time.Millisecond)
	}
	if len(sl.ThreadReplies()) == 0 {
		t.Fatalf("request not completed within 30s of the replica's death:\n%s\njobs:\n%s", b.logs.String(), dumpJobs(t, env["DATABASE_URL"]))
	}
	t.Logf("outcome reply %.1fs after the replica was killed", time.Since(killed).Seconds())
	time.Sleep(time.Second)
	require.Len(t, gw.Calls("send"), 1, "one goodbye: the dead replica's is not sent again")
	require.Len(t, sl.ThreadReplies(), 1, "one reply")
	require.Contains(t, strings.ToLower(sl.ThreadReplies()[0].Form.Get("text")), "left")
	require.NotContains(t, childLogs.String(), testWAToken)
}

// TestE2E_Replicas_DigestAndReminderOnce runs two replicas with a digest
// due every two seconds and a request awaiting confirmation: each due
// digest is posted once (River runs periodic jobs on its leader only),
// and the request's reminder is posted once.
func TestE2E_Replicas_DigestAndReminderOnce(t *testing.T) {
	t.Parallel()
	sl, gw := fake.NewSlack(t), fake.NewProvider(t, "greenapi")
	env := baseEnvOn(t, sl, gw, storetest.Postgres(t))
	env["WALEAVE_OPS_CHANNEL"] = "C0OPS"
	env["WALEAVE_DIGEST_CRON"] = "@every 2s"
	env["WALEAVE_REMIND_AFTER"] = "2s"
	a := startApp(t, sl, gw, env)
	startApp(t, sl, gw, env)

	_, ts := a.requestCard("U0REQ1", "C1", testGroup+" --no-goodbye")
	digests := func() []fake.Call {
		var out []fake.Call
		for _, c := range sl.Calls("chat.postMessage") {
			if c.Form.Get("channel") == "C0OPS" && strings.Contains(c.Form.Get("text"), "digest") {
				out = append(out, c)
			}
		}
		return out
	}
	eventually(t, 15*time.Second, func() bool { return len(digests()) >= 1 }, "no digest")
	first := digests()[0].At
	time.Sleep(7 * time.Second)
	got := digests()
	elapsed := got[len(got)-1].At.Sub(first)
	require.GreaterOrEqual(t, len(got), 3, "a digest every two seconds")
	// Due times fall on whole seconds, so two may be a little under two
	// seconds apart.
	require.LessOrEqual(t, len(got), int((elapsed+time.Second)/(2*time.Second))+1, "no more digests than were due")
	for i := 1; i < len(got); i++ {
		require.Greater(t, got[i].At.Sub(got[i-1].At), time.Second, "digest %d follows %d at once: posted twice", i, i-1)
	}

	var reminders int
	for _, r := range sl.ThreadReplies() {
		if r.Form.Get("thread_ts") == ts && strings.Contains(r.Form.Get("text"), "<@U0REQ1>") {
			reminders++
		}
	}
	require.Equal(t, 1, reminders, "one reminder")
}

// TestE2E_Replicas_OnlyDeadHeartbeatsAreRequeued: a job running on a
// replica whose heartbeat stopped is requeued once its run has outlived
// the run timeout (and, its request being gone, completes); one whose run
// is younger is left alone, and so is a job running on a client that
// never wrote a heartbeat (an older version during a rolling upgrade):
// nothing says that client is dead.
func TestE2E_Replicas_OnlyDeadHeartbeatsAreRequeued(t *testing.T) {
	t.Parallel()
	sl, gw := fake.NewSlack(t), fake.NewProvider(t, "greenapi")
	env := baseEnvOn(t, sl, gw, storetest.Postgres(t))
	startApp(t, sl, gw, env)

	db, err := sql.Open("pgx", env["DATABASE_URL"])
	require.NoError(t, err)
	defer db.Close()
	ctx := t.Context()
	_, err = db.ExecContext(ctx, `INSERT INTO replicas (id, seen_at) VALUES ('dead-replica', 0)`)
	require.NoError(t, err)
	var dead, young, unknown int64
	insert := `INSERT INTO river_job (args, kind, max_attempts, state, attempt, attempted_at, attempted_by)
		VALUES ('{"request_id": "R-gone"}', 'leave', 25, 'running', 1, now() - make_interval(secs => $2), ARRAY['earlier', $1]) RETURNING id`
	require.NoError(t, db.QueryRowContext(ctx, insert, "dead-replica", 60).Scan(&dead))
	require.NoError(t, db.QueryRowContext(ctx, insert, "dead-replica", 0).Scan(&young))
	require.NoError(t, db.QueryRowContext(ctx, insert, "never-beat", 60).Scan(&unknown))
	// Outbox leases: the dead replica's is given back at once, the one of a
	// client that never beat is left to run out.
	for _, l := range []struct{ id, owner string }{{"R-dead-lease", "dead-replica"}, {"R-live-lease", "never-beat"}} {
		_, err = db.ExecContext(ctx, `INSERT INTO requests (id, team_id, channel_id, requester_id, group_jid, state, created_at, updated_at, expires_at, outbox_lease, outbox_owner)
			VALUES ($1, 'T1', 'C1', 'U0REQ1', '120363406289005073@g.us', 'done', 0, 0, 0, $2, $3)`, l.id, time.Now().Add(time.Hour).UnixMilli(), l.owner)
		require.NoError(t, err)
	}

	state := func(id int64) string {
		var s string
		require.NoError(t, db.QueryRowContext(ctx, `SELECT state FROM river_job WHERE id = $1`, id).Scan(&s))
		return s
	}
	eventually(t, 10*time.Second, func() bool { return state(dead) == "completed" }, "the dead replica's job: %s", state(dead))
	require.Equal(t, "running", state(unknown), "a client that never beat is not judged")
	require.Equal(t, "running", state(young), "a run younger than its timeout is left alone: its replica may only be paused")
	lease := func(id string) (ms int64) {
		require.NoError(t, db.QueryRowContext(ctx, `SELECT outbox_lease FROM requests WHERE id = $1`, id).Scan(&ms))
		return ms
	}
	// Given back: the lease is gone, or (the row owing a card) a live
	// poster has taken it since. The lease was written after the jobs, so
	// the heartbeat that requeued the job may have come before it.
	givenBack := func() bool {
		var owner string
		require.NoError(t, db.QueryRowContext(ctx, `SELECT outbox_owner FROM requests WHERE id = 'R-dead-lease'`).Scan(&owner))
		return lease("R-dead-lease") == 0 || owner != "dead-replica"
	}
	eventually(t, 10*time.Second, givenBack, "the dead replica's outbox lease is given back")
	require.NotZero(t, lease("R-live-lease"))
	var n int
	require.NoError(t, db.QueryRowContext(ctx, `SELECT count(*) FROM replicas WHERE id = 'dead-replica'`).Scan(&n))
	require.Equal(t, 1, n, "a dead replica is remembered while one of its runs is too young to requeue")
}

// TestE2E_Replicas_PausedReplicaIsNotRunTwice pauses (SIGSTOP: a VM
// migration, a frozen container) the replica that runs a leave job, just
// before its goodbye, for longer than makes it look dead. The other
// replica takes the job over only once the paused run has outlived its
// timeout, so when the paused replica resumes it does not send the
// goodbye a second time. Its late result puts the job back in the queue
// while the takeover's leave call is still waiting on the gateway; the
// run that picks it up finds the takeover's claim and waits, so there is
// never a second leave call at the same time.
func TestE2E_Replicas_PausedReplicaIsNotRunTwice(t *testing.T) {
	if testing.Short() {
		t.Skip("starts a child process and waits for its run to time out")
	}
	t.Parallel()
	sl, gw := fake.NewSlack(t), fake.NewProvider(t, "greenapi")
	gw.GroupDelay = time.Second // the job's group lookup, before the goodbye
	env := baseEnvOn(t, sl, gw, storetest.Postgres(t))

	child, u, childLogs := startChild(t, env)
	defer func() {
		_ = child.Process.Signal(syscall.SIGCONT)
		_ = child.Process.Kill()
		_ = child.Wait()
	}()
	a := &app{t: t, url: u, slack: sl, gw: gw, logs: childLogs}
	id, ts := a.requestCard("U0REQ1", "C1", testGroup+" so long")
	clicked := time.Now()
	status, _ := a.click("U0CNF2", "C1", "leave_confirm", id, ts)
	require.Equal(t, 200, status)
	eventually(t, 10*time.Second, func() bool {
		for _, c := range gw.Calls("other") {
			if strings.Contains(c.Path, "/getGroupData/") && c.At.After(clicked) {
				return true
			}
		}
		return false
	}, "the job's group lookup did not start")
	require.NoError(t, child.Process.Signal(syscall.SIGSTOP))
	paused := time.Now()
	slowLeave := make(chan struct{}) // the takeover's leave call waits on it
	gw.Locked(func() { gw.Block = slowLeave })

	b := startApp(t, sl, gw, env)
	eventually(t, 40*time.Second, func() bool { return len(gw.Calls("leave")) > 0 }, "the other replica did not take the job over:\n%s", b.logs.String())
	took := time.Since(paused)
	t.Logf("taken over %.1fs after the pause", took.Seconds())
	// The paused run's timeout (8 s + 2 × 2 s + 5 s) had to pass first.
	require.GreaterOrEqual(t, took, 15*time.Second, "taken over while the paused run could still go on")
	require.Less(t, took, 30*time.Second)

	require.NoError(t, child.Process.Signal(syscall.SIGCONT))
	time.Sleep(4 * time.Second)
	require.Len(t, gw.Calls("leave"), 1, "a second leave call while the first was in flight:\n%s", dumpJobs(t, env["DATABASE_URL"]))
	close(slowLeave)
	eventually(t, 10*time.Second, func() bool { return len(sl.ThreadReplies()) == 1 }, "no outcome reply")
	time.Sleep(time.Second)
	require.Len(t, gw.Calls("send"), 1, "one goodbye")
	require.Len(t, sl.ThreadReplies(), 1, "one reply")
	require.Contains(t, strings.ToLower(sl.ThreadReplies()[0].Form.Get("text")), "left")
}
