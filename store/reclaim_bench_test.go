package store_test

import (
	"context"
	"testing"
	"time"

	"github.com/riverqueue/river/riverdriver/riverdatabasesql"
	"github.com/riverqueue/river/rivermigrate"
	"github.com/stretchr/testify/require"

	"github.com/waleave/waleave/store"
	"github.com/waleave/waleave/store/storetest"
)

// BenchmarkReclaimFromDead is one replica's look for dead replicas' work,
// which every replica runs at each heartbeat (every 2 s), on a database
// holding 100,000 finished requests and nobody dead: its cost must not
// grow with the history.
func BenchmarkReclaimFromDead(b *testing.B) {
	db, err := store.Open(context.Background(), storetest.Postgres(b))
	require.NoError(b, err)
	defer db.Close()
	// River's tables, as the bot creates them.
	migrator, err := rivermigrate.New(riverdatabasesql.New(db.Jobs().JobPool()), nil)
	require.NoError(b, err)
	_, err = migrator.Migrate(context.Background(), rivermigrate.DirectionUp, nil)
	require.NoError(b, err)
	_, err = db.Jobs().JobPool().Exec(`INSERT INTO requests (id, team_id, channel_id, requester_id, group_jid, state, created_at, updated_at, expires_at)
		SELECT 'R' || lpad(g::text, 15, '0'), 'T1', 'C1', 'U1', '120363406289005073@g.us', 'done', 0, 0, 0
		FROM generate_series(1, 100000) g`)
	require.NoError(b, err)
	_, err = db.Jobs().JobPool().Exec(`ANALYZE requests`)
	require.NoError(b, err)
	b.ResetTimer()
	for b.Loop() {
		if _, err := db.Jobs().ReclaimFromDead(context.Background(), "leave", 10*time.Second, 17*time.Second); err != nil {
			b.Fatal(err)
		}
	}
}
