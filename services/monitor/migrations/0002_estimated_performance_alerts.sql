-- Performance estimated before labels (on data windows) has alert episodes of its own.
ALTER TABLE alerts DROP CONSTRAINT alerts_kind_check;
ALTER TABLE alerts ADD CONSTRAINT alerts_kind_check
    CHECK (kind IN ('drift', 'performance', 'estimated_performance'));
