-- Site settings (issue 13): what admins change in /admin/settings. One row; the config
-- file's [site] and [accounts] values fill it when the site is new. `version` grows with
-- every save: instances compare it with the one they hold (see `settings::live`).

CREATE TYPE comments_mode AS ENUM ('off', 'on', 'held');

CREATE TABLE site_settings (
    only_row           boolean PRIMARY KEY DEFAULT true CHECK (only_row),
    title              text NOT NULL CHECK (length(title) BETWEEN 1 AND 120),
    description        text NOT NULL CHECK (length(description) <= 300),
    posts_per_page     integer NOT NULL CHECK (posts_per_page BETWEEN 1 AND 100),
    footer_text        text NOT NULL DEFAULT '' CHECK (length(footer_text) <= 500),
    -- '' for the theme's own, else #rrggbb.
    accent_color       text NOT NULL DEFAULT '' CHECK (accent_color ~ '^(#[0-9a-f]{6})?$'),
    registrations_open boolean NOT NULL DEFAULT true,
    default_role       user_role NOT NULL DEFAULT 'reader',
    comments           comments_mode NOT NULL DEFAULT 'on',
    version            bigint NOT NULL DEFAULT 1,
    updated_at         timestamptz NOT NULL DEFAULT now()
);
