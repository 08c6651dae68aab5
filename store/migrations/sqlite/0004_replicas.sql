-- Replicas alive on this database (see ../postgres/0004_replicas.sql).
-- With SQLite only one process uses the file and it requeues jobs left
-- running at start-up instead, so this table stays empty; it exists so
-- that both databases have one schema.
CREATE TABLE replicas (
	id      TEXT PRIMARY KEY,
	seen_at BIGINT NOT NULL
);
