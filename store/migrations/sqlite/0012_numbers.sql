-- Several WhatsApp numbers in one bot: each request names the number
-- that leaves, and each number has its own group directory. Rows from
-- before belong to the one number there was, named default (what the
-- single-number configuration is called).
ALTER TABLE requests ADD COLUMN number TEXT NOT NULL DEFAULT 'default';

-- SQLite cannot change a primary key in place: the directory is copied
-- into a table keyed by number and group.
CREATE TABLE directory_numbers (
	number    TEXT NOT NULL DEFAULT 'default',
	jid       TEXT NOT NULL,
	subject   TEXT NOT NULL DEFAULT '',
	last_seen BIGINT NOT NULL,
	PRIMARY KEY (number, jid)
);
INSERT INTO directory_numbers (number, jid, subject, last_seen) SELECT 'default', jid, subject, last_seen FROM directory;
DROP TABLE directory;
ALTER TABLE directory_numbers RENAME TO directory;
-- Which numbers are in a group (the group's number when --from is not given).
CREATE INDEX directory_jid ON directory (jid);
