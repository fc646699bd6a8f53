-- Full-text search over the whole post (issue 11): title (weight A), tag names (B), excerpt
-- (C) and the body's plain text (D) in one tsvector, kept by a trigger, with a GIN index for
-- what readers can see. The text-search configuration is a setting (`search.language`); the
-- app writes it to search_settings at start-up and rebuilds the vectors when it changes.

CREATE EXTENSION IF NOT EXISTS pg_trgm;

CREATE TABLE search_settings (
    only_row boolean PRIMARY KEY DEFAULT true CHECK (only_row),
    language regconfig NOT NULL DEFAULT 'english'
);
INSERT INTO search_settings DEFAULT VALUES;

CREATE FUNCTION search_language() RETURNS regconfig AS $$
    SELECT language FROM search_settings
$$ LANGUAGE sql STABLE;

-- The body's text without its markup, written by the app when it renders the Markdown.
ALTER TABLE posts ADD COLUMN body_text text NOT NULL DEFAULT '';
-- The body's part of the vector, parsed only when the body changes (a 1 MiB body takes
-- ~150 ms), and the whole vector the index and the ranking use.
ALTER TABLE posts ADD COLUMN search_body tsvector NOT NULL DEFAULT ''::tsvector;
ALTER TABLE posts ADD COLUMN search_doc tsvector NOT NULL DEFAULT ''::tsvector;

-- What the parser reads of a text: PostgreSQL's parser takes `<…>` for an HTML tag and drops
-- it with everything inside (a post about `<script>alert(1)</script>` would lose "alert"),
-- so angle brackets and ampersands are spaces to it. Snippets are cut from the text itself.
CREATE FUNCTION search_words(body text) RETURNS text AS $$
    SELECT translate(body, '<>&', '   ')
$$ LANGUAGE sql IMMUTABLE;

-- The same text for ts_headline, which must show the brackets: they become private-use
-- characters (not letters, so not part of words) that the app turns back into `<`, `>`, `&`.
CREATE FUNCTION search_display(body text) RETURNS text AS $$
    SELECT translate(body, '<>&', U&'\E000\E001\E002')
$$ LANGUAGE sql IMMUTABLE;

-- A tsvector holds at most 1 MiB; a body whose vector would be larger is indexed up to
-- its first 256 KiB of text rather than failing the save.
CREATE FUNCTION search_body_vector(cfg regconfig, body text) RETURNS tsvector AS $$
BEGIN
    RETURN setweight(to_tsvector(cfg, search_words(body)), 'D');
EXCEPTION WHEN program_limit_exceeded THEN
    RETURN setweight(to_tsvector(cfg, search_words(left(body, 262144))), 'D');
END;
$$ LANGUAGE plpgsql STABLE;

CREATE FUNCTION posts_search_doc() RETURNS trigger AS $$
DECLARE
    cfg regconfig := search_language();
BEGIN
    IF TG_OP = 'INSERT' OR NEW.body_text IS DISTINCT FROM OLD.body_text THEN
        NEW.search_body := search_body_vector(cfg, NEW.body_text);
    END IF;
    NEW.search_doc :=
        setweight(to_tsvector(cfg, search_words(NEW.title)), 'A')
        || setweight(to_tsvector(cfg, search_words(COALESCE(
               (SELECT string_agg(t->>'name', ' ') FROM jsonb_array_elements(NEW.tag_list) t),
               ''))), 'B')
        || setweight(to_tsvector(cfg, search_words(NEW.excerpt)), 'C')
        || NEW.search_body;
    RETURN NEW;
END;
$$ LANGUAGE plpgsql;

CREATE TRIGGER posts_search_doc
    BEFORE INSERT OR UPDATE OF title, excerpt, body_text, tag_list ON posts
    FOR EACH ROW EXECUTE FUNCTION posts_search_doc();

-- Existing posts: their text from the rendered HTML (tags dropped, the five entities the
-- renderer writes decoded); the next save writes the renderer's own.
UPDATE posts
   SET body_text = replace(replace(replace(replace(replace(
           regexp_replace(body_html, '<[^>]*>', ' ', 'g'),
           '&lt;', '<'), '&gt;', '>'), '&quot;', '"'), '&#39;', ''''), '&amp;', '&');

CREATE INDEX posts_search_idx ON posts USING gin (search_doc)
    WHERE status <> 'draft' AND deleted_at IS NULL;
-- Typo tolerance: titles by trigram similarity.
CREATE INDEX posts_title_trgm_idx ON posts USING gin (lower(title) gin_trgm_ops)
    WHERE status <> 'draft' AND deleted_at IS NULL;

-- The view readers' queries go through gains the new columns.
CREATE OR REPLACE VIEW published_posts AS
    SELECT id, author_id, title, slug, excerpt, body_markdown, body_html, reading_minutes,
           cover_image, tag_list, status, published_at, deleted_at, created_at, updated_at,
           body_text, search_doc
      FROM posts
     WHERE status <> 'draft' AND deleted_at IS NULL AND published_at <= now();
