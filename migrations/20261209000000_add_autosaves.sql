-- Autosave. A draft's autosave is a save like any other (same version check), recorded as
-- an "autosave" revision; the revisions list folds runs of them.
ALTER TABLE post_revisions ADD COLUMN autosave boolean NOT NULL DEFAULT false;

-- A published or scheduled post is never changed by autosave: what its editor typed waits
-- here, one row per post and person, until they save, publish or discard it. `base_version`
-- is the version they were editing, so a save from it still meets the version check.
CREATE TABLE post_autosaves (
    post_id      bigint NOT NULL REFERENCES posts (id) ON DELETE CASCADE,
    editor_id    bigint NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    base_version integer NOT NULL,
    form         jsonb NOT NULL,
    saved_at     timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (post_id, editor_id)
);
