package main

import (
	"context"
	"database/sql"
	"os/exec"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/waleave/waleave/fake"

	"github.com/waleave/waleave/store/storetest"
)

// Slack has no idempotency key: when its answer to a post is lost, the
// post may be in Slack all the same. These tests lose that answer (the
// fake Slack posts the message and never answers), kill the process, and
// check that the restarted one finds the message instead of posting it
// twice.

// TestE2E_CrashAfterSlackPostedTheCard: Slack posts the card, the process
// dies before it records the card's ts. The restarted process adopts the
// card in the channel: one card, which is the one updated, whose buttons
// work, and in whose thread the outcome goes.
func TestE2E_CrashAfterSlackPostedTheCard(t *testing.T) {
	if testing.Short() {
		t.Skip("starts child processes")
	}
	storetest.Each(t, func(t *testing.T, dsn string) {
		t.Parallel()
		sl, gw := fake.NewSlack(t), fake.NewProvider(t, "greenapi")
		env, db := baseEnvOn(t, sl, gw, dsn), openDB(t, dsn)
		lost := sl.LoseAnswers(1, func(c fake.Call) bool { return c.Method == "chat.postMessage" && c.Form.Get("thread_ts") == "" })

		child, u, logs := startChild(t, env)
		a := &app{t: t, url: u, slack: sl, gw: gw, logs: logs}
		status, body := a.command("U0REQ1", "C1", testGroup+" so long")
		require.Equal(t, 200, status, body)
		id := requestIDPattern.FindString(body)
		require.NotEmpty(t, id, "ack names the request: %s", body)
		eventually(t, 10*time.Second, func() bool { return lost() == 1 }, "card not posted")
		kill(t, child)
		ts := sl.Cards()[0].TS
		// People talk on: the card is not among the channel's latest
		// messages when the restarted process looks for it.
		sl.Chatter("C1", 20)

		child, u, logs = startChild(t, env)
		defer stopChild(t, child, logs)
		a = &app{t: t, url: u, slack: sl, gw: gw, logs: logs}
		eventually(t, 30*time.Second, func() bool { return len(sl.Cards()) > 1 || db.outbox(t, id).cardTS != "" },
			"card not recorded after the restart:\n%s", logs.String())
		require.Equal(t, 1, len(sl.Cards()), "one card")
		require.Equal(t, ts, db.outbox(t, id).cardTS, "the card in Slack is the request's")
		require.Equal(t, 2, len(sl.Calls("conversations.history")), "the look reads the messages after the card first, a page at a time")

		status, _ = a.click("U0CNF2", "C1", "leave_confirm", id, ts)
		require.Equal(t, 200, status)
		eventually(t, 20*time.Second, func() bool { return !db.outbox(t, id).owed() && len(sl.ThreadReplies()) > 0 }, "no outcome:\n%s", logs.String())
		require.Equal(t, 1, len(sl.Cards()), "one card")
		require.Equal(t, 1, len(sl.ThreadReplies()), "one outcome reply")
		require.Equal(t, ts, sl.ThreadReplies()[0].Form.Get("thread_ts"), "the outcome is in the card's thread")
		var final bool
		for _, u := range sl.Calls("chat.update") {
			require.Equal(t, ts, u.Form.Get("ts"), "only the card is updated")
			final = final || strings.Contains(strings.ToLower(u.Form.Get("blocks")), "done")
		}
		require.True(t, final, "the card shows the final state")
	})
}

// TestE2E_CrashAfterSlackPostedTheOutcome: Slack posts the outcome reply,
// the process dies before it records reply_ts. The restarted process
// finds the reply in the card's thread and records it: one reply.
func TestE2E_CrashAfterSlackPostedTheOutcome(t *testing.T) {
	if testing.Short() {
		t.Skip("starts child processes")
	}
	storetest.Each(t, func(t *testing.T, dsn string) {
		t.Parallel()
		sl, gw := fake.NewSlack(t), fake.NewProvider(t, "greenapi")
		env, db := baseEnvOn(t, sl, gw, dsn), openDB(t, dsn)
		lost := sl.LoseAnswers(1, func(c fake.Call) bool { return c.Method == "chat.postMessage" && c.Form.Get("thread_ts") != "" })

		child, u, logs := startChild(t, env)
		a := &app{t: t, url: u, slack: sl, gw: gw, logs: logs}
		id, ts := a.requestCard("U0REQ1", "C1", testGroup+" so long")
		status, _ := a.click("U0CNF2", "C1", "leave_confirm", id, ts)
		require.Equal(t, 200, status)
		eventually(t, 20*time.Second, func() bool { return lost() == 1 }, "outcome not posted:\n%s", logs.String())
		kill(t, child)
		reply := sl.ThreadReplies()[0].TS

		child, _, logs = startChild(t, env)
		defer stopChild(t, child, logs)
		eventually(t, 30*time.Second, func() bool { return !db.outbox(t, id).owed() }, "outcome not recorded after the restart:\n%s", logs.String())
		require.Equal(t, 1, len(sl.ThreadReplies()), "one outcome reply")
		require.Equal(t, reply, db.outbox(t, id).replyTS, "the reply in Slack is the request's")
		require.Contains(t, strings.ToLower(sl.ThreadReplies()[0].Form.Get("text")), "left")
		require.Equal(t, 1, len(sl.Cards()), "one card")
		require.Len(t, gw.Calls("leave"), 1, "one leave")
	})
}

