-- The reading site: people, posts, tags. Forward only; never edit once applied.

-- One trigger keeps every table's updated_at honest.
CREATE FUNCTION set_updated_at() RETURNS trigger AS $$
BEGIN
    NEW.updated_at := now();
    RETURN NEW;
END;
$$ LANGUAGE plpgsql;

CREATE TYPE user_role AS ENUM ('reader', 'author', 'editor', 'admin');

CREATE TABLE users (
    id            bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    username      text NOT NULL,
    email         text NOT NULL,
    display_name  text NOT NULL,
    bio           text NOT NULL DEFAULT '',
    avatar_url    text,
    -- NULL: no password login (demo authors, OAuth-only accounts).
    password_hash text,
    role          user_role NOT NULL DEFAULT 'reader',
    disabled_at   timestamptz,
    created_at    timestamptz NOT NULL DEFAULT now(),
    updated_at    timestamptz NOT NULL DEFAULT now(),
    CONSTRAINT users_username_format CHECK (username ~ '^[a-z0-9][a-z0-9_-]{1,31}$'),
    CONSTRAINT users_email_format CHECK (email ~ '^[^@\s]+@[^@\s]+$')
);
-- Usernames are stored lower-case; emails compare case-insensitively.
CREATE UNIQUE INDEX users_username_key ON users (username);
CREATE UNIQUE INDEX users_email_key ON users (lower(email));
CREATE TRIGGER users_updated_at BEFORE UPDATE ON users
    FOR EACH ROW EXECUTE FUNCTION set_updated_at();

-- 'scheduled' is a published post whose time has not come; both become visible at published_at.
CREATE TYPE post_status AS ENUM ('draft', 'scheduled', 'published');

CREATE TABLE posts (
    id              bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    author_id       bigint NOT NULL REFERENCES users (id),
    title           text NOT NULL CHECK (length(title) BETWEEN 1 AND 300),
    slug            text NOT NULL CHECK (slug ~ '^[a-z0-9]+(-[a-z0-9]+)*$' AND length(slug) <= 200),
    excerpt         text NOT NULL DEFAULT '',
    body_markdown   text NOT NULL DEFAULT '',
    -- Rendered and sanitized once, when the post is saved: reading does no Markdown work.
    body_html       text NOT NULL DEFAULT '',
    reading_minutes integer NOT NULL DEFAULT 1 CHECK (reading_minutes >= 1),
    cover_image     text,
    -- The post's tags as [{"slug", "name"}], in order: a copy kept by the triggers below, so
    -- a list page reads each post's tags without a join per row.
    tag_list        jsonb NOT NULL DEFAULT '[]',
    status          post_status NOT NULL DEFAULT 'draft',
    published_at    timestamptz,
    deleted_at      timestamptz,
    created_at      timestamptz NOT NULL DEFAULT now(),
    updated_at      timestamptz NOT NULL DEFAULT now(),
    CONSTRAINT posts_slug_key UNIQUE (slug),
    CONSTRAINT posts_published_have_a_date CHECK (status = 'draft' OR published_at IS NOT NULL)
);
CREATE TRIGGER posts_updated_at BEFORE UPDATE ON posts
    FOR EACH ROW EXECUTE FUNCTION set_updated_at();

-- The home page and feed walk this index backwards; its predicate matches published_posts.
CREATE INDEX posts_visible_published_at_idx ON posts (published_at DESC, id DESC)
    WHERE status <> 'draft' AND deleted_at IS NULL;
-- Author pages.
CREATE INDEX posts_visible_author_idx ON posts (author_id, published_at DESC, id DESC)
    WHERE status <> 'draft' AND deleted_at IS NULL;

CREATE TABLE tags (
    id          bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    slug        text NOT NULL CHECK (slug ~ '^[a-z0-9]+(-[a-z0-9]+)*$' AND length(slug) <= 100),
    name        text NOT NULL CHECK (length(name) BETWEEN 1 AND 100),
    description text NOT NULL DEFAULT '',
    created_at  timestamptz NOT NULL DEFAULT now(),
    updated_at  timestamptz NOT NULL DEFAULT now(),
    CONSTRAINT tags_slug_key UNIQUE (slug)
);
CREATE TRIGGER tags_updated_at BEFORE UPDATE ON tags
    FOR EACH ROW EXECUTE FUNCTION set_updated_at();

