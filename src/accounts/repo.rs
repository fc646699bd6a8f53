//! Every statement on `users`.

use sqlx::PgExecutor;

use super::model::{Author, NewUser, UserId, Username};

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
