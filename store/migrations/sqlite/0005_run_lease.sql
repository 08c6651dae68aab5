-- A leave run's claim on its request, until this time (unix ms; 0: none),
-- so that two runs of one leave job never work at once: a run that finds
-- another's claim unexpired waits for it (see store.DB.Start).
ALTER TABLE requests ADD COLUMN run_until BIGINT NOT NULL DEFAULT 0;
