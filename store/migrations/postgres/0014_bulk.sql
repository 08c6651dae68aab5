-- PostgreSQL twin of ../sqlite/0014_bulk.sql.

-- Bulk requests (SPEC §9): a bulk request is a parent row (kind 'bulk')
-- holding the number, the goodbye, the card and the decision, with one
-- child row per group (parent_id set), each an ordinary request that its
-- own leave job carries out. Rows from before are single requests.
ALTER TABLE requests ADD COLUMN parent_id TEXT NOT NULL DEFAULT '';
ALTER TABLE requests ADD COLUMN kind TEXT NOT NULL DEFAULT 'single';
-- When the card of a bulk request was last updated (or an update began),
-- so that its progress reaches Slack at most once a second, whichever
-- replica posts it.
ALTER TABLE requests ADD COLUMN card_updated_at BIGINT NOT NULL DEFAULT 0;
-- A bulk request's groups. Only children are indexed: an ordinary
-- request, the hot path, writes no entry.
CREATE INDEX requests_parent ON requests (parent_id, state) WHERE parent_id <> '';
