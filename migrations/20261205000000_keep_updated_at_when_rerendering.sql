-- `quire rerender` (issue 13) rewrites posts' body_html with today's renderer (highlighted
-- code) without anyone editing them: with `quire.rerendering` set for its transaction, a
-- post's updated_at stays as it was. Every other update still sets it.

CREATE FUNCTION posts_set_updated_at() RETURNS trigger AS $$
BEGIN
    IF current_setting('quire.rerendering', true) = 'on' THEN
        RETURN NEW;
    END IF;
    NEW.updated_at := now();
    RETURN NEW;
END;
$$ LANGUAGE plpgsql;

DROP TRIGGER posts_updated_at ON posts;
CREATE TRIGGER posts_updated_at BEFORE UPDATE ON posts
    FOR EACH ROW EXECUTE FUNCTION posts_set_updated_at();
