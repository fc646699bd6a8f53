-- Email (issue 14): a site may require commenters to have verified their address, and
-- authors choose whether they are told of new comments on their posts.
ALTER TABLE site_settings ADD COLUMN verify_email boolean NOT NULL DEFAULT false;
ALTER TABLE users ADD COLUMN notify_comments boolean NOT NULL DEFAULT true;
