-- Workers that failed a task: its retry goes to another live worker while there is one,
-- so one broken machine cannot spend all of a task's attempts.
ALTER TABLE farm_tasks ADD COLUMN failed_by TEXT[] NOT NULL DEFAULT '{}';
