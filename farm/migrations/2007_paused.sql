-- A paused run's tasks wait as 'paused' (running ones are taken back within a second, their
-- attempt not counted) until it is resumed.
ALTER TABLE farm_tasks DROP CONSTRAINT farm_tasks_state_check;
ALTER TABLE farm_tasks ADD CONSTRAINT farm_tasks_state_check
    CHECK (state IN ('queued', 'leased', 'done', 'failed', 'cancelled', 'paused'));
