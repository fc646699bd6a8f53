//! Every statement on `users`.

use sqlx::PgExecutor;

use super::model::{Author, CurrentUser, NewUser, UserForLogin, UserId, Username};

/// Insert a user; the password (if any) must already be hashed into `password_hash`.
pub async fn insert(
    db: impl PgExecutor<'_>,
    user: &NewUser,
    password_hash: Option<&str>,
) -> sqlx::Result<UserId> {
    sqlx::query_scalar(
        "INSERT INTO users (username, email, display_name, bio, password_hash, role)
         VALUES ($1, $2, $3, $4, $5, $6)
         RETURNING id",
    )
    .bind(user.username.as_str())
    .bind(user.email.as_str())
    .bind(&user.display_name)
    .bind(&user.bio)
    .bind(password_hash)
    .bind(user.role)
    .fetch_one(db)
    .await
}

pub async fn find_id_by_username(
    db: impl PgExecutor<'_>,
    username: &Username,
) -> sqlx::Result<Option<UserId>> {
    sqlx::query_scalar("SELECT id FROM users WHERE username = $1")
        .bind(username.as_str())
        .fetch_optional(db)
        .await
}

/// An author's public profile, if the account exists and is not disabled.
pub async fn find_author(
    db: impl PgExecutor<'_>,
    username: &Username,
) -> sqlx::Result<Option<Author>> {
    sqlx::query_as(
        "SELECT id, username, display_name, bio, avatar_url
           FROM users
          WHERE username = $1 AND disabled_at IS NULL",
    )
    .bind(username.as_str())
    .fetch_optional(db)
    .await
}

/// Usernames of everyone with at least one published post, for the sitemap.
pub async fn published_author_usernames(db: impl PgExecutor<'_>) -> sqlx::Result<Vec<String>> {
    sqlx::query_scalar(
        "SELECT u.username
           FROM users u
          WHERE u.disabled_at IS NULL
            AND EXISTS (SELECT 1 FROM published_posts p WHERE p.author_id = u.id)
          ORDER BY u.username",
    )
    .fetch_all(db)
    .await
}

/// The logged-in user behind a session, unless the account is gone or disabled.
pub async fn find_current(
    db: impl PgExecutor<'_>,
    id: UserId,
) -> sqlx::Result<Option<CurrentUser>> {
    sqlx::query_as(
        "SELECT id, username, display_name, role FROM users
          WHERE id = $1 AND disabled_at IS NULL",
    )
    .bind(id)
    .fetch_optional(db)
    .await
}

/// The account a login names, by username or (case-insensitive) email.
pub async fn find_for_login(
    db: impl PgExecutor<'_>,
    login: &str,
) -> sqlx::Result<Option<UserForLogin>> {
    sqlx::query_as(
        "SELECT id, password_hash, disabled_at IS NOT NULL AS disabled FROM users
          WHERE username = lower($1) OR lower(email) = lower($1)
          LIMIT 1",
    )
    .bind(login.trim())
    .fetch_optional(db)
    .await
}

pub async fn admin_exists(db: impl PgExecutor<'_>) -> sqlx::Result<bool> {
    sqlx::query_scalar("SELECT EXISTS (SELECT 1 FROM users WHERE role = 'admin')")
        .fetch_one(db)
        .await
}

/// Create the first admin, in one statement that checks no admin exists: two people racing
/// through /setup can't both win. `None`: an admin already exists.
pub async fn insert_first_admin(
    db: impl PgExecutor<'_>,
    user: &NewUser,
    password_hash: &str,
) -> sqlx::Result<Option<UserId>> {
    sqlx::query_scalar(
        "INSERT INTO users (username, email, display_name, bio, password_hash, role)
         SELECT $1, $2, $3, $4, $5, 'admin'
          WHERE NOT EXISTS (SELECT 1 FROM users WHERE role = 'admin')
         RETURNING id",
    )
    .bind(user.username.as_str())
    .bind(user.email.as_str())
    .bind(&user.display_name)
    .bind(&user.bio)
    .bind(password_hash)
    .fetch_optional(db)
    .await
}
