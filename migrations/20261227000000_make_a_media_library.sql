-- A media library (issue 28). An upload is kept privately as sent (`originals/<name>`), and a
-- job (`media.process`) makes what readers get: the image re-encoded without metadata, its
-- widths for `srcset` in its own format and WebP, and a 1200×630 social card. Until then the
-- row is 'pending'; a file the decoder refuses is 'failed', with the reason for the library.
ALTER TABLE uploads
    ADD COLUMN original_name text NOT NULL DEFAULT ''
        CHECK (length(original_name) <= 255),
    ADD COLUMN alt text NOT NULL DEFAULT '' CHECK (length(alt) <= 1000),
    ADD COLUMN width integer CHECK (width > 0),
    ADD COLUMN height integer CHECK (height > 0),
    ADD COLUMN animated boolean NOT NULL DEFAULT false,
    -- The widths made for `srcset`, smallest first (never wider than the image).
    ADD COLUMN widths integer[] NOT NULL DEFAULT '{}',
    ADD COLUMN state text NOT NULL DEFAULT 'pending'
        CHECK (state IN ('pending', 'ready', 'failed')),
    ADD COLUMN error text NOT NULL DEFAULT '' CHECK (length(error) <= 500),
    ADD COLUMN processed_at timestamptz;

-- Content-addressed: the same bytes are one upload (the first form could record them twice).
DELETE FROM uploads u USING uploads first
 WHERE first.file_name = u.file_name AND first.id < u.id;
CREATE UNIQUE INDEX uploads_file_name_key ON uploads (file_name);
CREATE INDEX uploads_uploader_idx ON uploads (uploader_id, created_at DESC);

-- Where each upload is used, kept by the triggers below so every door (the editor, the API,
-- importers, settings) records it: `place` is 'post' (body, cover or social image), 'user'
-- (avatar), 'tag' (image) or 'site' (logo, icon); `ref_id` the row's id (0 for the site).
-- Deleting an upload is refused while a row here names it.
CREATE TABLE media_uses (
    file_name text NOT NULL,
    place     text NOT NULL CHECK (place IN ('post', 'user', 'tag', 'site')),
    ref_id    bigint NOT NULL,
    PRIMARY KEY (file_name, place, ref_id)
);
CREATE INDEX media_uses_ref_idx ON media_uses (place, ref_id);

-- The upload names a text refers to (`/uploads/<64 hex>.<ext>`, variants included).
CREATE FUNCTION media_names(body text) RETURNS SETOF text
LANGUAGE sql IMMUTABLE PARALLEL SAFE AS $$
    SELECT DISTINCT m[1] || '.' || m[2]
      FROM regexp_matches(coalesce(body, ''),
                          '/uploads/([0-9a-f]{64})(?:-[0-9a-z]+)?\.(png|jpg|gif|webp)', 'g') AS m
$$;

CREATE FUNCTION media_uses_set(p text, id bigint, body text) RETURNS void
LANGUAGE sql AS $$
    DELETE FROM media_uses WHERE place = p AND ref_id = id;
    INSERT INTO media_uses (file_name, place, ref_id)
    SELECT n, p, id FROM media_names(body) AS n ON CONFLICT DO NOTHING;
$$;

CREATE FUNCTION media_uses_track() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF TG_OP = 'DELETE' THEN
        DELETE FROM media_uses
         WHERE place = TG_ARGV[0] AND ref_id = CASE WHEN TG_ARGV[0] = 'site' THEN 0 ELSE OLD.id END;
        RETURN OLD;
    END IF;
    CASE TG_ARGV[0]
        WHEN 'post' THEN
            PERFORM media_uses_set('post', NEW.id,
                concat_ws(' ', NEW.body_markdown, NEW.cover_image, NEW.meta ->> 'social_image'));
        WHEN 'user' THEN PERFORM media_uses_set('user', NEW.id, NEW.avatar_url);
        WHEN 'tag' THEN PERFORM media_uses_set('tag', NEW.id, NEW.image);
        WHEN 'site' THEN PERFORM media_uses_set('site', 0, concat_ws(' ', NEW.logo_url, NEW.icon_url));
    END CASE;
    RETURN NEW;
END $$;

CREATE TRIGGER posts_media_uses AFTER INSERT OR UPDATE OF body_markdown, cover_image, meta OR DELETE
    ON posts FOR EACH ROW EXECUTE FUNCTION media_uses_track('post');
CREATE TRIGGER users_media_uses AFTER INSERT OR UPDATE OF avatar_url OR DELETE
    ON users FOR EACH ROW EXECUTE FUNCTION media_uses_track('user');
CREATE TRIGGER tags_media_uses AFTER INSERT OR UPDATE OF image OR DELETE
    ON tags FOR EACH ROW EXECUTE FUNCTION media_uses_track('tag');
CREATE TRIGGER site_media_uses AFTER INSERT OR UPDATE OF logo_url, icon_url
    ON site_settings FOR EACH ROW EXECUTE FUNCTION media_uses_track('site');

-- What exists already.
INSERT INTO media_uses (file_name, place, ref_id)
SELECT n, 'post', p.id FROM posts p,
       media_names(concat_ws(' ', p.body_markdown, p.cover_image, p.meta ->> 'social_image')) AS n
UNION SELECT n, 'user', u.id FROM users u, media_names(u.avatar_url) AS n
UNION SELECT n, 'tag', t.id FROM tags t, media_names(t.image) AS n
UNION SELECT n, 'site', 0 FROM site_settings s, media_names(concat_ws(' ', s.logo_url, s.icon_url)) AS n
ON CONFLICT DO NOTHING;

-- Existing uploads were stored as sent: the job makes their variants (and their stripped copy).
INSERT INTO jobs (kind, payload, key)
SELECT 'media.process', jsonb_build_object('name', file_name), file_name FROM uploads;
