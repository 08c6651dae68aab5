-- PostgreSQL twin of ../sqlite/0005_run_lease.sql.
ALTER TABLE requests ADD COLUMN run_until BIGINT NOT NULL DEFAULT 0;
