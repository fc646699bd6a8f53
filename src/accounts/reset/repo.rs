//! Every statement on `password_resets`.

use sqlx::{PgConnection, PgExecutor};

use crate::accounts::model::UserId;

/// Who a reset email goes to: an enabled account with this address.
#[derive(Debug, Clone, sqlx::FromRow)]
pub struct Recipient {
    pub id: UserId,
    pub username: String,
    pub display_name: String,
    pub email: String,
}

pub async fn recipient(db: impl PgExecutor<'_>, address: &str) -> sqlx::Result<Option<Recipient>> {
    sqlx::query_as(
        "SELECT id, username, display_name, email FROM users
          WHERE lower(email) = lower($1) AND disabled_at IS NULL
          LIMIT 1",
    )
    .bind(address.trim())
    .fetch_optional(db)
    .await
}

pub async fn insert(
    db: impl PgExecutor<'_>,
    hash: &[u8; 32],
    user: UserId,
    made_by: &str,
    ttl_minutes: u32,
) -> sqlx::Result<()> {
    sqlx::query(
        "INSERT INTO password_resets (token_hash, user_id, made_by, expires_at)
         VALUES ($1, $2, $3, now() + make_interval(mins => $4))",
    )
    .bind(&hash[..])
    .bind(user)
    .bind(made_by)
    .bind(i32::try_from(ttl_minutes).unwrap_or(60))
    .execute(db)
    .await?;
    Ok(())
}

/// The username of the account a working (unused, unexpired) link resets.
pub async fn find_valid(db: impl PgExecutor<'_>, hash: &[u8; 32]) -> sqlx::Result<Option<String>> {
    sqlx::query_scalar(
        "SELECT u.username FROM password_resets r JOIN users u ON u.id = r.user_id
          WHERE r.token_hash = $1 AND r.used_at IS NULL AND r.expires_at > now()
            AND u.disabled_at IS NULL",
    )
    .bind(&hash[..])
    .fetch_optional(db)
    .await
}

/// Use the link up, and every other link of its account, in the caller's transaction: the
/// account it resets, or `None` if it no longer works (two tabs: only one wins).
pub async fn use_up(conn: &mut PgConnection, hash: &[u8; 32]) -> sqlx::Result<Option<UserId>> {
    let user: Option<UserId> = sqlx::query_scalar(
        "UPDATE password_resets r SET used_at = now()
           FROM users u
          WHERE r.token_hash = $1 AND r.used_at IS NULL AND r.expires_at > now()
            AND u.id = r.user_id AND u.disabled_at IS NULL
         RETURNING r.user_id",
    )
    .bind(&hash[..])
    .fetch_optional(&mut *conn)
    .await?;
    if let Some(user) = user {
        use_up_all(&mut *conn, user).await?;
    }
    Ok(user)
}

/// Every link of `user` that still works stops working (one was used, or the account was
/// disabled: enabling it again must not bring old links back).
pub async fn use_up_all(db: impl PgExecutor<'_>, user: UserId) -> sqlx::Result<()> {
    sqlx::query(
        "UPDATE password_resets SET used_at = now() WHERE user_id = $1 AND used_at IS NULL",
    )
    .bind(user)
    .execute(db)
    .await?;
    Ok(())
}

/// Links a day past their time, deleted (the hourly purge).
pub async fn purge(db: impl PgExecutor<'_>) -> sqlx::Result<u64> {
    Ok(
        sqlx::query("DELETE FROM password_resets WHERE expires_at < now() - interval '1 day'")
            .execute(db)
            .await?
            .rows_affected(),
    )
}
