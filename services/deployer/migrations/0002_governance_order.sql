-- Precedence between governance's decisions follows governance's sequence (govseq), never
-- an event's time; and the artifact served is the one the registry registered.

-- The govseq of the approval a version row holds (0: recorded before decisions were signed).
ALTER TABLE versions ADD COLUMN approval_govseq bigint NOT NULL DEFAULT 0;
COMMENT ON COLUMN versions.approved_at IS
    'when this deployer pool recorded the approval (its own clock, never the event time)';

-- The latest suspension or retirement of each version, by govseq. An approval with a lower
-- govseq, however it arrives (another topic, later, replayed), does not bring it back.
CREATE TABLE withdrawals (
    model_name text    NOT NULL,
    version    integer NOT NULL,
    govseq     bigint  NOT NULL,
    status     text    NOT NULL CHECK (status IN ('suspended', 'retired')),
    PRIMARY KEY (model_name, version)
);

-- What the registry registered for each version (from model.registered). An approval is
-- loaded only with this artifact, and only if its digest is the approval's.
CREATE TABLE registrations (
    model_name  text    NOT NULL,
    version     integer NOT NULL,
    artifact    jsonb   NOT NULL,
    conflicting boolean NOT NULL DEFAULT false,  -- a second, different registration was seen
    PRIMARY KEY (model_name, version)
);
