-- Rows the broker refuses (too large for the topic, not authorised, ...) are counted; past
-- MODELBUS_RELAY_MAX_REFUSALS the relay moves one here, whole, with the broker's last
-- answer, and publishes a dead letter about it, so one refused row never stalls the outbox.
ALTER TABLE outbox ADD COLUMN refusals integer NOT NULL DEFAULT 0;
ALTER TABLE outbox ADD COLUMN last_error text;

CREATE TABLE outbox_quarantine (
    id             bigint      PRIMARY KEY,
    topic          text        NOT NULL,
    key            text        NOT NULL,
    value          bytea       NOT NULL,
    headers        jsonb       NOT NULL,
    created_at     timestamptz NOT NULL,
    refusals       integer     NOT NULL,
    error          text        NOT NULL,
    quarantined_at timestamptz NOT NULL DEFAULT now()
);
