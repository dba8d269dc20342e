-- A member's key spends as that member, within their cap, whatever a request says.
ALTER TABLE api_keys ADD COLUMN member TEXT;

-- Lanes: `standard`; `economy` (a node on the economy route: runs on spare capacity, for the
-- route's discount); `off-peak` (waits in state `scheduled` until `not_before_ms`, the start
-- of the catalog's off-peak window, and is priced at that time, `price_at_s`). `routes` are
-- the routes the placement may use (comma-separated), so a re-queued run is placed the same.
ALTER TABLE runs ADD COLUMN lane TEXT NOT NULL DEFAULT 'standard';
ALTER TABLE runs ADD COLUMN not_before_ms BIGINT;
ALTER TABLE runs ADD COLUMN price_at_s BIGINT;
ALTER TABLE runs ADD COLUMN routes TEXT NOT NULL DEFAULT '';

-- Taking the next run of a lane reads one index entry; overdue economy runs by age; due
-- scheduled runs by time.
DROP INDEX runs_queue;
CREATE INDEX runs_queue ON runs (state, lane, tier DESC, priority DESC, turn, submitted_at_ms, id);
CREATE INDEX runs_lane_age ON runs (state, lane, submitted_at_ms);
CREATE INDEX runs_due ON runs (state, not_before_ms);
