-- What the monitor keeps of each registered version: the reference it counts windows
-- against, read from the profile artifact once at registration and never again.
CREATE TABLE versions (
    model_name    text        NOT NULL,
    version       integer     NOT NULL,
    task          text        NOT NULL,
    feature_names text[]      NOT NULL,
    target_name   text        NOT NULL,
    profile       bytea,                        -- the profile document as fetched; NULL without one
    sample        bytea,                        -- reference sample (.npy), when provided
    thresholds    jsonb       NOT NULL,
    baseline      jsonb       NOT NULL DEFAULT '{}'::jsonb,  -- registered metrics
    problems      text[]      NOT NULL DEFAULT '{}',         -- why parts of it are missing
    registered_at timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (model_name, version)
);

CREATE TABLE deployments (
    model_name  text        NOT NULL,
    version     integer     NOT NULL,
    arm         text        NOT NULL,
    strategy    text        NOT NULL,
    weight      float8      NOT NULL,
    deployed_at timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (model_name, version, arm)
);

-- One row per logged inference. The unique key makes a request count once however many
-- events carry it; window_id says which data window counted it (NULL: none yet), and
-- performance_window_id which performance window scored it against its label.
CREATE TABLE predictions (
    id                    bigserial   PRIMARY KEY,
    model_name            text        NOT NULL,
    version               integer     NOT NULL,
    arm                   text        NOT NULL,
    request_id            text        NOT NULL,
    event_time            timestamptz NOT NULL,
    received_at           timestamptz NOT NULL DEFAULT now(),
    n_rows                integer     NOT NULL,
    n_cols                integer     NOT NULL,
    features              bytea,      -- float64, n_rows x n_cols, NaN = missing
    outputs               jsonb,
    latency_ms            float8      NOT NULL,
    ok                    boolean     NOT NULL,
    schema_error          text,
    window_id             bigint,
    labelled_at           timestamptz,  -- when its label was joined
    performance_window_id bigint,
    UNIQUE (model_name, version, arm, request_id)
);
CREATE INDEX predictions_unwindowed ON predictions (model_name, version, arm, id)
    WHERE window_id IS NULL;
CREATE INDEX predictions_window ON predictions (window_id);
CREATE INDEX predictions_request ON predictions (model_name, request_id);
CREATE INDEX predictions_received ON predictions (received_at);
CREATE INDEX predictions_labelled ON predictions (model_name, version, arm, labelled_at)
    WHERE labelled_at IS NOT NULL AND performance_window_id IS NULL;

-- Ground truth by request id. A label waits (pending) until a prediction with its request
-- id exists (matched) or the label horizon passes (expired).
CREATE TABLE labels (
    model_name  text        NOT NULL,
    request_id  text        NOT NULL,
    value       jsonb       NOT NULL,
    received_at timestamptz NOT NULL DEFAULT now(),
    status      text        NOT NULL DEFAULT 'pending'
                CHECK (status IN ('pending', 'matched', 'expired')),
    resolved_at timestamptz,
    duplicates  integer     NOT NULL DEFAULT 0,
    PRIMARY KEY (model_name, request_id)
);
CREATE INDEX labels_pending ON labels (model_name, received_at) WHERE status = 'pending';

-- Windows per model version and arm: 'data' (drift, quality, latency) and 'performance'
-- (labelled predictions). At most one open data window per stream.
CREATE TABLE windows (
    id           bigserial   PRIMARY KEY,
    model_name   text        NOT NULL,
    version      integer     NOT NULL,
    arm          text        NOT NULL,
    kind         text        NOT NULL CHECK (kind IN ('data', 'performance')),
    opened_at    timestamptz NOT NULL DEFAULT now(),
    closed_at    timestamptz,
    start_time   timestamptz,
    end_time     timestamptz,
    count        integer     NOT NULL DEFAULT 0,
    metrics      jsonb       NOT NULL DEFAULT '{}'::jsonb,
    drift        jsonb,      -- FeatureDrift entries of every tested feature
    drifted      boolean,    -- NULL: not tested (no reference, or too few rows)
    top_features text[]
);
CREATE UNIQUE INDEX windows_one_open ON windows (model_name, version, arm, kind)
    WHERE closed_at IS NULL;
CREATE INDEX windows_closed ON windows (model_name, closed_at) WHERE closed_at IS NOT NULL;

-- Episodes: one open alert per stream and kind; resolved after enough clean windows.
CREATE TABLE alerts (
    alert_id           text        PRIMARY KEY,
    model_name         text        NOT NULL,
    version            integer     NOT NULL,
    arm                text        NOT NULL,
    kind               text        NOT NULL CHECK (kind IN ('drift', 'performance')),
    opened_window_id   bigint      NOT NULL,
    opened_at          timestamptz NOT NULL DEFAULT now(),
    clean_windows      integer     NOT NULL DEFAULT 0,
    resolved_at        timestamptz,
    resolved_window_id bigint,
    summary            jsonb       NOT NULL DEFAULT '{}'::jsonb,
    labelled_data      jsonb
);
CREATE UNIQUE INDEX alerts_one_open ON alerts (model_name, version, arm, kind)
    WHERE resolved_at IS NULL;
