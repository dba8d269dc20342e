-- The files a farm run wrote, by name, with their content's hash in the artifact store;
-- recorded in the transaction that completes the task that wrote them.
CREATE TABLE farm_outputs (
    run_id TEXT NOT NULL,
    name TEXT NOT NULL,
    item TEXT,
    hash TEXT NOT NULL,
    bytes BIGINT NOT NULL,
    PRIMARY KEY (run_id, name)
);
