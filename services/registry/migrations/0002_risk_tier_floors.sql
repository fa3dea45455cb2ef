-- Risk tier floors: a model's first version pins its risk tier; a later version may not
-- register at a lower one unless an approver lowered the floor. Every lowering is kept
-- (who, why, when); the newest is the floor in force.
CREATE TABLE risk_tier_floors (
    id         bigserial   PRIMARY KEY,
    model_name text        NOT NULL REFERENCES models (name),
    risk_tier  text        NOT NULL,
    previous   text        NOT NULL,
    actor      text        NOT NULL,
    reason     text        NOT NULL,
    at         timestamptz NOT NULL DEFAULT clock_timestamp()
);
CREATE INDEX risk_tier_floors_model ON risk_tier_floors (model_name, id);
