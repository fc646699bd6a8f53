//! Every statement on `site_settings`.

use sqlx::PgExecutor;

use sqlx::types::Json;

use super::model::{Navigation, SiteSettings};

const COLUMNS: &str = "title, description, posts_per_page, footer_text, accent_color,
    registrations_open, default_role, comments, navigation, logo_url, icon_url, timezone,
    verify_email, version";

/// The settings, creating them from `defaults` if the site has none yet.
pub async fn load_or_create(
    db: impl PgExecutor<'_> + Copy,
    defaults: &SiteSettings,
) -> sqlx::Result<SiteSettings> {
    if let Some(found) = load(db).await? {
        return Ok(found);
    }
    sqlx::query(
        "INSERT INTO site_settings (title, description, posts_per_page, default_role)
         VALUES ($1, $2, $3, $4) ON CONFLICT DO NOTHING",
    )
    .bind(&defaults.title)
    .bind(&defaults.description)
    .bind(defaults.posts_per_page)
    .bind(defaults.default_role)
    .execute(db)
    .await?;
    load(db).await?.ok_or(sqlx::Error::RowNotFound)
}

pub async fn load(db: impl PgExecutor<'_>) -> sqlx::Result<Option<SiteSettings>> {
    sqlx::query_as(sqlx::AssertSqlSafe(format!(
        "SELECT {COLUMNS} FROM site_settings"
    )))
    .fetch_optional(db)
    .await
}

/// Save the menus if the stored version is still `expected`, like `update`.
pub async fn update_navigation(
    db: impl PgExecutor<'_>,
    navigation: &Navigation,
    expected: i64,
) -> sqlx::Result<Option<SiteSettings>> {
    sqlx::query_as(sqlx::AssertSqlSafe(format!(
        "UPDATE site_settings
            SET navigation = $1, version = version + 1, updated_at = now()
          WHERE version = $2
      RETURNING {COLUMNS}"
    )))
    .bind(Json(navigation))
    .bind(expected)
    .fetch_optional(db)
    .await
}

/// Save `new` (its `version` and `navigation` ignored) if the stored version is still `expected`: the saved
/// settings, or `None` when another admin saved in between.
pub async fn update(
    db: impl PgExecutor<'_>,
    new: &SiteSettings,
    expected: i64,
) -> sqlx::Result<Option<SiteSettings>> {
    sqlx::query_as(sqlx::AssertSqlSafe(format!(
        "UPDATE site_settings
            SET title = $1, description = $2, posts_per_page = $3, footer_text = $4,
                accent_color = $5, registrations_open = $6, default_role = $7, comments = $8,
                logo_url = $10, icon_url = $11, timezone = $12, verify_email = $13,
                version = version + 1, updated_at = now()
          WHERE version = $9
      RETURNING {COLUMNS}"
    )))
    .bind(&new.title)
    .bind(&new.description)
    .bind(new.posts_per_page)
    .bind(&new.footer_text)
    .bind(&new.accent_color)
    .bind(new.registrations_open)
    .bind(new.default_role)
    .bind(new.comments)
    .bind(expected)
    .bind(&new.logo_url)
    .bind(&new.icon_url)
    .bind(&new.timezone)
    .bind(new.verify_email)
    .fetch_optional(db)
    .await
}