// TestE2E_CrashAfterSlackPostedTheOutcomeElsewhere: Slack refuses the
// outcome in the card's thread (the channel was archived), so it goes to
// the ops channel; Slack posts it there and the process dies before it
// records that. The restarted process finds it in the ops channel.
func TestE2E_CrashAfterSlackPostedTheOutcomeElsewhere(t *testing.T) {
	if testing.Short() {
		t.Skip("starts child processes")
	}
	t.Parallel()
	sl, gw := fake.NewSlack(t), fake.NewProvider(t, "greenapi")
	dsn := storetest.SQLite(t)
	env, db := baseEnvOn(t, sl, gw, dsn), openDB(t, dsn)
	env["WALEAVE_OPS_CHANNEL"] = "C0OPS"
	outcomes := func() (n int) {
		for _, c := range sl.Calls("chat.postMessage") {
			if c.Form.Get("channel") == "C0OPS" && strings.Contains(c.Form.Get("text"), testGroup) {
				n++
			}
		}
		return n
	}

	child, u, logs := startChild(t, env)
	a := &app{t: t, url: u, slack: sl, gw: gw, logs: logs}
	id, ts := a.requestCard("U0REQ1", "C1", testGroup+" so long")
	sl.FailReplies("C1", "is_archived")
	lost := sl.LoseAnswers(1, func(c fake.Call) bool { return c.Method == "chat.postMessage" && c.Form.Get("channel") == "C0OPS" })
	status, _ := a.click("U0CNF2", "C1", "leave_confirm", id, ts)
	require.Equal(t, 200, status)
	eventually(t, 20*time.Second, func() bool { return lost() == 1 }, "outcome not posted in the ops channel:\n%s", logs.String())
	kill(t, child)

	child, _, logs = startChild(t, env)
	defer stopChild(t, child, logs)
	eventually(t, 30*time.Second, func() bool { return !db.outbox(t, id).owed() }, "outcome not recorded after the restart:\n%s", logs.String())
	require.Equal(t, 1, outcomes(), "one outcome in the ops channel")
	for _, c := range sl.ThreadReplies() {
		require.Empty(t, c.TS, "Slack took a reply in the thread")
	}
	require.Contains(t, db.audit(t, id), "post found again")
}

// TestE2E_FullDiskAfterSlackPostedTheCard: Slack posts the card, and the
// card's ts cannot be written (the disk is full). The retry finds the
// card rather than posting a second one.
func TestE2E_FullDiskAfterSlackPostedTheCard(t *testing.T) {
	storetest.Each(t, func(t *testing.T, dsn string) {
		t.Parallel()
		sl, gw := fake.NewSlack(t), fake.NewProvider(t, "greenapi")
		env, db := baseEnvOn(t, sl, gw, dsn), openDB(t, dsn)
		a := startApp(t, sl, gw, env)
		fix := db.diskFullForCardTS(t)

		status, body := a.command("U0REQ1", "C1", testGroup+" so long")
		require.Equal(t, 200, status, body)
		id := requestIDPattern.FindString(body)
		require.NotEmpty(t, id, "ack names the request: %s", body)
		eventually(t, 10*time.Second, func() bool { return strings.Contains(a.logs.String(), "record card post") }, "card post recorded despite the full disk:\n%s", a.logs.String())
		require.Len(t, sl.Cards(), 1)
		ts := sl.Cards()[0].TS
		fix()

		eventually(t, 20*time.Second, func() bool { return db.outbox(t, id).cardTS != "" }, "card not recorded once the disk had room:\n%s", a.logs.String())
		require.Equal(t, 1, len(sl.Cards()), "one card")
		require.Equal(t, ts, db.outbox(t, id).cardTS, "the card in Slack is the request's")
	})
}

// TestE2E_CrashAfterSlackPostedTheCard_LookRefused: where Slack refuses
// the look for the card (the bot posts with chat:write.public in a channel
// it is not in, or runs without the history scopes), the card is posted
// again rather than not at all, and the audit says why there may be two.
func TestE2E_CrashAfterSlackPostedTheCard_LookRefused(t *testing.T) {
	if testing.Short() {
		t.Skip("starts child processes")
	}
	t.Parallel()
	sl, gw := fake.NewSlack(t), fake.NewProvider(t, "greenapi")
	sl.FailLookups("not_in_channel")
	dsn := storetest.SQLite(t)
	env, db := baseEnvOn(t, sl, gw, dsn), openDB(t, dsn)
	lost := sl.LoseAnswers(1, func(c fake.Call) bool { return c.Method == "chat.postMessage" && c.Form.Get("thread_ts") == "" })

	child, u, logs := startChild(t, env)
	a := &app{t: t, url: u, slack: sl, gw: gw, logs: logs}
	status, body := a.command("U0REQ1", "C1", testGroup+" so long")
	require.Equal(t, 200, status, body)
	id := requestIDPattern.FindString(body)
	eventually(t, 10*time.Second, func() bool { return lost() == 1 }, "card not posted")
	kill(t, child)

	child, _, logs = startChild(t, env)
	defer stopChild(t, child, logs)
	eventually(t, 30*time.Second, func() bool { return db.outbox(t, id).cardTS != "" }, "card not posted after the restart:\n%s", logs.String())
	require.Equal(t, 1, len(sl.Calls("conversations.history")), "the card was looked for")
	require.Equal(t, 2, len(sl.Cards()), "posted again")
	require.Equal(t, sl.Cards()[1].TS, db.outbox(t, id).cardTS)
	require.Contains(t, db.audit(t, id), "posted again unchecked")
}

