-- Newsletters (issue 14): readers subscribe by email (double opt-in), and each post is emailed
-- to the confirmed subscribers once, when it is first published.
CREATE TABLE subscribers (
    id              bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    email           text NOT NULL CHECK (length(email) BETWEEN 3 AND 254),
    -- The account that subscribed from /account, if any.
    user_id         bigint REFERENCES users (id) ON DELETE SET NULL,
    status          text NOT NULL DEFAULT 'pending'
                    CHECK (status IN ('pending', 'confirmed', 'unsubscribed')),
    created_at      timestamptz NOT NULL DEFAULT now(),
    confirmed_at    timestamptz,
    unsubscribed_at timestamptz
);
CREATE UNIQUE INDEX subscribers_email_idx ON subscribers (lower(email));
CREATE INDEX subscribers_user_idx ON subscribers (user_id) WHERE user_id IS NOT NULL;
CREATE INDEX subscribers_status_idx ON subscribers (status, id);

-- One row per post that is (being) emailed, or that its author published without sending:
-- the record that makes "once" true whatever happens to the worker.
CREATE TABLE newsletter_sends (
    post_id     bigint PRIMARY KEY REFERENCES posts (id) ON DELETE CASCADE,
    skipped     boolean NOT NULL DEFAULT false,
    -- When the recipients were fixed (the confirmed subscribers at that moment).
    started_at  timestamptz,
    finished_at timestamptz,
    recipients  integer NOT NULL DEFAULT 0,
    created_at  timestamptz NOT NULL DEFAULT now()
);

-- Who gets a post: each row goes queued -> sending -> sent (or failed). A worker that dies
-- mid-send leaves 'sending' rows, which the next attempt sends again.
CREATE TABLE newsletter_deliveries (
    post_id       bigint NOT NULL REFERENCES newsletter_sends (post_id) ON DELETE CASCADE,
    subscriber_id bigint NOT NULL REFERENCES subscribers (id) ON DELETE CASCADE,
    state         text NOT NULL DEFAULT 'queued'
                  CHECK (state IN ('queued', 'sending', 'sent', 'failed')),
    attempts      integer NOT NULL DEFAULT 0,
    last_error    text,
    sent_at       timestamptz,
    PRIMARY KEY (post_id, subscriber_id)
);
CREATE INDEX newsletter_deliveries_queued_idx ON newsletter_deliveries (post_id, subscriber_id)
    WHERE state IN ('queued', 'sending');

-- Posts out before newsletters existed are never emailed.
INSERT INTO newsletter_sends (post_id, skipped)
SELECT id, true FROM posts WHERE kind = 'post' AND status <> 'draft' AND published_at <= now();