CREATE TABLE post_tags (
    post_id bigint NOT NULL REFERENCES posts (id) ON DELETE CASCADE,
    tag_id  bigint NOT NULL REFERENCES tags (id) ON DELETE CASCADE,
    -- Position in the author's tag list: the first tag is the post's primary one.
    position smallint NOT NULL DEFAULT 0,
    -- A copy of posts.published_at (kept by triggers), so a tag page reads its newest posts
    -- straight off one index however many posts the tag has.
    published_at timestamptz,
    PRIMARY KEY (post_id, tag_id)
);
-- Tag pages: a tag's posts, newest first.
CREATE INDEX post_tags_tag_published_idx
    ON post_tags (tag_id, published_at DESC NULLS LAST, post_id DESC);

CREATE FUNCTION post_tags_copy_published_at() RETURNS trigger AS $$
BEGIN
    NEW.published_at := (SELECT published_at FROM posts WHERE id = NEW.post_id);
    RETURN NEW;
END;
$$ LANGUAGE plpgsql;

CREATE TRIGGER post_tags_published_at BEFORE INSERT ON post_tags
    FOR EACH ROW EXECUTE FUNCTION post_tags_copy_published_at();

CREATE FUNCTION posts_published_at_changed() RETURNS trigger AS $$
BEGIN
    UPDATE post_tags SET published_at = NEW.published_at WHERE post_id = NEW.id;
    RETURN NULL;
END;
$$ LANGUAGE plpgsql;

CREATE TRIGGER posts_copy_published_at AFTER UPDATE OF published_at ON posts
    FOR EACH ROW WHEN (OLD.published_at IS DISTINCT FROM NEW.published_at)
    EXECUTE FUNCTION posts_published_at_changed();

-- Keep posts.tag_list equal to what post_tags and tags say, whoever changes them.
CREATE FUNCTION refresh_tag_list(post bigint) RETURNS void AS $$
    UPDATE posts
       SET tag_list = COALESCE((SELECT jsonb_agg(jsonb_build_object('slug', t.slug, 'name', t.name)
                                                 ORDER BY pt.position, t.name)
                                  FROM post_tags pt JOIN tags t ON t.id = pt.tag_id
                                 WHERE pt.post_id = post), '[]')
     WHERE id = post;
$$ LANGUAGE sql;

CREATE FUNCTION post_tags_changed() RETURNS trigger AS $$
BEGIN
    IF TG_OP IN ('UPDATE', 'DELETE') THEN
        PERFORM refresh_tag_list(OLD.post_id);
    END IF;
    IF TG_OP IN ('INSERT', 'UPDATE') THEN
        PERFORM refresh_tag_list(NEW.post_id);
    END IF;
    RETURN NULL;
END;
$$ LANGUAGE plpgsql;

CREATE TRIGGER post_tags_refresh_tag_list AFTER INSERT OR UPDATE OR DELETE ON post_tags
    FOR EACH ROW EXECUTE FUNCTION post_tags_changed();

CREATE FUNCTION tag_renamed() RETURNS trigger AS $$
BEGIN
    PERFORM refresh_tag_list(pt.post_id) FROM post_tags pt WHERE pt.tag_id = NEW.id;
    RETURN NULL;
END;
$$ LANGUAGE plpgsql;

CREATE TRIGGER tags_refresh_tag_list AFTER UPDATE OF slug, name ON tags
    FOR EACH ROW EXECUTE FUNCTION tag_renamed();

-- The one place that says what readers may see: not a draft, not deleted, and its time has come.
CREATE VIEW published_posts AS
    SELECT *
      FROM posts
     WHERE status <> 'draft'
       AND deleted_at IS NULL
       AND published_at <= now();
