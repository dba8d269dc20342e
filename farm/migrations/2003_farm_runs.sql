-- What a farm run executes: the workflow's text, the batch's files (a JSON array) and the param each binds,
-- and the shared folders its inputs and outputs live in (the NFS mount farms use). A worker
-- rebuilds a task's items from this row and the task's [item_from, item_to).
CREATE TABLE farm_runs (
    id TEXT PRIMARY KEY,
    workflow TEXT NOT NULL,
    input_root TEXT NOT NULL,
    out_dir TEXT NOT NULL,
    bind TEXT NOT NULL,
    files TEXT NOT NULL,
    overrides TEXT NOT NULL,
    created_at_ms BIGINT NOT NULL
);
