-- When the post of a request's card, or of its outcome reply, began and
-- has not been recorded yet (0: none under way). Slack has no idempotency
-- key, so a post whose answer was lost (a crash, a timeout, a full disk)
-- may be in Slack: the outbox looks for it (by its message metadata)
-- around this time before it posts again, and adopts what it finds.
ALTER TABLE requests ADD COLUMN card_posting BIGINT NOT NULL DEFAULT 0;
ALTER TABLE requests ADD COLUMN reply_posting BIGINT NOT NULL DEFAULT 0;
