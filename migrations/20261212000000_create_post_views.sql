-- Reader statistics (issue 13): views per post per UTC day, added to by every instance's
-- periodic flush (`stats`). No reader is identified: a row is a post, a day and a count.
CREATE TABLE post_views (
    post_id bigint NOT NULL REFERENCES posts (id) ON DELETE CASCADE,
    day     date NOT NULL,
    views   bigint NOT NULL CHECK (views >= 0),
    PRIMARY KEY (post_id, day)
);
-- The dashboard's 30 days, read from the index alone.
CREATE INDEX post_views_day_idx ON post_views (day) INCLUDE (post_id, views);