// kill ends a child process as a crash does.
func kill(t *testing.T, child *exec.Cmd) {
	t.Helper()
	require.NoError(t, child.Process.Signal(syscall.SIGKILL))
	_ = child.Wait()
}

// stopChild stops a child process and checks its logs kept the secret.
func stopChild(t *testing.T, child *exec.Cmd, logs *syncBuffer) {
	_ = child.Process.Signal(syscall.SIGTERM)
	_ = child.Wait()
	require.NotContains(t, logs.String(), testWAToken)
}

// outboxState is what the requests table says of a request's Slack
// messages.
type outboxState struct {
	cardTS, replyTS     string
	cardOwed, replyOwed bool
}

func (s outboxState) owed() bool { return s.cardOwed || s.replyOwed }

// sideDB is the program's database opened beside it, as an operator's
// tool would.
type sideDB struct {
	*sql.DB
	dsn string
}

func openDB(t *testing.T, dsn string) sideDB {
	t.Helper()
	driver, source := "sqlite", "file:"+strings.TrimPrefix(dsn, "sqlite:")+"?_pragma=busy_timeout(5000)"
	if !strings.HasPrefix(dsn, "sqlite:") {
		driver, source = "pgx", dsn
	}
	db, err := sql.Open(driver, source)
	require.NoError(t, err)
	t.Cleanup(func() { db.Close() })
	return sideDB{db, dsn}
}

func (db sideDB) outbox(t *testing.T, id string) outboxState {
	t.Helper()
	var s outboxState
	var cardVersion, postedVersion, replyNeeded int
	err := db.QueryRow(rebind(db.dsn, `SELECT card_ts, reply_ts, card_version, card_posted_version, reply_needed FROM requests WHERE id = ?`), id).
		Scan(&s.cardTS, &s.replyTS, &cardVersion, &postedVersion, &replyNeeded)
	require.NoError(t, err)
	s.cardOwed, s.replyOwed = cardVersion > postedVersion, replyNeeded == 1
	return s
}

func (db sideDB) audit(t *testing.T, id string) string {
	t.Helper()
	rows, err := db.Query(rebind(db.dsn, `SELECT action FROM audit WHERE request_id = ? ORDER BY id`), id)
	require.NoError(t, err)
	defer rows.Close()
	var out []string
	for rows.Next() {
		var a string
		require.NoError(t, rows.Scan(&a))
		out = append(out, a)
	}
	require.NoError(t, rows.Err())
	return strings.Join(out, "\n")
}

// rebind turns ? placeholders into PostgreSQL's $n where dsn is one.
func rebind(dsn, q string) string {
	if strings.HasPrefix(dsn, "sqlite:") {
		return q
	}
	var sb strings.Builder
	n := 0
	for _, r := range q {
		if r == '?' {
			n++
			sb.WriteString("$" + strconv.Itoa(n))
			continue
		}
		sb.WriteRune(r)
	}
	return sb.String()
}

// diskFullForCardTS makes every write of a card's ts fail as a full disk
// does (a trigger, so the program's own statements fail), until fix is
// called.
func (db sideDB) diskFullForCardTS(t *testing.T) (fix func()) {
	t.Helper()
	ctx := context.Background()
	stmts := []string{`CREATE TRIGGER disk_full BEFORE UPDATE OF card_ts ON requests BEGIN SELECT RAISE(ABORT, 'database or disk is full'); END`}
	undo := `DROP TRIGGER disk_full`
	if !strings.HasPrefix(db.dsn, "sqlite:") {
		stmts = []string{
			`CREATE FUNCTION disk_full() RETURNS trigger LANGUAGE plpgsql AS $$ BEGIN RAISE EXCEPTION 'could not extend file: No space left on device' USING ERRCODE = '53100'; END $$`,
			`CREATE TRIGGER disk_full BEFORE UPDATE OF card_ts ON requests FOR EACH ROW EXECUTE FUNCTION disk_full()`,
		}
		undo = `DROP TRIGGER disk_full ON requests`
	}
	for _, s := range stmts {
		_, err := db.ExecContext(ctx, s)
		require.NoError(t, err)
	}
	return func() {
		_, err := db.ExecContext(ctx, undo)
		require.NoError(t, err)
	}
}
