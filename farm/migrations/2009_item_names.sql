-- A run's frame names (a JSON array, one per file), when the submitter gave them; else the
-- names come from the files' stems.
ALTER TABLE farm_runs ADD COLUMN names TEXT;
