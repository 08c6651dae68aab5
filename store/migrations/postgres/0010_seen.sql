-- PostgreSQL twin of ../sqlite/0010_seen.sql.

-- Deliveries already handled: a signed command or a Socket Mode envelope
-- seen again within its window (a replay, or Slack redelivering) is
-- acknowledged and ignored. key is a hash of the signature or envelope
-- ID; rows past expires_at (unix milliseconds) are pruned by the sweep,
-- which scans the table: it holds only the last few minutes' commands.
CREATE TABLE seen_deliveries (
	key        TEXT PRIMARY KEY,
	expires_at BIGINT NOT NULL
);
