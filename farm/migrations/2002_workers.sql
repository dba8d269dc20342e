-- Workers and what they offer; tasks' host requirements and kind; the blocklist.
-- A worker registers what `doctor` finds (memory, GPU brands, ONNX execution providers)
-- plus admin tags, and renews `heartbeat_at_ms`; a draining worker takes no new task.
CREATE TABLE farm_workers (
    id TEXT PRIMARY KEY,
    host TEXT NOT NULL,
    slots INTEGER NOT NULL,
    memory_gb DOUBLE PRECISION NOT NULL,
    gpu_brands TEXT[] NOT NULL DEFAULT '{}',
    onnx_providers TEXT[] NOT NULL DEFAULT '{}',
    tags TEXT[] NOT NULL DEFAULT '{}',
    state TEXT NOT NULL DEFAULT 'active',
    heartbeat_at_ms BIGINT NOT NULL,
    registered_at_ms BIGINT NOT NULL,
    CHECK (state IN ('active', 'draining'))
);

-- A task goes only to a worker that meets all of these.
ALTER TABLE farm_tasks ADD COLUMN need_memory_gb DOUBLE PRECISION NOT NULL DEFAULT 0;
ALTER TABLE farm_tasks ADD COLUMN need_gpu_brand TEXT;
ALTER TABLE farm_tasks ADD COLUMN need_tags TEXT[] NOT NULL DEFAULT '{}';
-- What kind of work it is (the blocklist counts failures per kind).
ALTER TABLE farm_tasks ADD COLUMN kind TEXT NOT NULL DEFAULT 'graph';

-- Failures of one kind of task by one worker in one run; at the limit the worker stops
-- getting that kind of task in that run (Flamenco's blocklist), until an admin clears it.
CREATE TABLE farm_blocklist (
    run_id TEXT NOT NULL,
    worker TEXT NOT NULL,
    kind TEXT NOT NULL,
    failures INTEGER NOT NULL DEFAULT 0,
    last_error TEXT,
    PRIMARY KEY (run_id, worker, kind)
);
