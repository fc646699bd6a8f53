-- One job runner for all background work (issue 14; `src/jobs`). A job is a row: workers on
-- any instance claim due rows with FOR UPDATE SKIP LOCKED, hold them under a lease they keep
-- renewing, and mark them done, queued again (with backoff) or failed.
CREATE TABLE jobs (
    id           bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    kind         text NOT NULL CHECK (kind ~ '^[a-z][a-z0-9_.]{0,63}$'),
    payload      jsonb NOT NULL DEFAULT '{}',
    -- Idempotency: a job queued again with the same kind and key is the same job, for as long
    -- as its row is kept (done rows are purged after `jobs.keep_done_hours`).
    key          text CHECK (length(key) <= 200),
    state        text NOT NULL DEFAULT 'queued'
                 CHECK (state IN ('queued', 'running', 'done', 'failed')),
    attempts     integer NOT NULL DEFAULT 0 CHECK (attempts >= 0),
    max_attempts integer NOT NULL DEFAULT 10 CHECK (max_attempts >= 1),
    run_at       timestamptz NOT NULL DEFAULT now(),
    -- While running: which worker holds it, and until when (a worker that dies stops
    -- renewing; the job is queued again once the lease ends).
    locked_by    text,
    locked_until timestamptz,
    last_error   text,
    created_at   timestamptz NOT NULL DEFAULT now(),
    started_at   timestamptz,
    finished_at  timestamptz,
    CHECK ((state = 'running') = (locked_by IS NOT NULL AND locked_until IS NOT NULL))
);

CREATE UNIQUE INDEX jobs_kind_key_idx ON jobs (kind, key) WHERE key IS NOT NULL;
-- What the claim reads: due queued jobs, oldest first. The only index on queued jobs, so the
-- claim never sorts the whole queue, whatever the statistics say after a big batch.
CREATE INDEX jobs_due_idx ON jobs (run_at, id) WHERE state = 'queued';
-- What the reaper reads: leases that ended.
CREATE INDEX jobs_lease_idx ON jobs (locked_until) WHERE state = 'running';
-- What the purge reads.
CREATE INDEX jobs_finished_idx ON jobs (finished_at) WHERE state IN ('done', 'failed');

-- Idle workers wait on this channel instead of polling often: one notification per
-- statement that queues jobs, however many rows it inserts.
CREATE FUNCTION jobs_notify() RETURNS trigger AS $$
BEGIN
    PERFORM pg_notify('quire_jobs', '');
    RETURN NULL;
END;
$$ LANGUAGE plpgsql;

CREATE TRIGGER jobs_queued AFTER INSERT ON jobs
    FOR EACH STATEMENT EXECUTE FUNCTION jobs_notify();

-- Queue a job of `job_kind` from SQL (the triggers below), unless one is queued already and
-- not yet started: work that only says "look again" coalesces (a running one may have read
-- before this change, so it does not count). The queued one holds the key 'once', which
-- the claim clears (`jobs::repo::claim`).
CREATE FUNCTION jobs_queue_once(job_kind text) RETURNS void AS $$
BEGIN
    INSERT INTO jobs (kind, key) VALUES (job_kind, 'once')
    ON CONFLICT (kind, key) WHERE key IS NOT NULL DO NOTHING;
END;
$$ LANGUAGE plpgsql;

-- Tag renames and merges (tag_jobs) are worked through by the runner: a queued tag_jobs row
-- queues a `tags.work` job, whoever wrote it (the admin page, or psql).
CREATE FUNCTION tag_jobs_queued() RETURNS trigger AS $$
BEGIN
    PERFORM jobs_queue_once('tags.work');
    RETURN NULL;
END;
$$ LANGUAGE plpgsql;

CREATE TRIGGER tag_jobs_run AFTER INSERT OR UPDATE ON tag_jobs
    FOR EACH STATEMENT EXECUTE FUNCTION tag_jobs_queued();

-- Any tag job a stopped process left behind.
SELECT jobs_queue_once('tags.work') WHERE EXISTS (SELECT 1 FROM tag_jobs);
