-- Accounts at OAuth providers (GitHub, Google) linked to a Quire account: logging in with
-- one of them logs in as `user_id`. No provider tokens are kept; the login is the proof.
CREATE TABLE identities (
    id               bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    user_id          bigint NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    provider         text NOT NULL CHECK (provider IN ('github', 'google')),
    -- The provider's stable id (GitHub's numeric id, Google's `sub`), never the login or
    -- email, which their owners can change.
    provider_user_id text NOT NULL CHECK (length(provider_user_id) BETWEEN 1 AND 255),
    -- As last seen, to show on /account which account is linked.
    provider_login   text NOT NULL DEFAULT '',
    email            text,
    created_at       timestamptz NOT NULL DEFAULT now(),
    last_used_at     timestamptz NOT NULL DEFAULT now(),
    CONSTRAINT identities_provider_user_key UNIQUE (provider, provider_user_id),
    -- One account per provider per person, as Ghost and WordPress do.
    CONSTRAINT identities_user_provider_key UNIQUE (user_id, provider)
);
