-- PostgreSQL twin of ../sqlite/0006_outbox_owner.sql.
ALTER TABLE requests ADD COLUMN outbox_owner TEXT NOT NULL DEFAULT '';
