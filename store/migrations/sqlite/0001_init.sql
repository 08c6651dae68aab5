-- Requests: one row per /wa-leave request, and the outbox for its Slack
-- messages (card_version > card_posted_version means the card needs
-- posting or updating; reply_needed means the outcome reply is owed).
CREATE TABLE requests (
	id                  TEXT PRIMARY KEY,
	team_id             TEXT NOT NULL DEFAULT '',
	channel_id          TEXT NOT NULL,
	requester_id        TEXT NOT NULL,
	response_url        TEXT NOT NULL DEFAULT '',
	group_jid           TEXT NOT NULL,
	group_subject       TEXT NOT NULL DEFAULT '',
	invite_code         TEXT NOT NULL DEFAULT '',
	goodbye             TEXT NOT NULL DEFAULT '',
	state               TEXT NOT NULL,
	created_at          BIGINT NOT NULL,
	updated_at          BIGINT NOT NULL,
	expires_at          BIGINT NOT NULL,
	run_at              BIGINT NOT NULL DEFAULT 0,
	tz                  TEXT NOT NULL DEFAULT '',
	confirmed_by        TEXT NOT NULL DEFAULT '',
	confirmed_at        BIGINT NOT NULL DEFAULT 0,
	cancelled_by        TEXT NOT NULL DEFAULT '',
	attempts            INTEGER NOT NULL DEFAULT 0,
	progress            TEXT NOT NULL DEFAULT '',
	goodbye_state       TEXT NOT NULL DEFAULT '',
	goodbye_id          TEXT NOT NULL DEFAULT '',
	leave_unknown       INTEGER NOT NULL DEFAULT 0,
	outcome             TEXT NOT NULL DEFAULT '',
	outcome_detail      TEXT NOT NULL DEFAULT '',
	was_admin           INTEGER NOT NULL DEFAULT 0,
	finished_at         BIGINT NOT NULL DEFAULT 0,
	details_state       TEXT NOT NULL DEFAULT '',
	group_size          INTEGER NOT NULL DEFAULT 0,
	is_admin            INTEGER NOT NULL DEFAULT 0,
	only_admin          INTEGER NOT NULL DEFAULT 0,
	successor           TEXT NOT NULL DEFAULT '',
	invite_link         TEXT NOT NULL DEFAULT '',
	reminded_at         BIGINT NOT NULL DEFAULT 0,
	ops_reminded_at     BIGINT NOT NULL DEFAULT 0,
	card_ts             TEXT NOT NULL DEFAULT '',
	card_version        INTEGER NOT NULL DEFAULT 1,
	card_posted_version INTEGER NOT NULL DEFAULT 0,
	reply_needed        INTEGER NOT NULL DEFAULT 0,
	reply_ts            TEXT NOT NULL DEFAULT '',
	outbox_lease        BIGINT NOT NULL DEFAULT 0
);

-- The outbox scan reads only rows that owe Slack something.
CREATE INDEX requests_outbox ON requests (updated_at)
	WHERE card_version > card_posted_version OR reply_needed = 1;
-- Few indexes: every one is written by each new request, the hot path.
-- Status lookups by requester or group are rare and scan.
CREATE INDEX requests_state ON requests (state, created_at);

-- Audit: every step of every request after its creation (who, what,
-- when, gateway status); the request row itself records who asked when,
-- and Audit() lists that first.
CREATE TABLE audit (
	id             INTEGER PRIMARY KEY,
	request_id     TEXT NOT NULL REFERENCES requests (id),
	at             BIGINT NOT NULL,
	actor          TEXT NOT NULL,
	action         TEXT NOT NULL,
	detail         TEXT NOT NULL DEFAULT '',
	gateway_status INTEGER NOT NULL DEFAULT 0
);
CREATE INDEX audit_request ON audit (request_id, id);

-- Small named values the bot keeps between runs (e.g. the last digest).
CREATE TABLE meta (
	key   TEXT PRIMARY KEY,
	value TEXT NOT NULL
);
