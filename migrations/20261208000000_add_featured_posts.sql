-- Featured posts (issue 13): shown first and marked on the home page; a filter in the admin.
ALTER TABLE posts ADD COLUMN featured boolean NOT NULL DEFAULT false;
-- The home page's featured row reads this (a handful of posts) instead of the date index.
CREATE INDEX posts_featured_idx ON posts (published_at DESC, id DESC)
    WHERE featured AND status <> 'draft' AND deleted_at IS NULL;
CREATE OR REPLACE VIEW published_posts AS
    SELECT id, author_id, title, slug, excerpt, body_markdown, body_html, reading_minutes,
           cover_image, tag_list, status, published_at, deleted_at, created_at, updated_at,
           body_text, search_doc, search_head, featured
      FROM posts
     WHERE status <> 'draft' AND deleted_at IS NULL AND published_at <= now();
