-- Who holds a request's outbox lease (a River client ID), so that the
-- leases of a replica whose heartbeat stopped are given back at once
-- rather than when they run out (see store.DB.ReclaimFromDead).
ALTER TABLE requests ADD COLUMN outbox_owner TEXT NOT NULL DEFAULT '';
