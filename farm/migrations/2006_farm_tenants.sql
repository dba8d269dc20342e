-- Runs submitted through a server belong to its tenant; every server query names it.
ALTER TABLE farm_runs ADD COLUMN tenant TEXT;
CREATE INDEX farm_runs_tenant ON farm_runs (tenant, id);
