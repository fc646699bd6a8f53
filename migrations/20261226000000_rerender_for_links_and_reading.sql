-- Posts' stored HTML is made by the renderer when a post is saved; this version renders
-- differently (issue 27, items 4, 10 and 12): an author's links carry `nofollow` only where
-- the author wrote it, links off the site `noopener noreferrer`, code blocks are focusable
-- and task-list checkboxes are named. The job runner renders every post again
-- (`posts.rerender`, src/posts/mod.rs) and makes kept pages stale. A new, empty site has
-- nothing to render.
SELECT jobs_queue_once('posts.rerender') WHERE EXISTS (SELECT 1 FROM posts);
