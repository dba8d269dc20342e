-- ComfyUI's API (issue 17). A prompt posted to `/prompt` is a run; this keeps what ComfyUI's
-- clients read back: the prompt's id (theirs or the run's), its number, the client that
-- posted it, the prompt as posted, and which ComfyUI node each Switchyard node came from.
-- It is written just before its run, so a socket never sees a run it cannot name; a row
-- whose run was never made is never read (every read joins `runs`).
CREATE TABLE comfy_prompts (
    run TEXT PRIMARY KEY,
    tenant TEXT NOT NULL REFERENCES tenants (id),
    prompt_id TEXT NOT NULL,
    number BIGINT NOT NULL,
    client_id TEXT,
    prompt TEXT NOT NULL,
    extra_data TEXT NOT NULL,
    origin TEXT NOT NULL,
    -- Cleared from the history by `POST /history {clear | delete}` (the run stays).
    hidden BIGINT NOT NULL DEFAULT 0,
    UNIQUE (tenant, prompt_id)
);
CREATE INDEX comfy_prompts_by_tenant ON comfy_prompts (tenant, number);

-- ComfyUI's user data (`/userdata`, `/v2/userdata`, `/settings`): the frontend's saved
-- workflows and settings, as UTF-8 text, per tenant.
CREATE TABLE comfy_userdata (
    tenant TEXT NOT NULL REFERENCES tenants (id),
    path TEXT NOT NULL,
    body TEXT NOT NULL,
    modified_ms BIGINT NOT NULL,
    PRIMARY KEY (tenant, path)
);
