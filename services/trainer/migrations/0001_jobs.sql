-- Training jobs: one per training request (request_id is unique), whoever asked.
-- status: queued -> running -> succeeded | failed. A running job is held by a lease
-- (lease_token, lease_expires_at) that its worker renews; when the lease runs out the
-- job may be claimed again. Only the holder of the current lease_token can finish it.
CREATE TABLE jobs (
    id                text        PRIMARY KEY,
    request_id        text        NOT NULL UNIQUE,
    model_name        text        NOT NULL,
    reason            text        NOT NULL,
    status            text        NOT NULL DEFAULT 'queued'
                      CHECK (status IN ('queued', 'running', 'succeeded', 'failed')),
    request           jsonb       NOT NULL,
    -- The training.requested event as received: the cause of the job's outcome event.
    request_event     bytea       NOT NULL,
    attempts          integer     NOT NULL DEFAULT 0,
    lease_token       text,
    lease_expires_at  timestamptz,
    progress          text        NOT NULL DEFAULT '',
    progress_fraction double precision NOT NULL DEFAULT 0,
    outcome           jsonb,
    failure_reason    text,
    created_at        timestamptz NOT NULL DEFAULT now(),
    started_at        timestamptz,
    heartbeat_at      timestamptz,
    finished_at       timestamptz
);
CREATE INDEX jobs_unfinished ON jobs (created_at) WHERE status IN ('queued', 'running');
CREATE INDEX jobs_by_model ON jobs (model_name, created_at DESC);
