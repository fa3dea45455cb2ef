-- Labelled evidence on rollouts (services/deployer/serving/quality_gate.py).

-- The monitor's performance windows of the arms of a rollout that asks for labelled
-- evidence, from monitor.metrics: one row per event, so the same window applied by every
-- replica (each consumes every event) or redelivered counts once.
CREATE TABLE rollout_quality (
    event_id     text             PRIMARY KEY,
    model_name   text             NOT NULL,
    version      integer          NOT NULL,
    metric       text             NOT NULL,
    value        double precision NOT NULL,
    labelled     integer          NOT NULL CHECK (labelled > 0),
    window_start timestamptz      NOT NULL,
    recorded_at  timestamptz      NOT NULL DEFAULT now()
);
CREATE INDEX rollout_quality_version ON rollout_quality (model_name, version, window_start);

-- Candidates whose request evidence passed while their labelled evidence had not: the
-- next performance window that completes it promotes them.
CREATE TABLE rollout_holds (
    model_name text        NOT NULL,
    version    integer     NOT NULL,
    reason     text        NOT NULL,  -- what the request evidence said
    evidence   jsonb       NOT NULL,
    held_at    timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (model_name, version)
);
