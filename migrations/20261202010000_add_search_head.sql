-- The head of each post's search vector (title A, tag names B, excerpt C) on its own, for
-- queries that match too many posts to rank them all (issue 11): those list the posts whose
-- head matches, newest first, then those matched only in the body. The head is small and
-- stored inline, so testing it row by row while walking the date index costs little, where
-- the whole vector of a long post would be read from TOAST for every row.

ALTER TABLE posts ADD COLUMN search_head tsvector NOT NULL DEFAULT ''::tsvector;

CREATE FUNCTION search_head_vector(cfg regconfig, title text, tag_list jsonb, excerpt text)
RETURNS tsvector AS $$
    SELECT setweight(to_tsvector(cfg, search_words(title)), 'A')
        || setweight(to_tsvector(cfg, search_words(COALESCE(
               (SELECT string_agg(t->>'name', ' ') FROM jsonb_array_elements(tag_list) t),
               ''))), 'B')
        || setweight(to_tsvector(cfg, search_words(excerpt)), 'C')
$$ LANGUAGE sql STABLE;

CREATE OR REPLACE FUNCTION posts_search_doc() RETURNS trigger AS $$
DECLARE
    cfg regconfig := search_language();
BEGIN
    IF TG_OP = 'INSERT' OR NEW.body_text IS DISTINCT FROM OLD.body_text THEN
        NEW.search_body := search_body_vector(cfg, NEW.body_text);
    END IF;
    NEW.search_head := search_head_vector(cfg, NEW.title, NEW.tag_list, NEW.excerpt);
    NEW.search_doc := NEW.search_head || NEW.search_body;
    RETURN NEW;
END;
$$ LANGUAGE plpgsql;

-- Existing posts' heads, without touching their updated_at (the sitemap's lastmod).
ALTER TABLE posts DISABLE TRIGGER posts_updated_at;
UPDATE posts
   SET search_head = search_head_vector(search_language(), title, tag_list, excerpt);
ALTER TABLE posts ENABLE TRIGGER posts_updated_at;

CREATE OR REPLACE VIEW published_posts AS
    SELECT id, author_id, title, slug, excerpt, body_markdown, body_html, reading_minutes,
           cover_image, tag_list, status, published_at, deleted_at, created_at, updated_at,
           body_text, search_doc, search_head
      FROM posts
     WHERE status <> 'draft' AND deleted_at IS NULL AND published_at <= now();

-- Lets the planner find heads that match a word only rarely without walking every post.
CREATE INDEX posts_search_head_idx ON posts USING gin (search_head)
    WHERE status <> 'draft' AND deleted_at IS NULL;
