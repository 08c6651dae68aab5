package main

import (
	"context"
	"database/sql"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/riverqueue/river"
	"github.com/riverqueue/river/riverdriver"
	"github.com/riverqueue/river/riverdriver/riverdatabasesql"
	"github.com/riverqueue/river/riverdriver/riversqlite"
	"github.com/riverqueue/river/rivermigrate"
	"github.com/stretchr/testify/require"

	"github.com/waleave/waleave/fake"
	"github.com/waleave/waleave/store/storetest"
)

// oldLeaveArgs is a leave job as the single-number version enqueued it.
type oldLeaveArgs struct {
	RequestID string `json:"request_id"`
}

func (oldLeaveArgs) Kind() string { return "leave" }

// oldDatabase makes at dsn the database the version before several
// numbers left: the store's migrations before 0012 (read from the
// repository, as that version shipped them), River's tables, a group in
// the directory, a pending request and a confirmed one whose leave job
// is queued.
func oldDatabase(t *testing.T, dsn string) (pending, confirmed string) {
	ctx := context.Background()
	dialect := "sqlite"
	if !strings.HasPrefix(dsn, "sqlite:") {
		dialect = "postgres"
	}
	db := openSQL(t, dsn)
	_, err := db.Exec(`CREATE TABLE schema_migrations (name TEXT PRIMARY KEY, applied_at BIGINT NOT NULL)`)
	require.NoError(t, err)
	files, err := filepath.Glob(filepath.Join("store", "migrations", dialect, "*.sql"))
	require.NoError(t, err)
	sort.Strings(files)
	rebind := func(q string) string { return rebindFor(dsn, q) }
	for _, f := range files {
		if filepath.Base(f) >= "0012" {
			break
		}
		body, err := os.ReadFile(f)
		require.NoError(t, err)
		_, err = db.Exec(string(body))
		require.NoError(t, err, f)
		_, err = db.Exec(rebind(`INSERT INTO schema_migrations (name, applied_at) VALUES (?, ?)`), "migrations/"+dialect+"/"+filepath.Base(f), 1)
		require.NoError(t, err)
	}

	var driver riverdriver.Driver[*sql.Tx] = riversqlite.New(db)
	if dialect == "postgres" {
		driver = riverdatabasesql.New(db)
	}
	migrator, err := rivermigrate.New(driver, nil)
	require.NoError(t, err)
	_, err = migrator.Migrate(ctx, rivermigrate.DirectionUp, nil)
	require.NoError(t, err)

	now := time.Now().UnixMilli()
	pending, confirmed = "R0UPGRADE0PENDNG", "R0UPGRADE0CONFRM"
	insert := rebind(`INSERT INTO requests (id, team_id, channel_id, requester_id, group_jid, group_subject, goodbye, state,
		created_at, updated_at, expires_at, confirmed_by, confirmed_at) VALUES (?, 'T1', 'C1', 'U0REQ1', ?, 'Old team', ?, ?, ?, ?, ?, ?, ?)`)
	_, err = db.Exec(insert, pending, testGroup, "Bye from before", "pending", now, now, now+int64(time.Hour/time.Millisecond), "", 0)
	require.NoError(t, err)
	_, err = db.Exec(insert, confirmed, testGroup, "", "confirmed", now, now, now+int64(time.Hour/time.Millisecond), "U0CNF2", now)
	require.NoError(t, err)
	_, err = db.Exec(rebind(`INSERT INTO directory (jid, subject, last_seen) VALUES (?, 'Old team', ?)`), testGroup, now)
	require.NoError(t, err)

	jobs, err := river.NewClient(driver, &river.Config{})
	require.NoError(t, err)
	tx, err := db.BeginTx(ctx, nil)
	require.NoError(t, err)
	_, err = jobs.InsertTx(ctx, tx, oldLeaveArgs{RequestID: confirmed}, &river.InsertOpts{MaxAttempts: 25})
	require.NoError(t, err)
	require.NoError(t, tx.Commit())
	return pending, confirmed
}

// TestE2E_UpgradeCarriesRequestsThrough starts this version on a
// database made by the one before several numbers: the confirmed
// request's leave runs, the pending one can be confirmed and runs too,
// and both belong to the number default.
func TestE2E_UpgradeCarriesRequestsThrough(t *testing.T) {
	storetest.Each(t, func(t *testing.T, dsn string) {
		pending, confirmed := oldDatabase(t, dsn)
		sl, gw := fake.NewSlack(t), fake.NewProvider(t, "greenapi")
		a := startApp(t, sl, gw, baseEnvOn(t, sl, gw, dsn))
		db := openSQL(t, dsn)
		state := func(id string) string {
			s := queryStrings(t, db, rebindFor(dsn, `SELECT state FROM requests WHERE id = ?`), id)
			require.Len(t, s, 1)
			return s[0]
		}

		eventually(t, 10*time.Second, func() bool { return state(confirmed) == "done" }, "the confirmed request did not complete: %s", dumpJobs(t, dsn))
		var ts string
		eventually(t, 10*time.Second, func() bool {
			for _, c := range sl.Cards() {
				if strings.Contains(c.Form.Get("blocks"), pending) {
					ts = c.TS
				}
			}
			return ts != ""
		}, "the pending request's card was not posted")
		status, _ := a.click("U0CNF2", "C1", "leave_confirm", pending, ts)
		require.Equal(t, 200, status)
		eventually(t, 10*time.Second, func() bool { return state(pending) == "done" }, "the pending request did not complete: %s", dumpJobs(t, dsn))

		require.Equal(t, []string{"default", "default"}, queryStrings(t, db, `SELECT number FROM requests ORDER BY id`))
		require.Len(t, gw.Calls("leave"), 2)
		require.Contains(t, gw.Calls("send")[0].Body, "Bye from before")
		for _, c := range sl.Cards() {
			require.NotContains(t, c.Form.Get("blocks"), "WhatsApp number", "one number is not named")
		}
	})
}

// rebindFor writes q's ? placeholders as dsn's database takes them.
func rebindFor(dsn, q string) string {
	if strings.HasPrefix(dsn, "sqlite:") {
		return q
	}
	for i := 1; strings.Contains(q, "?"); i++ {
		q = strings.Replace(q, "?", "$"+string(rune('0'+i)), 1)
	}
	return q
}
