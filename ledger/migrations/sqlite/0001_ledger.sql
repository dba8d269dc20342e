-- The ledger: accounts with balances kept in the same transaction as each transfer, immutable
-- transfers (double entry: every row moves `amount` from `debit` to `credit`), two-phase holds
-- and the legs that tie a hold to the grant lots it reserves, and idempotency records.
-- Portable SQL: the same statements run on PostgreSQL.

CREATE TABLE accounts (
    id TEXT PRIMARY KEY,
    kind TEXT NOT NULL,
    owner TEXT,
    source TEXT,
    priority INTEGER NOT NULL DEFAULT 0,
    expires_at_ms BIGINT,
    allow_negative INTEGER NOT NULL DEFAULT 0,
    posted_debits BIGINT NOT NULL DEFAULT 0,
    posted_credits BIGINT NOT NULL DEFAULT 0,
    pending_debits BIGINT NOT NULL DEFAULT 0,
    created_at_ms BIGINT NOT NULL,
    CHECK (allow_negative = 1 OR posted_credits - posted_debits - pending_debits >= 0)
);
CREATE INDEX accounts_by_owner ON accounts (owner, priority, expires_at_ms);

CREATE TABLE transfers (
    id INTEGER PRIMARY KEY,
    debit TEXT NOT NULL REFERENCES accounts (id),
    credit TEXT NOT NULL REFERENCES accounts (id),
    amount BIGINT NOT NULL CHECK (amount > 0),
    reason TEXT NOT NULL,
    hold_id TEXT,
    run_id TEXT,
    node_id TEXT,
    provider TEXT,
    vendor_id TEXT,
    idempotency_key TEXT,
    created_at_ms BIGINT NOT NULL
);
CREATE INDEX transfers_by_debit ON transfers (debit);
CREATE INDEX transfers_by_credit ON transfers (credit);

CREATE TABLE holds (
    id TEXT PRIMARY KEY,
    wallet TEXT NOT NULL REFERENCES accounts (id),
    amount BIGINT NOT NULL CHECK (amount > 0),
    state TEXT NOT NULL,
    timeout_at_ms BIGINT NOT NULL,
    run_id TEXT,
    node_id TEXT,
    provider TEXT,
    vendor_id TEXT,
    posted BIGINT NOT NULL DEFAULT 0,
    created_at_ms BIGINT NOT NULL,
    settled_at_ms BIGINT
);
CREATE INDEX holds_by_state ON holds (state, timeout_at_ms);

CREATE TABLE hold_legs (
    hold_id TEXT NOT NULL REFERENCES holds (id),
    seq INTEGER NOT NULL,
    lot TEXT NOT NULL REFERENCES accounts (id),
    amount BIGINT NOT NULL CHECK (amount > 0),
    PRIMARY KEY (hold_id, seq)
);

CREATE TABLE idempotency (
    key TEXT PRIMARY KEY,
    request_hash TEXT NOT NULL,
    ok INTEGER NOT NULL,
    result TEXT NOT NULL,
    created_at_ms BIGINT NOT NULL
);
