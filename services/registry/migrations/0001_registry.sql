-- Models: one row per name. Its row lock serialises the registrations (and alias moves) of
-- one model, and latest_version is the last number handed out: versions are 1, 2, 3, ...
-- with no gaps because the number is taken and used in the same transaction.
CREATE TABLE models (
    name           text        PRIMARY KEY,
    latest_version integer     NOT NULL DEFAULT 0,
    created_at     timestamptz NOT NULL DEFAULT now(),
    updated_at     timestamptz NOT NULL DEFAULT now()
);

-- Versions: the model.registered payload as announced, plus the columns searched on.
-- origin is what the version came from (training job, submission or upload id): the
-- same origin registers once, however often it is delivered or retried.
CREATE TABLE versions (
    model_name      text        NOT NULL REFERENCES models (name),
    version         integer     NOT NULL CHECK (version >= 1),
    source          text        NOT NULL,
    origin          text        NOT NULL,
    parent_version  integer,
    artifact_sha256 text        NOT NULL,
    artifact_size   bigint      NOT NULL,
    owner           text,
    payload         jsonb       NOT NULL,
    event_id        text        NOT NULL,
    registered_at   timestamptz NOT NULL DEFAULT clock_timestamp(),
    PRIMARY KEY (model_name, version),
    UNIQUE (model_name, source, origin)
);
CREATE INDEX versions_owner ON versions (owner);
CREATE INDEX versions_tags ON versions USING gin ((payload -> 'metadata' -> 'tags'));

-- Aliases: where each alias points now, and every move (version NULL: deleted) with its time.
CREATE TABLE aliases (
    model_name text        NOT NULL REFERENCES models (name),
    alias      text        NOT NULL,
    version    integer     NOT NULL,
    since      timestamptz NOT NULL,
    PRIMARY KEY (model_name, alias)
);
CREATE TABLE alias_history (
    id         bigserial   PRIMARY KEY,
    model_name text        NOT NULL,
    alias      text        NOT NULL,
    version    integer,
    at         timestamptz NOT NULL,
    actor      text        NOT NULL
);
CREATE INDEX alias_history_at ON alias_history (model_name, alias, at);

-- Lifecycle read model, built from the lifecycle events alone (no foreign keys: an event
-- may name a version this replica has not seen registered yet).
CREATE TABLE lifecycle_events (
    event_id       text        PRIMARY KEY,
    model_name     text        NOT NULL,
    version        integer     NOT NULL,
    topic          text        NOT NULL,
    status         text,
    time           timestamptz NOT NULL,
    correlation_id text        NOT NULL,
    causation_id   text,
    source         text        NOT NULL,
    data           jsonb       NOT NULL,
    recorded_at    timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX lifecycle_events_version ON lifecycle_events (model_name, version, time);

CREATE TABLE lifecycle_status (
    model_name text        NOT NULL,
    version    integer     NOT NULL,
    status     text        NOT NULL,
    since      timestamptz NOT NULL,
    event_id   text        NOT NULL,
    PRIMARY KEY (model_name, version)
);

-- Which version is the stable (serving) one from when: version NULL means none serves.
CREATE TABLE serving_history (
    id         bigserial   PRIMARY KEY,
    model_name text        NOT NULL,
    version    integer,
    since      timestamptz NOT NULL,
    event_id   text        NOT NULL
);
CREATE INDEX serving_history_since ON serving_history (model_name, since);
