-- PostgreSQL twin of ../sqlite/0002_directory.sql.

-- The group directory: the instance's groups as the gateway last listed
-- them, so a /wa-leave by name is answered from the database instead of
-- a gateway call inside Slack's three seconds.
CREATE TABLE directory (
	jid       TEXT PRIMARY KEY,
	subject   TEXT NOT NULL DEFAULT '',
	last_seen BIGINT NOT NULL
);

-- An ambiguous /wa-leave waiting for its author to pick a group: the
-- parsed command (goodbye and flags) kept until a candidate's button is
-- clicked. One per user and channel; a newer ambiguous command replaces it.
CREATE TABLE group_picks (
	user_id    TEXT NOT NULL,
	channel_id TEXT NOT NULL,
	command    TEXT NOT NULL,
	candidates TEXT NOT NULL,
	created_at BIGINT NOT NULL,
	PRIMARY KEY (user_id, channel_id)
);

-- The participants offered as successor when the instance is the only
-- admin (a JSON array of JIDs), and when the chosen one was made admin,
-- so a retried leave does not promote twice.
ALTER TABLE requests ADD COLUMN successors TEXT NOT NULL DEFAULT '';
ALTER TABLE requests ADD COLUMN promoted_at BIGINT NOT NULL DEFAULT 0;
