-- The rest of the site settings (issue 13): a logo for the header, an icon for browser tabs
-- (each '' for the theme's own, else a path on the site or an https:// address) and the
-- IANA timezone dates are shown in.
ALTER TABLE site_settings
    ADD COLUMN logo_url text NOT NULL DEFAULT '' CHECK (length(logo_url) <= 500),
    ADD COLUMN icon_url text NOT NULL DEFAULT '' CHECK (length(icon_url) <= 500),
    ADD COLUMN timezone text NOT NULL DEFAULT 'UTC' CHECK (length(timezone) BETWEEN 1 AND 64);
