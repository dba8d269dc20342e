-- Team pools: members spend from a shared wallet, each within a monthly cap. `held` is what
-- the member's open holds reserve; `spent` what was charged in `period` (a calendar month,
-- UTC). A hold's check and its reservation of the cap are one statement.
CREATE TABLE members (
    pool TEXT NOT NULL REFERENCES accounts (id),
    member TEXT NOT NULL,
    cap BIGINT NOT NULL CHECK (cap >= 0),
    period TEXT NOT NULL,
    spent BIGINT NOT NULL DEFAULT 0,
    held BIGINT NOT NULL DEFAULT 0 CHECK (held >= 0),
    PRIMARY KEY (pool, member)
);
ALTER TABLE holds ADD COLUMN member TEXT;
