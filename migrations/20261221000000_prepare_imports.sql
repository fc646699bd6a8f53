-- Moving in (issue 26): what imported blogs hold that Quire had no place for, and how an
-- import remembers what it already brought.

-- Comments by people without an account: WordPress's commenters left a name (and an
-- address we keep private), not an account. Replies keep their parent, so a threaded display
-- can use it later; a deleted parent leaves its replies standing.
ALTER TABLE comments ALTER COLUMN author_id DROP NOT NULL;
ALTER TABLE comments
    ADD COLUMN guest_name text,
    ADD COLUMN guest_email text,
    ADD COLUMN guest_url text,
    ADD COLUMN parent_id bigint REFERENCES comments (id) ON DELETE SET NULL,
    ADD CONSTRAINT comments_have_an_author CHECK (
        author_id IS NOT NULL
        OR (guest_name IS NOT NULL AND length(guest_name) BETWEEN 1 AND 200)),
    ADD CONSTRAINT comments_guest_email_length CHECK (length(guest_email) <= 320),
    ADD CONSTRAINT comments_guest_url_length CHECK (length(guest_url) <= 2000);
CREATE INDEX comments_parent_idx ON comments (parent_id) WHERE parent_id IS NOT NULL;

-- What each import brought: one row per object of a source (`wordpress:https://old.example`,
-- `ghost:…`, `markdown:…`, `quire:…`), keyed by the id it had there. Importing the same file
-- again finds every object here (nothing is created twice); `digest` says whether the source
-- changed since (a newer export updates what changed). The row is written in the same
-- transaction as the object, so an import killed midway resumes without duplicates.
CREATE TABLE import_keys (
    source text NOT NULL CHECK (length(source) BETWEEN 1 AND 600),
    kind text NOT NULL CHECK (kind IN ('user', 'tag', 'post', 'comment', 'upload')),
    source_id text NOT NULL CHECK (length(source_id) BETWEEN 1 AND 2000),
    target_id bigint NOT NULL,
    digest text NOT NULL DEFAULT '',
    -- The post's version the import wrote: a later import updates the post only while
    -- nobody has edited it here since (a newer export never overwrites a local edit).
    target_version integer,
    created_at timestamptz NOT NULL DEFAULT now(),
    updated_at timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (source, kind, source_id)
);

-- Imports started from the admin: the file waits beside the uploads, the dry run's plan is
-- shown, then a job runs it and counts its progress here.
CREATE TYPE import_state AS ENUM ('checking', 'checked', 'queued', 'running', 'done', 'failed');
CREATE TABLE imports (
    id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    format text NOT NULL CHECK (format IN ('wordpress', 'ghost', 'markdown', 'quire')),
    file_name text NOT NULL CHECK (length(file_name) BETWEEN 1 AND 255),
    state import_state NOT NULL DEFAULT 'checking',
    -- The dry run's report, then the run's.
    plan jsonb NOT NULL DEFAULT '{}' CHECK (jsonb_typeof(plan) = 'object'),
    report jsonb CHECK (jsonb_typeof(report) = 'object'),
    -- Accounts the admin chose to make staff in the dry run: {"source id": "editor"}.
    roles jsonb NOT NULL DEFAULT '{}' CHECK (jsonb_typeof(roles) = 'object'),
    done bigint NOT NULL DEFAULT 0,
    total bigint NOT NULL DEFAULT 0,
    error text,
    created_by bigint REFERENCES users (id) ON DELETE SET NULL,
    created_at timestamptz NOT NULL DEFAULT now(),
    updated_at timestamptz NOT NULL DEFAULT now(),
    finished_at timestamptz
);
CREATE TRIGGER imports_updated_at BEFORE UPDATE ON imports
    FOR EACH ROW EXECUTE FUNCTION set_updated_at();

-- An import writes years of history: its posts and comments are not news, so it sends no
-- webhooks (`SET LOCAL quire.origin = 'import'` in its transactions). Search, live updates
-- and the page cache still follow its writes.
CREATE OR REPLACE FUNCTION webhook_event(event_name text, subject bigint) RETURNS void AS $$
BEGIN
    IF current_setting('quire.origin', true) IS DISTINCT FROM 'import'
       AND EXISTS (SELECT 1 FROM webhooks WHERE active AND event_name = ANY (events)) THEN
        INSERT INTO webhook_events (event, subject_id) VALUES (event_name, subject);
        PERFORM jobs_queue_once('webhooks.fanout');
    END IF;
END;
$$ LANGUAGE plpgsql;
