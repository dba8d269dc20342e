-- A run's output files, kept by content hash in the output store; `name` is the file's path
-- under the run's output folder.
CREATE TABLE outputs (
    run TEXT NOT NULL REFERENCES runs (id),
    tenant TEXT NOT NULL REFERENCES tenants (id),
    name TEXT NOT NULL,
    hash TEXT NOT NULL,
    bytes BIGINT NOT NULL,
    media_type TEXT NOT NULL,
    PRIMARY KEY (run, name)
);
CREATE INDEX outputs_by_tenant_hash ON outputs (tenant, hash);
