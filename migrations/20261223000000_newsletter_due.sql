-- Whether a post is emailed to the newsletter's subscribers (issue 27, item 6), as one rule
-- asked by both sides: the scan that sends (newsletter::repo::claim_new_posts, over
-- published_posts) and the editor before it publishes (its button's label and its
-- confirmation step, over the post as the save would leave it). A post is emailed when it
-- has come out within the last `window_hours` and has no newsletter record yet: a record
-- means it was sent, is being sent, or was published without sending.
CREATE FUNCTION newsletter_due(published_at timestamptz, recorded boolean, window_hours integer)
RETURNS boolean LANGUAGE sql STABLE AS $$
    SELECT published_at IS NOT NULL
       AND published_at <= now()
       AND published_at > now() - make_interval(hours => window_hours)
       AND NOT recorded
$$;
