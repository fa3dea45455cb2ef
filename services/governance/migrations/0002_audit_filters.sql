-- The trail filtered by type or by correlation chain (the console's audit page) reads the
-- newest records first; these keep that an index scan however long the log grows.
CREATE INDEX audit_log_action_seq ON audit_log (action, seq);
CREATE INDEX audit_log_correlation_seq ON audit_log (correlation_id, seq);
