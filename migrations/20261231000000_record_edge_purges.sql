-- The edge cache (issue 29, item 4): Varnish or a CDN in front of Quire keeps public pages
-- long, each tagged with surrogate keys that name what it shows (`cache::edge::Key` makes
-- the same names in Rust):
--   site         every page (a settings change purges everything)
--   home         the home page
--   posts        every list of posts, and every post page (its previous, next and related)
--   tags         every list of tags (the tag index, the sitemap)
--   post-<id>    a post's or page's own page, and every page that shows it
--   tag-<id>     a tag's page, feed and stylesheet
--   author-<id>  a person's author page and feed, and the pages that show their name
-- Whoever writes (the admin, the API, an importer, the command line, psql), the triggers
-- below record the keys a change makes stale in `edge_purges`, in the change's own
-- transaction, so no purge is lost and no write path can forget one. The `edge.purge` job
-- sends them to the edge (`edge.purge_url`) and deletes them once it has answered.
CREATE TABLE edge_purges (
    id        bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    key       text NOT NULL CHECK (key ~ '^[a-z]+(-[0-9]+)?$'),
    queued_at timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX edge_purges_key_idx ON edge_purges (key);

-- Record `keys`, each once per transaction (a save touches the post, its tags and its
-- revision: one row per key, not one per trigger). A key recorded by another transaction is
-- recorded again: the job may have sent that one already, before this change committed.
CREATE FUNCTION edge_purge(keys text[]) RETURNS void LANGUAGE sql AS $$
    INSERT INTO edge_purges (key)
    SELECT DISTINCT k FROM unnest(keys) AS k
     WHERE k IS NOT NULL
       AND NOT EXISTS (SELECT 1 FROM edge_purges p
                        WHERE p.key = k AND p.xmin = pg_current_xact_id()::xid);
$$;

-- Something to purge: one `edge.purge` job waiting (it takes whatever is recorded by then).
CREATE FUNCTION edge_purges_queued() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF EXISTS (SELECT 1 FROM new_rows) THEN
        PERFORM jobs_queue_once('edge.purge');
    END IF;
    RETURN NULL;
END $$;

CREATE TRIGGER edge_purges_run AFTER INSERT ON edge_purges
    REFERENCING NEW TABLE AS new_rows
    FOR EACH STATEMENT EXECUTE FUNCTION edge_purges_queued();

-- Readers see a post or a page (the published_posts and published_pages views' rule).
CREATE FUNCTION edge_shows(status post_status, published_at timestamptz, deleted_at timestamptz)
RETURNS boolean LANGUAGE sql STABLE AS $$
    SELECT status <> 'draft' AND deleted_at IS NULL AND published_at <= now()
$$;

-- A post's keys: its page, its author's, its tags' and the home page's; `posts` as well when
-- what lists hold changes (`lists`: it comes or goes, moves in time, is featured or not).
CREATE FUNCTION edge_post_keys(post bigint, author bigint, lists boolean) RETURNS text[]
LANGUAGE sql STABLE AS $$
    SELECT ARRAY['post-' || post, 'author-' || author, 'home']
           || ARRAY(SELECT 'tag-' || tag_id FROM post_tags WHERE post_id = post)
           || CASE WHEN lists THEN ARRAY['posts'] ELSE '{}'::text[] END
$$;

-- Posts: published, edited while readers see it, taken back, trashed or deleted. Drafts and
-- posts scheduled for later are no page yet (a scheduled post going live by the clock is
-- covered by the edge's max-age, which never reaches past it: `cache::edge`).
CREATE FUNCTION edge_posts_changed() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF TG_OP = 'INSERT' THEN
        PERFORM edge_purge(ARRAY(
            SELECT unnest(edge_post_keys(id, author_id, true)) FROM new_rows
             WHERE edge_shows(status, published_at, deleted_at)));
    ELSIF TG_OP = 'UPDATE' THEN
        PERFORM edge_purge(ARRAY(
            SELECT unnest(edge_post_keys(n.id, n.author_id,
                              was IS DISTINCT FROM shows
                              OR n.published_at IS DISTINCT FROM o.published_at
                              OR n.featured IS DISTINCT FROM o.featured
                              OR n.kind IS DISTINCT FROM o.kind
                              OR n.slug IS DISTINCT FROM o.slug)
                          || ('author-' || o.author_id))
              FROM new_rows n
              JOIN old_rows o USING (id),
                   LATERAL (SELECT edge_shows(o.status, o.published_at, o.deleted_at) AS was,
                                   edge_shows(n.status, n.published_at, n.deleted_at) AS shows) s
             WHERE (was OR shows) AND n IS DISTINCT FROM o));
    ELSE
        PERFORM edge_purge(ARRAY(
            SELECT unnest(edge_post_keys(id, author_id, true)) FROM old_rows
             WHERE edge_shows(status, published_at, deleted_at)));
    END IF;
    RETURN NULL;
END $$;

CREATE TRIGGER posts_edge_insert AFTER INSERT ON posts
    REFERENCING NEW TABLE AS new_rows
    FOR EACH STATEMENT EXECUTE FUNCTION edge_posts_changed();
CREATE TRIGGER posts_edge_update AFTER UPDATE ON posts
    REFERENCING OLD TABLE AS old_rows NEW TABLE AS new_rows
    FOR EACH STATEMENT EXECUTE FUNCTION edge_posts_changed();
CREATE TRIGGER posts_edge_delete AFTER DELETE ON posts
    REFERENCING OLD TABLE AS old_rows
    FOR EACH STATEMENT EXECUTE FUNCTION edge_posts_changed();

-- A post's tags (the editor, a merge, a tag deleted): the tag's pages, the post's, the tag
-- index's counts and every list (cards show tags; related posts follow them). A row whose
-- post is gone (deleted with it) counts too.
CREATE FUNCTION edge_post_tags_keys(changed_posts bigint[], changed_tags bigint[]) RETURNS text[]
LANGUAGE sql STABLE AS $$
    SELECT ARRAY(
        SELECT unnest(ARRAY['tag-' || c.tag_id, 'post-' || c.post_id, 'tags', 'posts'])
          FROM unnest(changed_posts, changed_tags) AS c(post_id, tag_id)
          LEFT JOIN posts p ON p.id = c.post_id
         WHERE p.id IS NULL OR edge_shows(p.status, p.published_at, p.deleted_at))
$$;

CREATE FUNCTION edge_post_tags_changed() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF TG_OP IN ('INSERT', 'UPDATE') THEN
        PERFORM edge_purge(edge_post_tags_keys(ARRAY(SELECT post_id FROM new_rows),
                                               ARRAY(SELECT tag_id FROM new_rows)));
    END IF;
    IF TG_OP IN ('UPDATE', 'DELETE') THEN
        PERFORM edge_purge(edge_post_tags_keys(ARRAY(SELECT post_id FROM old_rows),
                                               ARRAY(SELECT tag_id FROM old_rows)));
    END IF;
    RETURN NULL;
END $$;

CREATE TRIGGER post_tags_edge_insert AFTER INSERT ON post_tags
    REFERENCING NEW TABLE AS new_rows
    FOR EACH STATEMENT EXECUTE FUNCTION edge_post_tags_changed();
CREATE TRIGGER post_tags_edge_update AFTER UPDATE ON post_tags
    REFERENCING OLD TABLE AS old_rows NEW TABLE AS new_rows
    FOR EACH STATEMENT EXECUTE FUNCTION edge_post_tags_changed();
CREATE TRIGGER post_tags_edge_delete AFTER DELETE ON post_tags
    REFERENCING OLD TABLE AS old_rows
    FOR EACH STATEMENT EXECUTE FUNCTION edge_post_tags_changed();

-- Comments (written, edited, approved, hidden, deleted) and favourites show on their post's
-- page and in the API's views of it.
CREATE FUNCTION edge_post_rows_changed() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF TG_OP IN ('INSERT', 'UPDATE') THEN
        PERFORM edge_purge(ARRAY(SELECT 'post-' || post_id FROM new_rows));
    END IF;
    IF TG_OP IN ('UPDATE', 'DELETE') THEN
        PERFORM edge_purge(ARRAY(SELECT 'post-' || post_id FROM old_rows));
    END IF;
    RETURN NULL;
END $$;

CREATE TRIGGER comments_edge_insert AFTER INSERT ON comments
    REFERENCING NEW TABLE AS new_rows
    FOR EACH STATEMENT EXECUTE FUNCTION edge_post_rows_changed();
CREATE TRIGGER comments_edge_update AFTER UPDATE ON comments
    REFERENCING OLD TABLE AS old_rows NEW TABLE AS new_rows
    FOR EACH STATEMENT EXECUTE FUNCTION edge_post_rows_changed();
CREATE TRIGGER comments_edge_delete AFTER DELETE ON comments
    REFERENCING OLD TABLE AS old_rows
    FOR EACH STATEMENT EXECUTE FUNCTION edge_post_rows_changed();
CREATE TRIGGER favorites_edge_insert AFTER INSERT ON favorites
    REFERENCING NEW TABLE AS new_rows
    FOR EACH STATEMENT EXECUTE FUNCTION edge_post_rows_changed();
CREATE TRIGGER favorites_edge_delete AFTER DELETE ON favorites
    REFERENCING OLD TABLE AS old_rows
    FOR EACH STATEMENT EXECUTE FUNCTION edge_post_rows_changed();

-- Followers are counted on the author page.
CREATE FUNCTION edge_follows_changed() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF TG_OP = 'INSERT' THEN
        PERFORM edge_purge(ARRAY(SELECT 'author-' || followed_id FROM new_rows));
    ELSE
        PERFORM edge_purge(ARRAY(SELECT 'author-' || followed_id FROM old_rows));
    END IF;
    RETURN NULL;
END $$;

CREATE TRIGGER follows_edge_insert AFTER INSERT ON follows
    REFERENCING NEW TABLE AS new_rows
    FOR EACH STATEMENT EXECUTE FUNCTION edge_follows_changed();
CREATE TRIGGER follows_edge_delete AFTER DELETE ON follows
    REFERENCING OLD TABLE AS old_rows
    FOR EACH STATEMENT EXECUTE FUNCTION edge_follows_changed();

-- A person's public profile (name, bio, picture, role, disabled): their author page and the
-- pages showing their name; every list too when they have posts (cards name the author).
-- Logins, passwords and preferences change nothing readers see.
CREATE FUNCTION edge_users_changed() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF TG_OP = 'UPDATE' THEN
        PERFORM edge_purge(ARRAY(
            SELECT unnest(ARRAY['author-' || n.id]
                          || CASE WHEN EXISTS (SELECT 1 FROM posts WHERE author_id = n.id)
                                  THEN ARRAY['posts'] ELSE '{}'::text[] END)
              FROM new_rows n JOIN old_rows o USING (id)
             WHERE (n.username, n.display_name, n.bio, n.avatar_url, n.role, n.disabled_at)
                   IS DISTINCT FROM
                   (o.username, o.display_name, o.bio, o.avatar_url, o.role, o.disabled_at)));
    ELSE
        PERFORM edge_purge(ARRAY(SELECT 'author-' || id FROM old_rows));
    END IF;
    RETURN NULL;
END $$;

CREATE TRIGGER users_edge_update AFTER UPDATE ON users
    REFERENCING OLD TABLE AS old_rows NEW TABLE AS new_rows
    FOR EACH STATEMENT EXECUTE FUNCTION edge_users_changed();
CREATE TRIGGER users_edge_delete AFTER DELETE ON users
    REFERENCING OLD TABLE AS old_rows
    FOR EACH STATEMENT EXECUTE FUNCTION edge_users_changed();

-- Tags: a new one joins the lists of tags; an edited or deleted one also changes its own
-- pages and every list (cards name their tags).
CREATE FUNCTION edge_tags_changed() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF TG_OP = 'INSERT' THEN
        PERFORM edge_purge(ARRAY(SELECT 'tags' FROM new_rows));
    ELSIF TG_OP = 'UPDATE' THEN
        PERFORM edge_purge(ARRAY(
            SELECT unnest(ARRAY['tag-' || n.id, 'tags', 'posts'])
              FROM new_rows n JOIN old_rows o USING (id)
             WHERE n IS DISTINCT FROM o));
    ELSE
        PERFORM edge_purge(ARRAY(
            SELECT unnest(ARRAY['tag-' || id, 'tags', 'posts']) FROM old_rows));
    END IF;
    RETURN NULL;
END $$;

CREATE TRIGGER tags_edge_insert AFTER INSERT ON tags
    REFERENCING NEW TABLE AS new_rows
    FOR EACH STATEMENT EXECUTE FUNCTION edge_tags_changed();
CREATE TRIGGER tags_edge_update AFTER UPDATE ON tags
    REFERENCING OLD TABLE AS old_rows NEW TABLE AS new_rows
    FOR EACH STATEMENT EXECUTE FUNCTION edge_tags_changed();
CREATE TRIGGER tags_edge_delete AFTER DELETE ON tags
    REFERENCING OLD TABLE AS old_rows
    FOR EACH STATEMENT EXECUTE FUNCTION edge_tags_changed();

-- The site's settings (title, navigation, theme, logo…) show on every page.
CREATE FUNCTION edge_site_changed() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    PERFORM edge_purge(ARRAY['site']);
    RETURN NULL;
END $$;

CREATE TRIGGER site_settings_edge AFTER INSERT OR UPDATE OR DELETE ON site_settings
    FOR EACH STATEMENT EXECUTE FUNCTION edge_site_changed();

-- An upload's readers' copies made, its alt text edited, or it removed: the pages that use it
-- (`media_uses`: a post's body or cover, an avatar, a tag's image, the site's logo or icon).
CREATE FUNCTION edge_upload_keys(names text[]) RETURNS text[] LANGUAGE sql STABLE AS $$
    SELECT ARRAY(
        SELECT CASE u.place WHEN 'post' THEN 'post-' || u.ref_id
                            WHEN 'user' THEN 'author-' || u.ref_id
                            WHEN 'tag' THEN 'tag-' || u.ref_id
                            ELSE 'site' END
          FROM media_uses u
         WHERE u.file_name = ANY (names))
$$;

CREATE FUNCTION edge_uploads_changed() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF TG_OP = 'UPDATE' THEN
        PERFORM edge_purge(edge_upload_keys(ARRAY(
            SELECT n.file_name FROM new_rows n JOIN old_rows o USING (id)
             WHERE n IS DISTINCT FROM o)));
    ELSE
        PERFORM edge_purge(edge_upload_keys(ARRAY(SELECT file_name FROM old_rows)));
    END IF;
    RETURN NULL;
END $$;

CREATE TRIGGER uploads_edge_update AFTER UPDATE ON uploads
    REFERENCING OLD TABLE AS old_rows NEW TABLE AS new_rows
    FOR EACH STATEMENT EXECUTE FUNCTION edge_uploads_changed();
CREATE TRIGGER uploads_edge_delete AFTER DELETE ON uploads
    REFERENCING OLD TABLE AS old_rows
    FOR EACH STATEMENT EXECUTE FUNCTION edge_uploads_changed();
