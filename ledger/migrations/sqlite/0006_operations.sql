-- Billing operations (issue 19): payments applied once by event id, the wallet's standing
-- (dunning), what each payment bought (for refunds and disputes), lots frozen by a dispute,
-- the review queue, the billing audit trail, and stored reconciliation reports. The same tables as PostgreSQL's 0002.
ALTER TABLE accounts ADD COLUMN frozen INTEGER NOT NULL DEFAULT 0 CHECK (frozen IN (0, 1));

CREATE TABLE billing_accounts (
    wallet TEXT PRIMARY KEY REFERENCES accounts (id),
    customer TEXT UNIQUE,
    subscription TEXT,
    state TEXT NOT NULL DEFAULT 'active' CHECK (state IN ('active', 'past_due', 'suspended')),
    since_ms BIGINT NOT NULL,
    grace_until_ms BIGINT
);

CREATE TABLE payment_events (
    id TEXT PRIMARY KEY,
    type TEXT NOT NULL,
    wallet TEXT,
    outcome TEXT NOT NULL,
    received_at_ms BIGINT NOT NULL
);

CREATE TABLE payments (
    payment TEXT PRIMARY KEY,
    wallet TEXT NOT NULL REFERENCES accounts (id),
    lot TEXT NOT NULL REFERENCES accounts (id),
    credits BIGINT NOT NULL CHECK (credits > 0),
    paid_minor BIGINT NOT NULL CHECK (paid_minor >= 0),
    currency TEXT NOT NULL,
    refunded_minor BIGINT NOT NULL DEFAULT 0,
    clawed_back BIGINT NOT NULL DEFAULT 0,
    overspent BIGINT NOT NULL DEFAULT 0,
    disputed INTEGER NOT NULL DEFAULT 0,
    created_at_ms BIGINT NOT NULL
);

CREATE TABLE reviews (
    id TEXT PRIMARY KEY,
    wallet TEXT NOT NULL,
    rule TEXT NOT NULL,
    detail TEXT NOT NULL,
    blocks INTEGER NOT NULL CHECK (blocks IN (0, 1)),
    subject TEXT,
    state TEXT NOT NULL CHECK (state IN ('open', 'cleared', 'upheld')),
    created_at_ms BIGINT NOT NULL,
    decided_at_ms BIGINT,
    decided_by TEXT,
    note TEXT
);
CREATE INDEX reviews_by_wallet ON reviews (wallet, state);

CREATE TABLE billing_audit (
    id INTEGER PRIMARY KEY,
    wallet TEXT NOT NULL,
    kind TEXT NOT NULL,
    from_state TEXT,
    to_state TEXT,
    detail TEXT NOT NULL,
    event_id TEXT,
    created_at_ms BIGINT NOT NULL
);
CREATE INDEX billing_audit_by_wallet ON billing_audit (wallet, id);

CREATE TABLE reconciliations (
    id TEXT PRIMARY KEY,
    provider TEXT NOT NULL,
    from_ms BIGINT NOT NULL,
    to_ms BIGINT NOT NULL,
    flagged INTEGER NOT NULL CHECK (flagged IN (0, 1)),
    report TEXT NOT NULL,
    created_at_ms BIGINT NOT NULL
);
CREATE INDEX reconciliations_by_provider ON reconciliations (provider, created_at_ms);

-- Admissions checked by the fraud rules: each run's most, and the prompts it sent (an
-- exact hash and a 64-bit SimHash, for near duplicates).
CREATE TABLE admissions (
    wallet TEXT NOT NULL,
    at_ms BIGINT NOT NULL,
    most BIGINT NOT NULL,
    prompt_hash TEXT,
    simhash BIGINT
);
CREATE INDEX admissions_by_wallet ON admissions (wallet, at_ms);

-- Usage analytics: one row per placed node of a billed run, local or cloud: what it cost,
-- what a local node would have cost in the cloud, and its carbon (milligrams CO2eq).
CREATE TABLE usage_records (
    run_id TEXT NOT NULL,
    node_id TEXT NOT NULL,
    wallet TEXT NOT NULL,
    member TEXT,
    node_type TEXT NOT NULL,
    provider TEXT NOT NULL,
    model TEXT NOT NULL,
    local INTEGER NOT NULL CHECK (local IN (0, 1)),
    failed INTEGER NOT NULL CHECK (failed IN (0, 1)),
    credits BIGINT NOT NULL,
    cloud_equiv BIGINT NOT NULL,
    mg_co2eq BIGINT NOT NULL,
    day TEXT NOT NULL,
    at_ms BIGINT NOT NULL,
    PRIMARY KEY (run_id, node_id)
);
CREATE INDEX usage_by_wallet_day ON usage_records (wallet, day);

-- Usage alerts: a tenant's endpoint (its URL, the secret that signs deliveries, the
-- thresholds in percent), the thresholds each wallet or member has crossed, and the outbox
-- of deliveries, retried until delivered.
CREATE TABLE alert_endpoints (
    prefix TEXT PRIMARY KEY,
    url TEXT NOT NULL,
    secret TEXT NOT NULL,
    thresholds TEXT NOT NULL,
    created_at_ms BIGINT NOT NULL
);
CREATE TABLE alert_marks (
    wallet TEXT NOT NULL,
    subject TEXT NOT NULL,
    threshold BIGINT NOT NULL,
    at_ms BIGINT NOT NULL,
    PRIMARY KEY (wallet, subject, threshold)
);
CREATE TABLE alert_outbox (
    id TEXT PRIMARY KEY,
    prefix TEXT NOT NULL,
    wallet TEXT NOT NULL,
    event TEXT NOT NULL,
    payload TEXT NOT NULL,
    state TEXT NOT NULL CHECK (state IN ('pending', 'delivered', 'failed')),
    attempts BIGINT NOT NULL DEFAULT 0,
    next_at_ms BIGINT NOT NULL,
    last_error TEXT,
    created_at_ms BIGINT NOT NULL,
    delivered_at_ms BIGINT
);
CREATE INDEX alert_outbox_due ON alert_outbox (state, next_at_ms);
CREATE INDEX alert_outbox_by_prefix ON alert_outbox (prefix, created_at_ms);

-- The payment method behind each payment (a card's fingerprint, else the method's id), for
-- top-up velocity per payment method.
CREATE TABLE payment_methods (
    payment TEXT PRIMARY KEY,
    method TEXT NOT NULL,
    at_ms BIGINT NOT NULL
);
CREATE INDEX payment_methods_by_method ON payment_methods (method, at_ms);

-- Monthly budgets that alerts measure a wallet's spend against (credits).
CREATE TABLE alert_budgets (
    wallet TEXT PRIMARY KEY,
    monthly BIGINT NOT NULL CHECK (monthly > 0)
);
