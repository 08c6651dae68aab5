-- PostgreSQL twin of ../sqlite/0012_numbers.sql.

-- Several WhatsApp numbers in one bot: each request names the number
-- that leaves, and each number has its own group directory. Rows from
-- before belong to the one number there was, named default (what the
-- single-number configuration is called).
ALTER TABLE requests ADD COLUMN number TEXT NOT NULL DEFAULT 'default';

ALTER TABLE directory ADD COLUMN number TEXT NOT NULL DEFAULT 'default';
ALTER TABLE directory DROP CONSTRAINT directory_pkey;
ALTER TABLE directory ADD PRIMARY KEY (number, jid);
-- Which numbers are in a group (the group's number when --from is not given).
CREATE INDEX directory_jid ON directory (jid);
