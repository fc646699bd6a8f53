-- Comment moderation (issue 13): with comments "held for approval" (site settings), a new
-- commenter's comment waits (approved_at NULL) until an editor approves it; anyone with an
-- approved comment is trusted afterwards. Comments so far were all public: approved.
ALTER TABLE comments ADD COLUMN approved_at timestamptz DEFAULT now();
UPDATE comments SET approved_at = created_at;
-- The moderation queue, oldest first.
CREATE INDEX comments_pending_idx ON comments (created_at, id) WHERE approved_at IS NULL;
-- "Has this person an approved comment?"
CREATE INDEX comments_author_idx ON comments (author_id) WHERE approved_at IS NOT NULL;
