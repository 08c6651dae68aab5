package storetest

import (
	"context"
	"database/sql"
	"fmt"
	"time"
)

// SeedHistory adds n ended requests (done, failed, cancelled, expired),
// each with three audit rows, ended over the two years before now,
// across 500 requesters (one of them U0BENCH1), 10,000 groups (one of
// them 120363406289005073@g.us) and 100 channels, in a few statements.
//
// db is a pool on the database (store.Jobs.JobPool serves); postgres says
// which dialect it speaks. The bot's benchmarks seed through it too.
func SeedHistory(ctx context.Context, db *sql.DB, postgres bool, n int, now time.Time) error {
	step := int64(2*365*24*time.Hour/time.Millisecond) / int64(max(n, 1))
	base := now.UnixMilli() - int64(n+1)*step - 86400000
	id, from := `'h' || lpad(i::text, 9, '0')`, fmt.Sprintf(`FROM generate_series(1::bigint, %d) AS i`, n)
	with := ""
	if !postgres {
		id, from = `printf('h%09d', i)`, `FROM n`
		with = fmt.Sprintf(`WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < %d) `, n)
	}
	q := fmt.Sprintf(`INSERT INTO requests (id, channel_id, requester_id, group_jid, group_subject, goodbye, state,
		created_at, updated_at, expires_at, finished_at, outcome, confirmed_by, confirmed_at, card_ts, card_version, card_posted_version)
		%[3]s SELECT %[4]s, 'C0H' || (i %% 100), CASE WHEN i %% 500 = 0 THEN 'U0BENCH1' ELSE 'U0H' || (i %% 500) END,
		(120363406289000000 + i %% 10000) || '@g.us', 'Group ' || (i %% 10000), 'bye',
		CASE i %% 10 WHEN 0 THEN 'failed' WHEN 1 THEN 'cancelled' WHEN 2 THEN 'expired' ELSE 'done' END,
		%[1]d + i * %[2]d, %[1]d + i * %[2]d + 60000, %[1]d + i * %[2]d + 86400000, %[1]d + i * %[2]d + 60000,
		'left', 'U0H1', %[1]d + i * %[2]d + 1000, '1700000000.000001', 2, 2 %[5]s`, base, step, with, id, from)
	if _, err := db.ExecContext(ctx, q); err != nil {
		return fmt.Errorf("seed requests: %w", err)
	}
	_, err := db.ExecContext(ctx, `INSERT INTO audit (request_id, at, actor, action, detail, gateway_status)
		SELECT id, created_at + a.d, 'U0H1', a.action, '', 200 FROM requests
		CROSS JOIN (SELECT 1000 AS d, 'confirmed' AS action UNION ALL SELECT 30000, 'goodbye sent' UNION ALL SELECT 60000, 'left') AS a
		WHERE id LIKE 'h%'`)
	if err != nil {
		return fmt.Errorf("seed audit: %w", err)
	}
	// PostgreSQL's autovacuum would analyze a table this size soon; the
	// bot never runs ANALYZE on SQLite, so neither does the seed.
	if postgres {
		_, err = db.ExecContext(ctx, `ANALYZE requests; ANALYZE audit`)
	}
	return err
}
