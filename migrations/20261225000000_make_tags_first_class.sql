-- Tags are first-class (issue 27, item 9): a tag's page has its own SEO fields, an image and
-- an accent colour; a tag can be deleted (its posts keep their other tags) and merged; an
-- old tag address keeps working after a rename or a merge. Limits are `tags::model`'s; the
-- CHECKs only keep psql from writing what the pages can't show.
ALTER TABLE tags
    ADD COLUMN meta_title text NOT NULL DEFAULT '' CHECK (length(meta_title) <= 300),
    ADD COLUMN meta_description text NOT NULL DEFAULT ''
        CHECK (length(meta_description) <= 500),
    ADD COLUMN image text NOT NULL DEFAULT '' CHECK (length(image) <= 500),
    ADD COLUMN accent text NOT NULL DEFAULT '' CHECK (accent = '' OR accent ~ '^#[0-9a-f]{6}$');

-- A delete is a job like a merge: the tag leaves its posts in batches (each batch refreshes
-- those posts' tag lists and search text through the post_tags triggers), then goes.
ALTER TABLE tag_jobs ADD COLUMN deleting boolean NOT NULL DEFAULT false,
    ADD CHECK (NOT (deleting AND merge_into IS NOT NULL));

-- A tag's address moved from `old_path` to `new_path`: a permanent redirect, written the way
-- `posts_address_changed` writes a post's (redirects to the old address now lead to the new
-- one, and a redirect from the new address goes, so renaming back never loops).
CREATE FUNCTION tag_address_moved(old_path text, new_path text) RETURNS void AS $$
BEGIN
    DELETE FROM redirects WHERE from_path = new_path;
    UPDATE redirects SET to_url = new_path WHERE to_url = old_path;
    INSERT INTO redirects (from_path, to_url, permanent, source)
    VALUES (old_path, new_path, true, 'slug-change')
    ON CONFLICT (from_path) DO UPDATE
        SET to_url = EXCLUDED.to_url, permanent = true, source = EXCLUDED.source;
END;
$$ LANGUAGE plpgsql;

-- A renamed slug, whoever renames (the admin page, psql).
CREATE FUNCTION tags_slug_changed() RETURNS trigger AS $$
BEGIN
    PERFORM tag_address_moved('/tags/' || OLD.slug, '/tags/' || NEW.slug);
    RETURN NULL;
END;
$$ LANGUAGE plpgsql;

CREATE TRIGGER tags_slug_changed AFTER UPDATE OF slug ON tags
    FOR EACH ROW WHEN (OLD.slug IS DISTINCT FROM NEW.slug)
    EXECUTE FUNCTION tags_slug_changed();

-- A queued merge: the tag's page answers until its last post has moved, then the redirect
-- (served only where the site says 404) takes over.
CREATE FUNCTION tag_merge_queued() RETURNS trigger AS $$
BEGIN
    PERFORM tag_address_moved('/tags/' || f.slug, '/tags/' || i.slug)
       FROM tags f, tags i
      WHERE f.id = NEW.tag_id AND i.id = NEW.merge_into;
    RETURN NULL;
END;
$$ LANGUAGE plpgsql;

CREATE TRIGGER tag_jobs_merge_redirect AFTER INSERT OR UPDATE OF merge_into ON tag_jobs
    FOR EACH ROW WHEN (NEW.merge_into IS NOT NULL)
    EXECUTE FUNCTION tag_merge_queued();
