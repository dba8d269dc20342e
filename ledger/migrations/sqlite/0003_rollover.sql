-- A plan lot's rollover cap: at expiry, up to this much of what is left (summed over the
-- owner's lots expiring together) moves to a new lot for the next month instead of breakage.
ALTER TABLE accounts ADD COLUMN rollover_cap BIGINT NOT NULL DEFAULT 0;
