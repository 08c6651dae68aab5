-- PostgreSQL twin of ../sqlite/0004_replicas.sql.

-- Replicas alive on this database: each writes its River client ID here
-- every few seconds (see store.DB.Heartbeat). A replica that stopped
-- writing died, and the jobs it was running are requeued at once rather
-- than when River's rescuer gets to them (store.DB.ReclaimFromDead).
-- seen_at is the database's clock, in unix milliseconds, so replicas'
-- clocks need not agree.
CREATE TABLE replicas (
	id      TEXT PRIMARY KEY,
	seen_at BIGINT NOT NULL
);
