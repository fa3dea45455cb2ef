-- Every stored prediction pays for each index it enters (measured: 23 us a row to insert
-- with the five it entered, 15 us with these three). The label join looks predictions up
-- by model and request id: a unique key that leads with them serves both the join and
-- the once-per-request check (ON CONFLICT infers it from the same four columns), so the
-- separate request index goes. received_at only grows: block ranges (BRIN) are enough for
-- retention, at almost no cost a row.
ALTER TABLE predictions DROP CONSTRAINT predictions_model_name_version_arm_request_id_key;
ALTER TABLE predictions
    ADD CONSTRAINT predictions_once UNIQUE (model_name, request_id, version, arm);
DROP INDEX predictions_request;
DROP INDEX predictions_received;
CREATE INDEX predictions_received ON predictions USING brin (received_at);
