-- Who asked for each job: the token's principal for an HTTP request, the request's
-- metadata.owner (else the event's source) for one consumed from the bus. One principal's
-- running jobs are limited (claim skips the rest), and so are its unfinished HTTP requests.
ALTER TABLE jobs ADD COLUMN principal text NOT NULL DEFAULT '';
UPDATE jobs SET principal = coalesce(nullif(request->'metadata'->>'owner', ''), '');
CREATE INDEX jobs_unfinished_by_principal ON jobs (principal)
    WHERE status IN ('queued', 'running');
