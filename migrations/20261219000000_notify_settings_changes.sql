-- Site settings changed by any writer reach every running instance (issue 24). `quire seed`,
-- the importers and plain SQL change `site_settings` too, and a writer that has to remember
-- to announce its change is one that forgets: so the table announces it itself.
--
-- Every change is a new version, whoever made it: one that changed a value but not the
-- version (plain SQL) gets the next one, so instances know theirs is old and a form opened
-- before it is refused (409) rather than silently undoing it.
CREATE FUNCTION site_settings_next_version() RETURNS trigger AS $$
BEGIN
    IF NEW IS DISTINCT FROM OLD AND NEW.version <= OLD.version THEN
        NEW.version := OLD.version + 1;
    END IF;
    RETURN NEW;
END;
$$ LANGUAGE plpgsql;

CREATE TRIGGER site_settings_versioned BEFORE UPDATE ON site_settings
    FOR EACH ROW EXECUTE FUNCTION site_settings_next_version();

-- The new version on `quire_settings`, sent at commit to every session that LISTENs (each
-- instance: `settings::live`), which reads the row again.
CREATE FUNCTION site_settings_notify() RETURNS trigger AS $$
BEGIN
    PERFORM pg_notify('quire_settings', NEW.version::text);
    RETURN NULL;
END;
$$ LANGUAGE plpgsql;

CREATE TRIGGER site_settings_changed AFTER INSERT OR UPDATE ON site_settings
    FOR EACH ROW EXECUTE FUNCTION site_settings_notify();
