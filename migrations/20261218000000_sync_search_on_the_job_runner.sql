-- The search outbox is applied to Meilisearch by the job runner (issue 14): anything queued
-- in search_outbox queues a `search.sync` job, once (it coalesces until one starts).
CREATE FUNCTION search_outbox_sync() RETURNS trigger AS $$
BEGIN
    PERFORM jobs_queue_once('search.sync');
    RETURN NULL;
END;
$$ LANGUAGE plpgsql;

CREATE TRIGGER search_outbox_sync AFTER INSERT OR UPDATE ON search_outbox
    FOR EACH STATEMENT EXECUTE FUNCTION search_outbox_sync();

-- Whatever waits already.
SELECT jobs_queue_once('search.sync') WHERE EXISTS (SELECT 1 FROM search_outbox);
