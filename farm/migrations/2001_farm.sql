-- The farm's tasks, beside the ledger's and the server's tables in one PostgreSQL database
-- (versions from 2001). A task is a chunk of a run's batch items that one worker executes
-- whole. A worker holds a lease on it: `lease_token` changes with every claim, so a worker
-- whose lease was lost (it died, or stalled past the lease) can never complete the task.
CREATE TABLE farm_tasks (
    id BIGSERIAL PRIMARY KEY,
    run_id TEXT NOT NULL,
    seq INTEGER NOT NULL,
    -- The run's batch items this task executes: [first, end).
    item_from INTEGER NOT NULL,
    item_to INTEGER NOT NULL,
    state TEXT NOT NULL DEFAULT 'queued',
    priority BIGINT NOT NULL DEFAULT 0,
    attempts INTEGER NOT NULL DEFAULT 0,
    max_attempts INTEGER NOT NULL,
    lease_token TEXT,
    leased_by TEXT,
    lease_expires_at_ms BIGINT,
    last_error TEXT,
    created_at_ms BIGINT NOT NULL,
    finished_at_ms BIGINT,
    UNIQUE (run_id, seq),
    CHECK (state IN ('queued', 'leased', 'done', 'failed', 'cancelled')),
    CHECK (item_from < item_to)
);
-- Claims read the head of this partial index: its size is the waiting tasks, never the
-- history, so dispatch does not slow as finished tasks pile up.
CREATE INDEX farm_tasks_waiting ON farm_tasks (priority DESC, id) WHERE state = 'queued';
-- The reaper reads only live leases, by expiry.
CREATE INDEX farm_tasks_leases ON farm_tasks (lease_expires_at_ms) WHERE state = 'leased';
