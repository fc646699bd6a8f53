-- Webhooks (issue 14): admins register URLs for events; each event is a signed JSON POST,
-- delivered (and retried) by the job runner, with a log of every attempt.
CREATE TABLE webhooks (
    id         bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    url        text NOT NULL CHECK (length(url) BETWEEN 8 AND 2000),
    events     text[] NOT NULL CHECK (cardinality(events) > 0),
    -- Signs each delivery (HMAC-SHA256); the receiver holds a copy to check it.
    secret     text NOT NULL CHECK (length(secret) >= 32),
    active     boolean NOT NULL DEFAULT true,
    created_at timestamptz NOT NULL DEFAULT now()
);

-- What happened, written in the same transaction as the change itself (triggers below), so
-- no event is lost; the `webhooks.fanout` job turns each into deliveries and deletes it.
CREATE TABLE webhook_events (
    id         bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    event      text NOT NULL,
    subject_id bigint NOT NULL,
    created_at timestamptz NOT NULL DEFAULT now()
);

CREATE TABLE webhook_deliveries (
    id              bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    webhook_id      bigint NOT NULL REFERENCES webhooks (id) ON DELETE CASCADE,
    event           text NOT NULL,
    payload         jsonb NOT NULL,
    state           text NOT NULL DEFAULT 'pending'
                    CHECK (state IN ('pending', 'delivered', 'failed')),
    attempts        integer NOT NULL DEFAULT 0,
    response_status integer,
    response_ms     integer,
    error           text,
    created_at      timestamptz NOT NULL DEFAULT now(),
    finished_at     timestamptz
);
CREATE INDEX webhook_deliveries_log_idx ON webhook_deliveries (webhook_id, id DESC);

-- Record `event` about `subject` if some active webhook listens for it.
CREATE FUNCTION webhook_event(event_name text, subject bigint) RETURNS void AS $$
BEGIN
    IF EXISTS (SELECT 1 FROM webhooks WHERE active AND event_name = ANY (events)) THEN
        INSERT INTO webhook_events (event, subject_id) VALUES (event_name, subject);
        PERFORM jobs_queue_once('webhooks.fanout');
    END IF;
END;
$$ LANGUAGE plpgsql;

-- A post is live when readers can see it (the published_posts view's rule).
CREATE FUNCTION post_is_live(p posts) RETURNS boolean AS $$
    SELECT p.kind = 'post' AND p.status <> 'draft' AND p.deleted_at IS NULL
       AND p.published_at <= now()
$$ LANGUAGE sql STABLE;

-- Whoever writes (the editor, the API, psql): going live is post.published, a new version of
-- a live post post.updated, leaving post.unpublished, or post.deleted when it went to the
-- trash. A scheduled post going live by the clock is found by `webhooks.scan`.
CREATE FUNCTION posts_webhook_events() RETURNS trigger AS $$
DECLARE
    was boolean := TG_OP = 'UPDATE' AND post_is_live(OLD);
    now_live boolean := post_is_live(NEW);
BEGIN
    IF NOT was AND now_live THEN
        PERFORM webhook_event('post.published', NEW.id);
    ELSIF was AND now_live AND OLD.version IS DISTINCT FROM NEW.version THEN
        PERFORM webhook_event('post.updated', NEW.id);
    ELSIF was AND NOT now_live AND NEW.deleted_at IS NOT NULL THEN
        PERFORM webhook_event('post.deleted', NEW.id);
    ELSIF was AND NOT now_live THEN
        PERFORM webhook_event('post.unpublished', NEW.id);
    END IF;
    RETURN NULL;
END;
$$ LANGUAGE plpgsql;

CREATE TRIGGER posts_webhooks AFTER INSERT OR UPDATE ON posts
    FOR EACH ROW EXECUTE FUNCTION posts_webhook_events();

CREATE FUNCTION comments_webhook_events() RETURNS trigger AS $$
BEGIN
    PERFORM webhook_event('comment.created', NEW.id);
    RETURN NULL;
END;
$$ LANGUAGE plpgsql;

CREATE TRIGGER comments_webhooks AFTER INSERT ON comments
    FOR EACH ROW EXECUTE FUNCTION comments_webhook_events();

CREATE FUNCTION users_webhook_events() RETURNS trigger AS $$
BEGIN
    PERFORM webhook_event('user.created', NEW.id);
    RETURN NULL;
END;
$$ LANGUAGE plpgsql;

CREATE TRIGGER users_webhooks AFTER INSERT ON users
    FOR EACH ROW EXECUTE FUNCTION users_webhook_events();

-- Scheduled posts that went live by the clock since the last `webhooks.scan`: one row, the
-- moment the last scan looked up to.
CREATE TABLE webhook_scan (at timestamptz NOT NULL);
INSERT INTO webhook_scan VALUES (now());
