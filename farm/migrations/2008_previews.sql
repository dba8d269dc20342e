-- The latest preview of each (run, node, port), which workers put and a server relays to its
-- tenant's event streams: bounded by the run's nodes, never by its frames.
CREATE TABLE farm_previews (
    run_id TEXT NOT NULL,
    node TEXT NOT NULL,
    port TEXT NOT NULL,
    item TEXT,
    width INTEGER NOT NULL,
    height INTEGER NOT NULL,
    source_width INTEGER NOT NULL,
    source_height INTEGER NOT NULL,
    png BYTEA NOT NULL,
    at_ms BIGINT NOT NULL,
    PRIMARY KEY (run_id, node, port)
);
