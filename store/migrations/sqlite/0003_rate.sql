-- Token buckets for the WhatsApp gateway's rate limits, shared by every
-- process using the database (see store.DB.WaitRate). One row per limited
-- call kind; tokens as of at (unix milliseconds).
CREATE TABLE rate_buckets (
	key    TEXT PRIMARY KEY,
	tokens DOUBLE PRECISION NOT NULL,
	at     BIGINT NOT NULL
);
