-- Wake the relay when rows are committed instead of polling: one NOTIFY per inserting
-- statement (Postgres folds repeats within a transaction and delivers them at commit).
-- The channel names the schema, so a relay wakes only for its own service's outbox.
CREATE FUNCTION outbox_notify() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    PERFORM pg_notify('modelbus_outbox_' || TG_TABLE_SCHEMA, '');
    RETURN NULL;
END
$$;

CREATE TRIGGER outbox_notify AFTER INSERT ON outbox
    FOR EACH STATEMENT EXECUTE FUNCTION outbox_notify();
