-- Money safety (issue 13).
-- Balances must stay whole credits within range: SQLite turns an overflowing integer sum into
-- a float, after which the accounts no longer sum to zero. The accounts and members tables
-- are rebuilt with checks that refuse that (and any negative running total). Foreign keys
-- are deferred to the commit, as the rebuild briefly drops the parent table.
PRAGMA defer_foreign_keys = ON;

CREATE TABLE accounts_checked (
    id TEXT PRIMARY KEY,
    kind TEXT NOT NULL,
    owner TEXT,
    source TEXT,
    priority INTEGER NOT NULL DEFAULT 0,
    expires_at_ms BIGINT,
    allow_negative INTEGER NOT NULL DEFAULT 0,
    posted_debits BIGINT NOT NULL DEFAULT 0
        CHECK (typeof(posted_debits) = 'integer' AND posted_debits BETWEEN 0 AND 4000000000000000),
    posted_credits BIGINT NOT NULL DEFAULT 0
        CHECK (typeof(posted_credits) = 'integer' AND posted_credits BETWEEN 0 AND 4000000000000000),
    pending_debits BIGINT NOT NULL DEFAULT 0
        CHECK (typeof(pending_debits) = 'integer' AND pending_debits BETWEEN 0 AND 4000000000000000),
    created_at_ms BIGINT NOT NULL,
    plan TEXT,
    tier INTEGER,
    rollover_cap BIGINT NOT NULL DEFAULT 0
        CHECK (typeof(rollover_cap) = 'integer' AND rollover_cap BETWEEN 0 AND 4000000000000000),
    CHECK (allow_negative = 1 OR posted_credits - posted_debits - pending_debits >= 0)
);
INSERT INTO accounts_checked (id, kind, owner, source, priority, expires_at_ms, allow_negative, posted_debits,
    posted_credits, pending_debits, created_at_ms, plan, tier, rollover_cap)
SELECT id, kind, owner, source, priority, expires_at_ms, allow_negative, posted_debits, posted_credits,
    pending_debits, created_at_ms, plan, tier, rollover_cap FROM accounts;
DROP TABLE accounts;
ALTER TABLE accounts_checked RENAME TO accounts;
CREATE INDEX accounts_by_owner ON accounts (owner, priority, expires_at_ms);

CREATE TABLE members_checked (
    pool TEXT NOT NULL REFERENCES accounts (id),
    member TEXT NOT NULL,
    cap BIGINT NOT NULL CHECK (typeof(cap) = 'integer' AND cap BETWEEN 0 AND 4000000000000000),
    period TEXT NOT NULL,
    spent BIGINT NOT NULL DEFAULT 0 CHECK (typeof(spent) = 'integer' AND spent BETWEEN 0 AND 4000000000000000),
    held BIGINT NOT NULL DEFAULT 0 CHECK (typeof(held) = 'integer' AND held BETWEEN 0 AND 4000000000000000),
    PRIMARY KEY (pool, member)
);
INSERT INTO members_checked (pool, member, cap, period, spent, held)
SELECT pool, member, cap, period, spent, held FROM members;
DROP TABLE members;
ALTER TABLE members_checked RENAME TO members;

-- The durable intent of a paid call: set just before the create goes out (sent_at_ms) and
-- as soon as the provider's id is known (vendor_id). Recovery marks a crashed run's sent
-- holds unknown instead of voiding them.
ALTER TABLE holds ADD COLUMN sent_at_ms BIGINT;
-- Why a posted charge needs a person's look (provider figures that were not trusted).
ALTER TABLE holds ADD COLUMN review TEXT;
-- How an operator settled an unknown hold, and on what evidence.
ALTER TABLE holds ADD COLUMN evidence TEXT;
-- A run's reservation that this hold was carved from; node holds draw from it and give
-- back what they do not charge, so a run admitted for its most never runs short.
ALTER TABLE holds ADD COLUMN parent TEXT REFERENCES holds (id);
ALTER TABLE holds ADD COLUMN kind TEXT NOT NULL DEFAULT 'call';
