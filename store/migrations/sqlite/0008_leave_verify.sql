-- leave_state is "calling" while a leave call is under way: it is set
-- before the call and cleared when its answer is recorded, so a run that
-- finds it set knows the last call's answer was lost (a crash) and must
-- verify what follows rather than guess. verification is what the group
-- lookup after a leave found: "verified", "unverified" or "" (none made).
ALTER TABLE requests ADD COLUMN leave_state TEXT NOT NULL DEFAULT '';
ALTER TABLE requests ADD COLUMN verification TEXT NOT NULL DEFAULT '';
