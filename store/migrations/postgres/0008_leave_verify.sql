-- PostgreSQL twin of ../sqlite/0008_leave_verify.sql.
ALTER TABLE requests ADD COLUMN leave_state TEXT NOT NULL DEFAULT '';
ALTER TABLE requests ADD COLUMN verification TEXT NOT NULL DEFAULT '';
