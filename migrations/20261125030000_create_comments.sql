-- Readers' comments on published posts. Hidden comments stay for moderators to see.
CREATE TABLE comments (
    id            bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    post_id       bigint NOT NULL REFERENCES posts (id) ON DELETE CASCADE,
    author_id     bigint NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    body_markdown text NOT NULL CHECK (length(body_markdown) BETWEEN 1 AND 5000),
    -- Rendered from a Markdown subset and sanitized when saved.
    body_html     text NOT NULL,
    hidden_at     timestamptz,
    created_at    timestamptz NOT NULL DEFAULT now(),
    updated_at    timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX comments_post_idx ON comments (post_id, created_at, id);
CREATE TRIGGER comments_updated_at BEFORE UPDATE ON comments
    FOR EACH ROW EXECUTE FUNCTION set_updated_at();
