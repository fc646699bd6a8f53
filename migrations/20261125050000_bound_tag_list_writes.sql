-- Keep the cost of a write independent of the size of the blog (issue 9, section 7).
--
-- Before: saving a post "ensured" its tags with a no-op UPDATE, which fired tag_renamed()
-- and rewrote tag_list on every post carrying the tag; post_tags changes refreshed a post's
-- tag_list once per row. Now:
--   * tag_list is refreshed once per statement, for the posts that statement touched, and a
--     post whose list did not change is not written at all;
--   * renaming a tag no longer rewrites its posts in the renaming statement: it queues a job
--     (tag_jobs) that the app works through in batches, each in its own short transaction;
--   * merging a tag is a job of the same kind.

-- The lists of posts `ids`, rebuilt from post_tags and tags; rows already right are left
-- alone (no new row version, no lock held until commit).
CREATE FUNCTION refresh_tag_lists(ids bigint[]) RETURNS void AS $$
    UPDATE posts p
       SET tag_list = fresh.tag_list
      FROM (SELECT i.id,
                   COALESCE((SELECT jsonb_agg(jsonb_build_object('slug', t.slug, 'name', t.name)
                                              ORDER BY pt.position, t.name)
                               FROM post_tags pt JOIN tags t ON t.id = pt.tag_id
                              WHERE pt.post_id = i.id), '[]') AS tag_list
              FROM unnest(ids) AS i(id)) AS fresh
     WHERE p.id = fresh.id
       AND p.tag_list IS DISTINCT FROM fresh.tag_list;
$$ LANGUAGE sql;

DROP TRIGGER post_tags_refresh_tag_list ON post_tags;
DROP FUNCTION post_tags_changed();
DROP FUNCTION refresh_tag_list(bigint);

-- One refresh per statement. Transition tables can't serve a trigger with several events,
-- hence three triggers sharing one function.
CREATE FUNCTION post_tags_changed() RETURNS trigger AS $$
BEGIN
    IF TG_OP = 'INSERT' THEN
        PERFORM refresh_tag_lists(ARRAY(SELECT DISTINCT post_id FROM new_rows));
    ELSIF TG_OP = 'UPDATE' THEN
        PERFORM refresh_tag_lists(ARRAY(SELECT post_id FROM new_rows
                                        UNION SELECT post_id FROM old_rows));
    ELSE
        PERFORM refresh_tag_lists(ARRAY(SELECT DISTINCT post_id FROM old_rows));
    END IF;
    RETURN NULL;
END;
$$ LANGUAGE plpgsql;

CREATE TRIGGER post_tags_inserted AFTER INSERT ON post_tags
    REFERENCING NEW TABLE AS new_rows
    FOR EACH STATEMENT EXECUTE FUNCTION post_tags_changed();
CREATE TRIGGER post_tags_updated AFTER UPDATE ON post_tags
    REFERENCING OLD TABLE AS old_rows NEW TABLE AS new_rows
    FOR EACH STATEMENT EXECUTE FUNCTION post_tags_changed();
CREATE TRIGGER post_tags_deleted AFTER DELETE ON post_tags
    REFERENCING OLD TABLE AS old_rows
    FOR EACH STATEMENT EXECUTE FUNCTION post_tags_changed();

-- Work on a tag's posts too big for one request: refreshing their tag_list after a rename
-- (merge_into NULL), or moving them to another tag and then deleting this one (a merge).
-- The row is the durable record: a job survives a restart and `quire serve` resumes it.
CREATE TABLE tag_jobs (
    tag_id       bigint PRIMARY KEY REFERENCES tags (id) ON DELETE CASCADE,
    merge_into   bigint REFERENCES tags (id) ON DELETE CASCADE,
    -- Refreshes walk the tag's posts by id: those up to here are done.
    done_through bigint NOT NULL DEFAULT 0,
    total        integer NOT NULL,
    done         integer NOT NULL DEFAULT 0,
    created_at   timestamptz NOT NULL DEFAULT now()
);

-- A rename queues a refresh, whoever renames (the admin page or psql); a save that only
-- ensures the tag exists no longer updates it at all (tags::repo::ensure).
DROP TRIGGER tags_refresh_tag_list ON tags;
DROP FUNCTION tag_renamed();

CREATE FUNCTION tag_renamed() RETURNS trigger AS $$
BEGIN
    INSERT INTO tag_jobs (tag_id, total)
    VALUES (NEW.id, (SELECT count(*) FROM post_tags WHERE tag_id = NEW.id))
    ON CONFLICT (tag_id) DO UPDATE
        SET done_through = 0, done = 0, total = EXCLUDED.total;
    RETURN NULL;
END;
$$ LANGUAGE plpgsql;

CREATE TRIGGER tags_queue_tag_list_refresh AFTER UPDATE OF slug, name ON tags
    FOR EACH ROW WHEN (OLD.slug IS DISTINCT FROM NEW.slug OR OLD.name IS DISTINCT FROM NEW.name)
    EXECUTE FUNCTION tag_renamed();
