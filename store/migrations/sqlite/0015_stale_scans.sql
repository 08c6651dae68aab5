-- Stale-group scans (/wa-leave bulk --stale <age>): one row per scan,
-- and one row per candidate group with what the gateway said of its
-- last activity. A scan checks its groups one by one at the gateway's
-- rate and records each answer as it comes, so a restart resumes at
-- the first group not yet checked. Its id is also the id of the bulk
-- request it ends in, and its Slack message (the progress) becomes
-- that request's card.
CREATE TABLE stale_scans (
	id            TEXT PRIMARY KEY,
	team_id       TEXT NOT NULL DEFAULT '',
	channel_id    TEXT NOT NULL,
	requester_id  TEXT NOT NULL,
	user_name     TEXT NOT NULL DEFAULT '',
	response_url  TEXT NOT NULL DEFAULT '',
	-- The command as typed: the bulk request is recorded from it at the
	-- end, with the same goodbye, time and number.
	command       TEXT NOT NULL DEFAULT '',
	number        TEXT NOT NULL DEFAULT 'default',
	filter        TEXT NOT NULL DEFAULT '',
	idle_seconds  BIGINT NOT NULL,
	cutoff        BIGINT NOT NULL,
	-- scanning | done | failed
	state         TEXT NOT NULL,
	failure       TEXT NOT NULL DEFAULT '',
	message_ts    TEXT NOT NULL DEFAULT '',
	posting_at    BIGINT NOT NULL DEFAULT 0,
	shown_checked INTEGER NOT NULL DEFAULT -1,
	shown_at      BIGINT NOT NULL DEFAULT 0,
	request_id    TEXT NOT NULL DEFAULT '',
	created_at    BIGINT NOT NULL,
	updated_at    BIGINT NOT NULL
);

CREATE TABLE stale_scan_groups (
	scan_id       TEXT NOT NULL REFERENCES stale_scans (id) ON DELETE CASCADE,
	seq           INTEGER NOT NULL,
	jid           TEXT NOT NULL,
	subject       TEXT NOT NULL DEFAULT '',
	-- '' (not checked yet) | stale | recent | unknown
	result        TEXT NOT NULL DEFAULT '',
	last_activity BIGINT NOT NULL DEFAULT 0,
	detail        TEXT NOT NULL DEFAULT '',
	tries         INTEGER NOT NULL DEFAULT 0,
	checked_at    BIGINT NOT NULL DEFAULT 0,
	PRIMARY KEY (scan_id, seq)
);
