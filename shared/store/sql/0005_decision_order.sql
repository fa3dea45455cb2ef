-- Governance decisions a consumer acted on: per topic and model, the highest governance
-- sequence number (govseq) and the offset of its record. A decision whose govseq is not
-- above it is a replay when it sits at a later offset (someone produced it again), a
-- redelivery when it does not (the inbox then skips it).
CREATE TABLE decision_order (
    consumer      text   NOT NULL,
    topic         text   NOT NULL,
    model_name    text   NOT NULL,
    govseq        bigint NOT NULL,
    record_offset bigint NOT NULL,
    PRIMARY KEY (consumer, topic, model_name)
);
