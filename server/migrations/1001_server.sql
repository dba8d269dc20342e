-- The server's tables, beside the ledger's; one SQL text for SQLite and PostgreSQL. Versions
-- start at 1001, so one PostgreSQL database can hold both migration sets.
-- A tenant's admin may pause its own runs' dispatch; nobody pauses another tenant's.
CREATE TABLE tenants (
    id TEXT PRIMARY KEY,
    paused BIGINT NOT NULL DEFAULT 0,
    created_at_ms BIGINT NOT NULL
);

-- API keys: only a hash of the secret is kept; the id is the public half of the token.
CREATE TABLE api_keys (
    id TEXT PRIMARY KEY,
    tenant TEXT NOT NULL REFERENCES tenants (id),
    secret_hash TEXT NOT NULL,
    role TEXT NOT NULL,
    created_at_ms BIGINT NOT NULL,
    expires_at_ms BIGINT,
    revoked_at_ms BIGINT
);

-- The queue and the history in one table: a run is queued, running, then succeeded,
-- failed or cancelled. `request_hash` tells an idempotent replay from a reuse of its key.
CREATE TABLE runs (
    id TEXT PRIMARY KEY,
    tenant TEXT NOT NULL REFERENCES tenants (id),
    state TEXT NOT NULL,
    tier BIGINT NOT NULL DEFAULT 0,
    priority BIGINT NOT NULL DEFAULT 0,
    account TEXT,
    member TEXT,
    budget BIGINT,
    policy TEXT NOT NULL,
    workflow TEXT NOT NULL,
    overrides TEXT NOT NULL,
    idempotency_key TEXT,
    request_hash TEXT NOT NULL,
    quote_min BIGINT NOT NULL,
    quote_max BIGINT NOT NULL,
    submitted_at_ms BIGINT NOT NULL,
    started_at_ms BIGINT,
    finished_at_ms BIGINT,
    attempts BIGINT NOT NULL DEFAULT 0,
    cancel_requested BIGINT NOT NULL DEFAULT 0,
    summary TEXT,
    error TEXT,
    -- Fair share: the run's turn within its lane (tenant and account). Within a tier and
    -- priority, runs go by turn, so a 10,000-frame batch takes turns with everyone else.
    turn BIGINT NOT NULL DEFAULT 0,
    UNIQUE (tenant, idempotency_key)
);

-- Each lane's last turn given. A lane idle for a while starts at the lowest turn still
-- waiting, so it neither jumps the queue nor goes to the back of it.
CREATE TABLE lanes (
    tenant TEXT NOT NULL,
    account TEXT NOT NULL,
    last_turn BIGINT NOT NULL,
    PRIMARY KEY (tenant, account)
);
-- In the dispatch order, so taking the next run reads one index entry however long the queue.
CREATE INDEX runs_queue ON runs (state, tier DESC, priority DESC, turn, submitted_at_ms, id);
CREATE INDEX runs_turn ON runs (state, turn);
CREATE INDEX runs_by_tenant ON runs (tenant, id);
