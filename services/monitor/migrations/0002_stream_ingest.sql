-- How far each model's predictions have been folded in: the partition its predictions
-- arrive on (keyed by model), the newest prediction time folded into its windows and how
-- many predictions were folded. Written in the batch's transaction, read for lag and
-- freshness by any replica.
CREATE TABLE ingest_progress (
    model_name       text        PRIMARY KEY,
    topic_partition  integer     NOT NULL,
    newest_event     timestamptz,
    folded           bigint      NOT NULL DEFAULT 0,
    updated_at       timestamptz NOT NULL DEFAULT now()
);

-- Labels matched recently: the sweep labels predictions that arrived while their label
-- was being matched by another transaction (another replica, another arm).
CREATE INDEX labels_resolved ON labels (resolved_at) WHERE status = 'matched';
