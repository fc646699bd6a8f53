-- Post settings and pages (issue 13).
--
-- `meta`: what an author sets beyond the text, read only with the post itself (the page's
-- head and the editor), never by lists: meta title and description, social image, canonical
-- URL override, cover alt text and caption. One jsonb column, checked by the editor.
ALTER TABLE posts ADD COLUMN meta jsonb NOT NULL DEFAULT '{}'
    CHECK (jsonb_typeof(meta) = 'object');

-- Pages (About, Contact) are posts of another kind: the same editor, revisions and
-- autosave, served at /{slug}. The slug stays unique across both kinds.
CREATE TYPE post_kind AS ENUM ('post', 'page');
ALTER TABLE posts ADD COLUMN kind post_kind NOT NULL DEFAULT 'post';

-- Every reader list reads this view: pages are never on the home page, in feeds, on tag
-- or author pages, or in search.
CREATE OR REPLACE VIEW published_posts AS
    SELECT id, author_id, title, slug, excerpt, body_markdown, body_html, reading_minutes,
           cover_image, tag_list, status, published_at, deleted_at, created_at, updated_at,
           body_text, search_doc, search_head, featured, meta, kind
      FROM posts
     WHERE kind = 'post' AND status <> 'draft' AND deleted_at IS NULL AND published_at <= now();

CREATE VIEW published_pages AS
    SELECT id, author_id, title, slug, excerpt, body_html, cover_image, meta, published_at, updated_at
      FROM posts
     WHERE kind = 'page' AND status <> 'draft' AND deleted_at IS NULL AND published_at <= now();

-- The listed count (post_totals) counts posts, not pages.
CREATE OR REPLACE FUNCTION post_totals_on_insert() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    PERFORM post_totals_apply((SELECT count(*) FROM new_rows
        WHERE kind = 'post' AND deleted_at IS NULL AND status <> 'draft'
          AND published_at IS NOT NULL));
    RETURN NULL;
END $$;

CREATE OR REPLACE FUNCTION post_totals_on_update() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    PERFORM post_totals_apply(
        (SELECT count(*) FROM new_rows
          WHERE kind = 'post' AND deleted_at IS NULL AND status <> 'draft'
            AND published_at IS NOT NULL)
      - (SELECT count(*) FROM old_rows
          WHERE kind = 'post' AND deleted_at IS NULL AND status <> 'draft'
            AND published_at IS NOT NULL));
    RETURN NULL;
END $$;

CREATE OR REPLACE FUNCTION post_totals_on_delete() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    PERFORM post_totals_apply(-(SELECT count(*) FROM old_rows
        WHERE kind = 'post' AND deleted_at IS NULL AND status <> 'draft'
          AND published_at IS NOT NULL));
    RETURN NULL;
END $$;

-- The admin's list of pages.
CREATE INDEX posts_pages_idx ON posts (updated_at DESC) WHERE kind = 'page';

-- The header and footer menus admins edit (`settings::navigation`): ordered label and URL
-- pairs. An existing site keeps the links its theme showed.
ALTER TABLE site_settings ADD COLUMN navigation jsonb NOT NULL DEFAULT
    '{"header": [{"label": "Home", "url": "/"}, {"label": "Feed", "url": "/feed.xml"}],
      "footer": [{"label": "Atom feed", "url": "/feed.xml"}, {"label": "Sitemap", "url": "/sitemap.xml"}]}'
    CHECK (jsonb_typeof(navigation) = 'object');
