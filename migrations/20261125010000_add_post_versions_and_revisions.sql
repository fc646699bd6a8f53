-- Authoring: optimistic concurrency and revisions.

-- Bumped on every save; a save names the version it edited, and a stale one is refused.
ALTER TABLE posts ADD COLUMN version integer NOT NULL DEFAULT 1;

-- Every save keeps what was saved: who, when, and the text.
CREATE TABLE post_revisions (
    id            bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    post_id       bigint NOT NULL REFERENCES posts (id) ON DELETE CASCADE,
    editor_id     bigint NOT NULL REFERENCES users (id),
    version       integer NOT NULL,
    title         text NOT NULL,
    excerpt       text NOT NULL,
    body_markdown text NOT NULL,
    created_at    timestamptz NOT NULL DEFAULT now(),
    CONSTRAINT post_revisions_version_key UNIQUE (post_id, version)
);

-- The admin's lists: a post's revisions newest first, an author's posts, the trash.
CREATE INDEX posts_author_updated_idx ON posts (author_id, updated_at DESC);
CREATE INDEX posts_updated_idx ON posts (updated_at DESC) WHERE deleted_at IS NULL;
CREATE INDEX posts_deleted_idx ON posts (deleted_at DESC) WHERE deleted_at IS NOT NULL;
