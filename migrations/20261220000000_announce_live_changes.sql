-- Live updates follow the write, not the caller: whatever changes a comment, saves a post,
-- takes a post back or disables an account (a page, the API, an importer, psql) announces
-- it on the channel every instance LISTENs to (`quire_live`, see src/ws/hub.rs), so no
-- write path can forget. An announcement names what changed, never what readers see:
-- {"feed": "comments", "key": post id, "data": {"ids": [comment ids]}} and
-- {"feed": "editor", "key": post id, "data": {"t": "saved", ...}}.
-- NOTIFY is sent at commit, and not at all when the transaction rolls back.

-- Comments changed by one statement: one announcement per post (ids in chunks of 500, so a
-- payload stays far below NOTIFY's 8000 bytes).
CREATE FUNCTION live_comments_announce(changed bigint[], posts bigint[]) RETURNS void
LANGUAGE sql AS $$
    SELECT pg_notify('quire_live', json_build_object(
               'feed', 'comments', 'key', post_id, 'data', json_build_object('ids', ids))::text)
      FROM (SELECT post_id, array_agg(id ORDER BY id) AS ids
              FROM (SELECT c.id, c.post_id, (row_number() OVER (PARTITION BY c.post_id ORDER BY c.id) - 1) / 500 AS chunk
                      FROM unnest(changed, posts) AS c(id, post_id)) numbered
             GROUP BY post_id, chunk) grouped;
$$;

-- New or changed rows. A comment held for approval is no one's news until it is approved
-- (an update).
CREATE FUNCTION live_comments_written() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    PERFORM live_comments_announce(array_agg(id), array_agg(post_id))
       FROM new_rows WHERE approved_at IS NOT NULL;
    RETURN NULL;
END $$;

CREATE FUNCTION live_comments_deleted() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    PERFORM live_comments_announce(array_agg(id), array_agg(post_id)) FROM old_rows;
    RETURN NULL;
END $$;

CREATE TRIGGER comments_live_insert AFTER INSERT ON comments
    REFERENCING NEW TABLE AS new_rows FOR EACH STATEMENT EXECUTE FUNCTION live_comments_written();
CREATE TRIGGER comments_live_update AFTER UPDATE ON comments
    REFERENCING NEW TABLE AS new_rows FOR EACH STATEMENT EXECUTE FUNCTION live_comments_written();
CREATE TRIGGER comments_live_delete AFTER DELETE ON comments
    REFERENCING OLD TABLE AS old_rows FOR EACH STATEMENT EXECUTE FUNCTION live_comments_deleted();

-- A disabled (or enabled again) account's comments leave (or come back to) the pages open
-- now: the newest thousand, as pages show them.
CREATE FUNCTION live_author_changed() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    PERFORM live_comments_announce(array_agg(id), array_agg(post_id))
       FROM (SELECT id, post_id FROM comments WHERE author_id = NEW.id ORDER BY id DESC LIMIT 1000) newest;
    RETURN NULL;
END $$;

CREATE TRIGGER users_live_disabled AFTER UPDATE OF disabled_at ON users
    FOR EACH ROW WHEN (OLD.disabled_at IS DISTINCT FROM NEW.disabled_at)
    EXECUTE FUNCTION live_author_changed();

-- A post taken back (to draft, rescheduled, to the trash): its comment sockets hear that
-- they should ask again whether readers still see it.
CREATE FUNCTION live_post_visibility() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    PERFORM pg_notify('quire_live', json_build_object(
        'feed', 'comments', 'key', NEW.id, 'data', json_build_object('ids', '[]'::json))::text);
    RETURN NULL;
END $$;

CREATE TRIGGER posts_live_visibility AFTER UPDATE OF status, published_at, deleted_at ON posts
    FOR EACH ROW WHEN (OLD.status IS DISTINCT FROM NEW.status
                       OR OLD.published_at IS DISTINCT FROM NEW.published_at
                       OR OLD.deleted_at IS DISTINCT FROM NEW.deleted_at)
    EXECUTE FUNCTION live_post_visibility();

-- Each save is a revision: every editor open on the post hears who saved which version.
CREATE FUNCTION live_post_saved() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    PERFORM pg_notify('quire_live', json_build_object(
        'feed', 'editor', 'key', NEW.post_id,
        'data', json_build_object(
            't', 'saved', 'version', NEW.version, 'by', NEW.editor_id,
            'name', (SELECT display_name FROM users WHERE id = NEW.editor_id),
            'autosave', NEW.autosave))::text);
    RETURN NULL;
END $$;

CREATE TRIGGER post_revisions_live AFTER INSERT ON post_revisions
    FOR EACH ROW EXECUTE FUNCTION live_post_saved();
