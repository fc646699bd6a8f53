-- Password reset links (issue 14). Only the token's SHA-256 is stored: a copy of this table
-- resets nobody's password. A link works once, until expires_at; using one uses up every
-- other link of the account.
CREATE TABLE password_resets (
    token_hash bytea PRIMARY KEY CHECK (length(token_hash) = 32),
    user_id    bigint NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    -- 'email': asked for on /password/forgot; 'admin': made by an admin on /admin/users.
    made_by    text NOT NULL CHECK (made_by IN ('email', 'admin')),
    created_at timestamptz NOT NULL DEFAULT now(),
    expires_at timestamptz NOT NULL,
    used_at    timestamptz
);
CREATE INDEX password_resets_user_idx ON password_resets (user_id);
-- The hourly purge's: links past their time.
CREATE INDEX password_resets_expires_idx ON password_resets (expires_at);
