-- The requests that ended, by state and when: the retention job
-- (store.DB.Prune) finds those past WALEAVE_RETENTION without reading
-- the kept history, and the digest the failures since the last one
-- without reading every request that ended in the week. Only ended
-- requests are indexed (finished_at is 0 until a request ends), so
-- creating a request writes nothing more.
CREATE INDEX requests_finished ON requests (state, finished_at) WHERE finished_at > 0;
-- /wa-leave status (the caller's requests, a group's history) and the
-- recent requests a status by name looks through, newest first. Without
-- them each read every request: 25 ms, 24 ms and 338 ms on SQLite with a
-- history of 100,000 (BenchmarkHistory), growing with the history. Each
-- costs every new request one more index entry.
CREATE INDEX requests_requester ON requests (requester_id, created_at);
CREATE INDEX requests_group ON requests (group_jid, created_at);
CREATE INDEX requests_created ON requests (created_at);
