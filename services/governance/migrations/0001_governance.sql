-- Governance: the audit log (append-only, hash-chained), the model inventory built from the
-- events governance consumes, and the reviews people decide.

-- One row per audited event. hash chains each model's records (prev_hash); chain_hash
-- chains every record to its global position (seq). See services/governance/audit/.
CREATE TABLE audit_log (
    seq            bigint      PRIMARY KEY,
    model_name     text        NOT NULL,
    model_seq      integer     NOT NULL,
    time           timestamptz NOT NULL,  -- the event's time, never the time of appending
    actor          text        NOT NULL,
    action         text        NOT NULL,
    version        integer,
    event_id       text        NOT NULL UNIQUE,
    event_type     text        NOT NULL,
    correlation_id text,
    payload_sha256 text        NOT NULL,
    summary        text        NOT NULL,  -- canonical JSON, exactly as hashed
    prev_hash      text        NOT NULL,
    hash           text        NOT NULL,
    chain_hash     text        NOT NULL,
    appended_at    timestamptz NOT NULL DEFAULT now(),
    UNIQUE (model_name, model_seq)
);
CREATE INDEX audit_log_time ON audit_log (time);

-- The head of the global chain; locking this row serialises appends.
CREATE TABLE audit_head (
    only_row   boolean PRIMARY KEY DEFAULT true CHECK (only_row),
    seq        bigint  NOT NULL,
    chain_hash text    NOT NULL
);
INSERT INTO audit_head (seq, chain_hash) VALUES (0, repeat('0', 64));

-- HMAC-SHA256 signatures of (seq, chain_hash), with a key that is not in the database.
CREATE TABLE audit_checkpoints (
    seq        bigint      PRIMARY KEY,
    chain_hash text        NOT NULL,
    signature  text        NOT NULL,
    created_at timestamptz NOT NULL DEFAULT now()
);

-- Append-only by construction, not only by convention. Someone with the rights to drop
-- these triggers can still rewrite rows; the chains and the signed checkpoints show it.
CREATE FUNCTION refuse_audit_change() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    RAISE EXCEPTION 'the audit log is append-only (% on %)', TG_OP, TG_TABLE_NAME;
END $$;
CREATE TRIGGER audit_log_append_only BEFORE UPDATE OR DELETE OR TRUNCATE ON audit_log
    FOR EACH STATEMENT EXECUTE FUNCTION refuse_audit_change();
CREATE TRIGGER audit_checkpoints_append_only BEFORE UPDATE OR DELETE OR TRUNCATE
    ON audit_checkpoints FOR EACH STATEMENT EXECUTE FUNCTION refuse_audit_change();

-- The model inventory: one row per model name governance has heard of.
CREATE TABLE models (
    name          text        PRIMARY KEY,
    owner         text,
    team          text,
    risk_tier     text,
    task          text,
    description   text,
    serving       jsonb       NOT NULL DEFAULT '{}'::jsonb,  -- version -> {arm, weight}
    last_drift    jsonb,
    last_approval jsonb,
    first_seen    timestamptz NOT NULL,
    updated_at    timestamptz NOT NULL
);

-- Every registered version and what governance decided about it.
CREATE TABLE versions (
    model_name     text        NOT NULL REFERENCES models (name),
    version        integer     NOT NULL,
    status         text        NOT NULL,  -- registered, in_review, approved, rejected, suspended, retired
    registration   jsonb       NOT NULL,  -- the model.registered payload
    correlation_id text        NOT NULL,
    registered_at  timestamptz NOT NULL,
    decision       jsonb,
    decided_at     timestamptz,
    approved_at    timestamptz,
    status_reason  text,
    PRIMARY KEY (model_name, version)
);
CREATE INDEX versions_champion ON versions (model_name, approved_at DESC)
    WHERE status = 'approved';

-- Versions waiting for people, and the approvals given so far (at most one per person).
CREATE TABLE reviews (
    model_name         text        NOT NULL,
    version            integer     NOT NULL,
    required_approvals integer     NOT NULL,
    decision           jsonb       NOT NULL,  -- the policy's decision, approvers still empty
    status             text        NOT NULL,  -- open, approved, rejected
    requested_at       timestamptz NOT NULL,
    closed_at          timestamptz,
    PRIMARY KEY (model_name, version),
    FOREIGN KEY (model_name, version) REFERENCES versions (model_name, version)
);
CREATE INDEX reviews_open ON reviews (requested_at) WHERE status = 'open';

CREATE TABLE approvals (
    model_name  text        NOT NULL,
    version     integer     NOT NULL,
    approver    text        NOT NULL,
    comment     text        NOT NULL DEFAULT '',
    approved_at timestamptz NOT NULL,
    PRIMARY KEY (model_name, version, approver),
    FOREIGN KEY (model_name, version) REFERENCES reviews (model_name, version)
);
