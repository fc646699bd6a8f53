-- Follows and favourites (issue 12): the JSON API's profiles and favourites, and the site's
-- "Following" page, favourite button and follower counts. A person's rows go with them.

CREATE TABLE follows (
    follower_id bigint NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    followed_id bigint NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    created_at  timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (follower_id, followed_id),
    CONSTRAINT follows_not_oneself CHECK (follower_id <> followed_id)
);
-- Follower counts on profiles.
CREATE INDEX follows_followed_idx ON follows (followed_id);

CREATE TABLE favorites (
    user_id    bigint NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    post_id    bigint NOT NULL REFERENCES posts (id) ON DELETE CASCADE,
    created_at timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (user_id, post_id)
);
-- A post's count, and `?favorited=` lists (by user, through the primary key).
CREATE INDEX favorites_post_idx ON favorites (post_id);
