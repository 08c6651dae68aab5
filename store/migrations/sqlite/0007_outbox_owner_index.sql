-- The outbox leases a replica holds, found without reading every request:
-- every replica looks for dead replicas' leases at each heartbeat (every
-- 2 s, see store.DB.ReclaimFromDead), and without this index PostgreSQL
-- read the whole table each time (34 ms at 100,000 requests, growing with
-- the history). Only rows with a lease are indexed, a handful at a time.
CREATE INDEX requests_outbox_owner ON requests (outbox_owner) WHERE outbox_lease > 0;
