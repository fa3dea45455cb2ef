-- Governance's sequence over its decisions (the govseq each one is signed with). Taken
-- under the audit chain head lock, so numbers grow in the order decisions commit; a
-- rolled-back decision leaves a gap, never a reuse.
CREATE SEQUENCE decision_seq;
