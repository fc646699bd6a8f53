-- How many posts are listed (published or scheduled, not trashed), kept by triggers, so the
-- API's `articlesCount` for the whole list is one row and a short index range (the posts
-- scheduled for later) instead of counting every post: 15 ms at 100,000 posts, per call.
-- Statement-level triggers with transition tables: a bulk insert updates the row once, and
-- only a statement that changes what is listed touches it (saving a published post doesn't).

CREATE TABLE post_totals (
    only_row boolean PRIMARY KEY DEFAULT true CHECK (only_row),
    -- deleted_at IS NULL AND status <> 'draft' AND published_at IS NOT NULL
    listed   bigint NOT NULL
);

INSERT INTO post_totals (listed)
SELECT count(*) FROM posts
 WHERE deleted_at IS NULL AND status <> 'draft' AND published_at IS NOT NULL;

CREATE FUNCTION post_totals_apply(delta bigint) RETURNS void LANGUAGE sql AS $$
    UPDATE post_totals SET listed = listed + delta WHERE delta <> 0;
$$;

CREATE FUNCTION post_totals_on_insert() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    PERFORM post_totals_apply((SELECT count(*) FROM new_rows
        WHERE deleted_at IS NULL AND status <> 'draft' AND published_at IS NOT NULL));
    RETURN NULL;
END $$;

CREATE FUNCTION post_totals_on_update() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    PERFORM post_totals_apply(
        (SELECT count(*) FROM new_rows
          WHERE deleted_at IS NULL AND status <> 'draft' AND published_at IS NOT NULL)
      - (SELECT count(*) FROM old_rows
          WHERE deleted_at IS NULL AND status <> 'draft' AND published_at IS NOT NULL));
    RETURN NULL;
END $$;

CREATE FUNCTION post_totals_on_delete() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    PERFORM post_totals_apply(-(SELECT count(*) FROM old_rows
        WHERE deleted_at IS NULL AND status <> 'draft' AND published_at IS NOT NULL));
    RETURN NULL;
END $$;

CREATE TRIGGER post_totals_insert AFTER INSERT ON posts
    REFERENCING NEW TABLE AS new_rows
    FOR EACH STATEMENT EXECUTE FUNCTION post_totals_on_insert();
CREATE TRIGGER post_totals_update AFTER UPDATE ON posts
    REFERENCING OLD TABLE AS old_rows NEW TABLE AS new_rows
    FOR EACH STATEMENT EXECUTE FUNCTION post_totals_on_update();
CREATE TRIGGER post_totals_delete AFTER DELETE ON posts
    REFERENCING OLD TABLE AS old_rows
    FOR EACH STATEMENT EXECUTE FUNCTION post_totals_on_delete();
