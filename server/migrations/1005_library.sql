-- The team library (issue 18): workflows in folders, each a history of immutable revisions,
-- and templates released from revisions. A revision's hash is its content address (the
-- canonical file's blake3); restoring an old revision makes a new revision of the same
-- hash, so revisions are keyed by their place in the history.
CREATE TABLE library_workflows (
    tenant TEXT NOT NULL REFERENCES tenants (id),
    id TEXT NOT NULL,
    path TEXT NOT NULL,
    head TEXT NOT NULL,
    head_seq BIGINT NOT NULL,
    created_at_ms BIGINT NOT NULL,
    updated_at_ms BIGINT NOT NULL,
    updated_by TEXT NOT NULL,
    deleted_at_ms BIGINT,
    PRIMARY KEY (tenant, id)
);
-- A path names one live workflow; deleted ones keep theirs until restored.
CREATE UNIQUE INDEX library_live_paths ON library_workflows (tenant, path) WHERE deleted_at_ms IS NULL;

CREATE TABLE library_revisions (
    tenant TEXT NOT NULL,
    workflow TEXT NOT NULL,
    seq BIGINT NOT NULL,
    hash TEXT NOT NULL,
    -- JSON array of parent hashes.
    parents TEXT NOT NULL,
    author TEXT NOT NULL,
    message TEXT NOT NULL,
    layout_only BIGINT NOT NULL,
    created_at_ms BIGINT NOT NULL,
    body TEXT NOT NULL,
    PRIMARY KEY (tenant, workflow, seq),
    FOREIGN KEY (tenant, workflow) REFERENCES library_workflows (tenant, id)
);
CREATE INDEX library_revisions_by_hash ON library_revisions (tenant, workflow, hash);

CREATE TABLE library_templates (
    tenant TEXT NOT NULL REFERENCES tenants (id),
    name TEXT NOT NULL,
    version BIGINT NOT NULL,
    workflow TEXT NOT NULL,
    revision TEXT NOT NULL,
    description TEXT NOT NULL,
    -- A PNG, base64.
    preview TEXT,
    -- JSON: the exposed params, and what a machine needs.
    exposed TEXT NOT NULL,
    needs TEXT NOT NULL,
    state TEXT NOT NULL,
    published_by TEXT NOT NULL,
    published_at_ms BIGINT NOT NULL,
    PRIMARY KEY (tenant, name, version)
);

-- A run of a template keeps which one and the exact revision that ran.
ALTER TABLE runs ADD COLUMN template TEXT;
ALTER TABLE runs ADD COLUMN revision TEXT;
