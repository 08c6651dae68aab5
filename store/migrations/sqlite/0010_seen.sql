-- Deliveries already handled: a signed command or a Socket Mode envelope
-- seen again within its window (a replay, or Slack redelivering) is
-- acknowledged and ignored. key is a hash of the signature or envelope
-- ID; rows past expires_at (unix milliseconds) are pruned by the sweep,
-- which scans the table: it holds only the last few minutes' commands.
-- Without a rowid the key is the table's only B-tree, so each command's
-- row costs one insert, not three.
CREATE TABLE seen_deliveries (
	key        TEXT PRIMARY KEY,
	expires_at BIGINT NOT NULL
) WITHOUT ROWID;
