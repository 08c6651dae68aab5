-- PostgreSQL twin of ../sqlite/0007_outbox_owner_index.sql.
CREATE INDEX requests_outbox_owner ON requests (outbox_owner) WHERE outbox_lease > 0;
