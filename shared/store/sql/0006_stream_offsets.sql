-- Where a stream consumer stands in each partition: the next offset to apply, written in
-- the same transaction as the state the records before it produced (shared/bus/stream.py).
-- It is the truth on start and on every assignment; the group's committed offset is only
-- a copy for tools that read lag from the broker. high_watermark is the partition's end
-- as last fetched, so lag can be read from Postgres too.
CREATE TABLE stream_offsets (
    consumer       text        NOT NULL,
    topic          text        NOT NULL,
    partition      integer     NOT NULL,
    next_offset    bigint      NOT NULL,
    high_watermark bigint      NOT NULL DEFAULT 0,
    updated_at     timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (consumer, topic, partition)
);
