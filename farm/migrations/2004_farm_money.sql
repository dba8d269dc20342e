-- Money in the farm. A billed run names its wallet (and team member), the most one batch
-- item may cost (from the quote at submit) and what is left of its budget. A task's
-- reservation (a ledger hold its paid calls carve from) is taken in the transaction that
-- dispatches it and closed in the one that records its end; `hold_id` names it meanwhile.
ALTER TABLE farm_runs ADD COLUMN account TEXT;
ALTER TABLE farm_runs ADD COLUMN member TEXT;
ALTER TABLE farm_runs ADD COLUMN item_most BIGINT NOT NULL DEFAULT 0;
ALTER TABLE farm_runs ADD COLUMN budget_left BIGINT;
ALTER TABLE farm_runs ADD COLUMN policy TEXT NOT NULL DEFAULT '';
ALTER TABLE farm_runs ADD COLUMN price_at_s BIGINT;
ALTER TABLE farm_runs ADD CONSTRAINT farm_runs_item_most CHECK (item_most >= 0);
ALTER TABLE farm_tasks ADD COLUMN hold_id TEXT;
