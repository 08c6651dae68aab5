-- PostgreSQL twin of ../sqlite/0009_posts_under_way.sql.
ALTER TABLE requests ADD COLUMN card_posting BIGINT NOT NULL DEFAULT 0;
ALTER TABLE requests ADD COLUMN reply_posting BIGINT NOT NULL DEFAULT 0;
