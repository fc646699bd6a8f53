-- Redirects (issue 26): old addresses that keep working. Answered only where the site would
-- otherwise say 404 (`redirects::serve`), so a live post at a path always wins.
--
-- `from_path` is normalized by `redirects::model` (one form for every door): a path starting
-- with one `/`, percent-escapes decoded (except %2F %3F %23 %25), no trailing slash but `/`
-- itself, and WordPress's `?p=N` / `?page_id=N` as the only query kept. `to_url` is a local
-- path (not `//…`, no backslash) or an absolute http(s) URL. Chains are collapsed when
-- written: no stored `to_url` is another row's `from_path`.
CREATE TABLE redirects (
    id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    from_path text NOT NULL UNIQUE
        CHECK (length(from_path) BETWEEN 1 AND 2000)
        CHECK (from_path ~ '^/' AND from_path !~ '^//')
        CHECK (from_path ~ '^/(\?|$)' OR from_path !~ '/(\?|$)')
        CHECK (from_path !~ '[[:cntrl:]\\]'),
    to_url text NOT NULL
        CHECK (length(to_url) BETWEEN 1 AND 2000)
        CHECK (to_url ~ '^(/([^/]|$)|https?://[^/])')
        CHECK (to_url !~ '[[:cntrl:]\\]'),
    permanent boolean NOT NULL DEFAULT true,
    source text NOT NULL DEFAULT 'manual'
        CHECK (source IN ('manual', 'slug-change') OR source ~ '^import:.'
               AND length(source) <= 600 AND source !~ '[[:cntrl:]]'),
    hits bigint NOT NULL DEFAULT 0,
    last_hit_at timestamptz,
    created_at timestamptz NOT NULL DEFAULT now(),
    updated_at timestamptz NOT NULL DEFAULT now(),
    CHECK (from_path <> to_url)
);
-- A hit counts in `hits`, which is not an edit.
CREATE TRIGGER redirects_updated_at BEFORE UPDATE OF from_path, to_url, permanent, source
    ON redirects FOR EACH ROW EXECUTE FUNCTION set_updated_at();
-- Collapsing chains finds the rows that point at an address.
CREATE INDEX redirects_to_url_idx ON redirects (to_url);
-- The admin's list, newest first.
CREATE INDEX redirects_created_idx ON redirects (created_at DESC, id DESC);

-- A post's or page's address, as its own pages build it (`posts::model`, `pages`).
CREATE FUNCTION post_path(kind post_kind, slug text) RETURNS text AS $$
    SELECT CASE kind WHEN 'page' THEN '/' || slug ELSE '/posts/' || slug END
$$ LANGUAGE sql IMMUTABLE;

-- A post or page whose address changes (a new slug, or a post made a page) leaves a
-- permanent redirect behind, whichever door changed it (the editor, the API, an import,
-- psql). Redirects to the old address now lead to the new one (no chains), and a redirect
-- from the new address goes (renaming back never loops). Drafts were never public: no
-- redirect from their address.
CREATE FUNCTION posts_address_changed() RETURNS trigger AS $$
DECLARE
    old_path text := post_path(OLD.kind, OLD.slug);
    new_path text := post_path(NEW.kind, NEW.slug);
BEGIN
    IF old_path = new_path THEN
        RETURN NULL;
    END IF;
    DELETE FROM redirects WHERE from_path = new_path;
    IF OLD.status = 'draft' OR OLD.deleted_at IS NOT NULL THEN
        RETURN NULL;
    END IF;
    UPDATE redirects SET to_url = new_path WHERE to_url = old_path;
    INSERT INTO redirects (from_path, to_url, permanent, source)
    VALUES (old_path, new_path, true, 'slug-change')
    ON CONFLICT (from_path) DO UPDATE
        SET to_url = EXCLUDED.to_url, permanent = true, source = EXCLUDED.source;
    RETURN NULL;
END;
$$ LANGUAGE plpgsql;

CREATE TRIGGER posts_address_changed AFTER UPDATE OF slug, kind ON posts
    FOR EACH ROW WHEN (OLD.slug IS DISTINCT FROM NEW.slug OR OLD.kind IS DISTINCT FROM NEW.kind)
    EXECUTE FUNCTION posts_address_changed();
