-- Desired deployment state, shared by every deployer replica on this database.
-- Replicas converge on it: each loads what it names and serves what it routes.

CREATE SEQUENCE approval_seq;

-- One row per approved model version. ``status``:
--   pending     approved, not yet loaded by any replica
--   active      serving as the stable or candidate version of its route
--   superseded  replaced or promoted over; may be restored by a rollback
--   failed      could not be loaded (deployment.failed was emitted)
--   rolled_back taken out of service by a rollback
--   suspended   kill switch from governance
--   retired     out of service for good
CREATE TABLE versions (
    model_name    text        NOT NULL,
    version       integer     NOT NULL,
    approval_id   text        NOT NULL,  -- the model.approved event that asked for it
    approved_at   timestamptz NOT NULL,  -- its time: older events about this version are stale
    approval_seq  bigint      NOT NULL DEFAULT nextval('approval_seq'),
    artifact      jsonb       NOT NULL,
    strategy      jsonb       NOT NULL,
    redact_fields text[]      NOT NULL DEFAULT '{}',
    status        text        NOT NULL DEFAULT 'pending',
    reason        text,
    updated_at    timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (model_name, version)
);

CREATE INDEX versions_live ON versions (model_name) WHERE status IN ('pending', 'active');

-- One row per model: what answers its traffic.
CREATE TABLE routes (
    model_name        text PRIMARY KEY,
    stable_version    integer,
    previous_version  integer,  -- the stable before: kept loaded so a rollback is instant
    candidate_version integer,
    candidate_mode    text CHECK (candidate_mode IN ('canary', 'shadow')),
    canary_weight     double precision NOT NULL DEFAULT 0,
    sticky_header     text,
    last_seq          bigint NOT NULL DEFAULT 0,  -- approval_seq of the last version activated
    revision          bigint NOT NULL DEFAULT 0,
    updated_at        timestamptz NOT NULL DEFAULT now()
);
