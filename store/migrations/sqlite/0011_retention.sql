-- The requests that ended, by when: the retention job (store.DB.Prune)
-- finds those past WALEAVE_RETENTION without reading the kept history.
-- Only ended requests are indexed (finished_at is 0 until a request
-- ends), so creating a request writes nothing more.
CREATE INDEX requests_finished ON requests (finished_at) WHERE finished_at > 0;
