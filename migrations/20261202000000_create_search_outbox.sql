-- The search outbox (issue 11): every change to a post, and every change to an author's
-- name, queues the post here in the same transaction, by trigger, so no write path can
-- forget it. The Meilisearch worker reads the post as it is now, sends it (or its removal),
-- and deletes the row only once Meilisearch confirms the task, and only if the row was not
-- queued again meanwhile (`seq`). One row per post, however often it changes: the outbox is
-- bounded by the number of posts, so it may fill while no Meilisearch is configured.

CREATE SEQUENCE search_outbox_seq;

CREATE TABLE search_outbox (
    post_id   bigint PRIMARY KEY,
    seq       bigint NOT NULL DEFAULT nextval('search_outbox_seq'),
    queued_at timestamptz NOT NULL DEFAULT now()
);
-- The worker takes the oldest first.
CREATE INDEX search_outbox_seq_idx ON search_outbox (seq);

CREATE FUNCTION search_outbox_queue(post bigint) RETURNS void AS $$
    INSERT INTO search_outbox (post_id) VALUES (post)
    ON CONFLICT (post_id) DO UPDATE
        SET seq = nextval('search_outbox_seq'), queued_at = now();
$$ LANGUAGE sql;

CREATE FUNCTION posts_search_outbox() RETURNS trigger AS $$
BEGIN
    IF TG_OP = 'DELETE' THEN
        PERFORM search_outbox_queue(OLD.id);
    ELSE
        PERFORM search_outbox_queue(NEW.id);
    END IF;
    RETURN NULL;
END;
$$ LANGUAGE plpgsql;

CREATE TRIGGER posts_search_outbox
    AFTER INSERT OR UPDATE OR DELETE ON posts
    FOR EACH ROW EXECUTE FUNCTION posts_search_outbox();

-- The index holds each post's author (username for the filter, display name shown).
CREATE FUNCTION users_search_outbox() RETURNS trigger AS $$
BEGIN
    PERFORM search_outbox_queue(p.id) FROM posts p WHERE p.author_id = NEW.id;
    RETURN NULL;
END;
$$ LANGUAGE plpgsql;

CREATE TRIGGER users_search_outbox
    AFTER UPDATE OF username, display_name ON users
    FOR EACH ROW
    WHEN (OLD.username IS DISTINCT FROM NEW.username
          OR OLD.display_name IS DISTINCT FROM NEW.display_name)
    EXECUTE FUNCTION users_search_outbox();

-- Posts that exist already: queued once, for a first Meilisearch to take.
INSERT INTO search_outbox (post_id) SELECT id FROM posts;
