//! Every statement on `users` and `identities`.

use sqlx::{PgConnection, PgExecutor};
use time::OffsetDateTime;

use super::model::{
    Author, CurrentUser, NewUser, Provider, ProviderAccount, Role, UserForLogin, UserId, Username,
};

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
        "SELECT id, username, display_name, role, session_epoch FROM users
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
        "SELECT id, password_hash, disabled_at IS NOT NULL AS disabled, session_epoch FROM users
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

/// One row of the admin's user list.
#[derive(Debug, Clone, sqlx::FromRow)]
pub struct UserRow {
    pub id: UserId,
    pub username: String,
    pub display_name: String,
    pub email: String,
    pub role: Role,
    pub disabled: bool,
    pub has_password: bool,
    /// Slugs of the linked providers.
    pub providers: Vec<String>,
}

impl UserRow {
    /// "password, GitHub": how this person can log in, for the admin's list.
    pub fn login_methods(&self) -> String {
        let providers = self
            .providers
            .iter()
            .filter_map(|p| p.parse::<Provider>().ok());
        let methods: Vec<&str> = self
            .has_password
            .then_some("password")
            .into_iter()
            .chain(providers.map(Provider::label))
            .collect();
        match methods.as_slice() {
            [] => "no way to log in".into(),
            _ => methods.join(", "),
        }
    }
}

/// The columns of a `UserRow`, selected from `users`.
macro_rules! user_row_columns {
    () => {
        "id, username, display_name, email, role, disabled_at IS NOT NULL AS disabled,
         password_hash IS NOT NULL AS has_password,
         ARRAY(SELECT provider FROM identities i WHERE i.user_id = users.id ORDER BY provider)
           AS providers"
    };
}

/// Users whose username, name or email contains `q`, alphabetically.
pub async fn list(
    db: impl PgExecutor<'_>,
    q: &str,
    limit: i64,
    offset: i64,
) -> sqlx::Result<Vec<UserRow>> {
    let pattern = crate::db::contains_pattern(q);
    sqlx::query_as(concat!(
        "SELECT ",
        user_row_columns!(),
        " FROM users
          WHERE $1 = '%%' OR username ILIKE $1 OR display_name ILIKE $1 OR email ILIKE $1
          ORDER BY username
          LIMIT $2 OFFSET $3"
    ))
    .bind(pattern)
    .bind(limit)
    .bind(offset)
    .fetch_all(db)
    .await
}

/// Lock the active admins' rows and list them (`accounts::keep_an_admin`, inside the
/// change's transaction, so two admins can't demote each other at the same moment).
pub async fn lock_active_admins(conn: &mut PgConnection) -> sqlx::Result<Vec<UserId>> {
    sqlx::query_scalar(
        "SELECT id FROM users WHERE role = 'admin' AND disabled_at IS NULL FOR UPDATE",
    )
    .fetch_all(&mut *conn)
    .await
}

pub async fn find_row(db: impl PgExecutor<'_>, id: UserId) -> sqlx::Result<Option<UserRow>> {
    sqlx::query_as(concat!(
        "SELECT ",
        user_row_columns!(),
        " FROM users WHERE id = $1"
    ))
    .bind(id)
    .fetch_optional(db)
    .await
}

pub async fn set_role(db: impl PgExecutor<'_>, id: UserId, role: Role) -> sqlx::Result<()> {
    sqlx::query("UPDATE users SET role = $2 WHERE id = $1")
        .bind(id)
        .bind(role)
        .execute(db)
        .await?;
    Ok(())
}

pub async fn set_disabled(db: impl PgExecutor<'_>, id: UserId, disabled: bool) -> sqlx::Result<()> {
    sqlx::query(
        "UPDATE users SET disabled_at = CASE WHEN $2 THEN COALESCE(disabled_at, now()) END
          WHERE id = $1",
    )
    .bind(id)
    .bind(disabled)
    .execute(db)
    .await?;
    Ok(())
}

/// The profile fields a user edits on /account.
#[derive(Debug, Clone, sqlx::FromRow)]
pub struct Profile {
    pub username: String,
    pub email: String,
    pub display_name: String,
    pub bio: String,
    pub avatar_url: Option<String>,
    pub has_password: bool,
    pub email_verified: bool,
    pub notify_comments: bool,
}

pub async fn profile(db: impl PgExecutor<'_>, id: UserId) -> sqlx::Result<Option<Profile>> {
    sqlx::query_as(
        "SELECT username, email, display_name, bio, avatar_url,
                password_hash IS NOT NULL AS has_password, email_verified, notify_comments
           FROM users WHERE id = $1",
    )
    .bind(id)
    .fetch_optional(db)
    .await
}

/// Whether the account is emailed about new comments on its posts.
pub async fn set_notify_comments(
    db: impl PgExecutor<'_>,
    id: UserId,
    on: bool,
) -> sqlx::Result<()> {
    sqlx::query("UPDATE users SET notify_comments = $2 WHERE id = $1")
        .bind(id)
        .bind(on)
        .execute(db)
        .await?;
    Ok(())
}

pub async fn update_profile(
    db: impl PgExecutor<'_>,
    id: UserId,
    display_name: &str,
    bio: &str,
    avatar_url: Option<&str>,
) -> sqlx::Result<()> {
    sqlx::query("UPDATE users SET display_name = $2, bio = $3, avatar_url = $4 WHERE id = $1")
        .bind(id)
        .bind(display_name)
        .bind(bio)
        .bind(avatar_url)
        .execute(db)
        .await?;
    Ok(())
}

pub async fn password_hash(db: impl PgExecutor<'_>, id: UserId) -> sqlx::Result<Option<String>> {
    sqlx::query_scalar("SELECT password_hash FROM users WHERE id = $1")
        .bind(id)
        .fetch_optional(db)
        .await
        .map(Option::flatten)
}

/// Set the password and end every session of the account: returns the new session epoch,
/// which the session that made the change takes on to stay logged in.
pub async fn set_password_hash(
    db: impl PgExecutor<'_>,
    id: UserId,
    hash: &str,
) -> sqlx::Result<i32> {
    sqlx::query_scalar(
        "UPDATE users SET password_hash = $2, session_epoch = session_epoch + 1
          WHERE id = $1 RETURNING session_epoch",
    )
    .bind(id)
    .bind(hash)
    .fetch_one(db)
    .await
}

/// End every session of the account ("log out everywhere"); returns the new epoch.
pub async fn bump_session_epoch(db: impl PgExecutor<'_>, id: UserId) -> sqlx::Result<i32> {
    sqlx::query_scalar(
        "UPDATE users SET session_epoch = session_epoch + 1 WHERE id = $1 RETURNING session_epoch",
    )
    .bind(id)
    .fetch_one(db)
    .await
}

/// The account's session epoch, for a session being started.
pub async fn session_epoch(db: impl PgExecutor<'_>, id: UserId) -> sqlx::Result<i32> {
    sqlx::query_scalar("SELECT session_epoch FROM users WHERE id = $1")
        .bind(id)
        .fetch_one(db)
        .await
}

/// Mark the account's address as vouched for (it was made by a provider that verified it).
pub async fn set_email_verified(db: impl PgExecutor<'_>, id: UserId) -> sqlx::Result<()> {
    sqlx::query("UPDATE users SET email_verified = true WHERE id = $1")
        .bind(id)
        .execute(db)
        .await?;
    Ok(())
}

/// Delete an account nothing of the site's refers to (no post, revision or upload), as the
/// demo authors once their posts are gone; `false` if something still does.
pub async fn delete_if_unused(db: impl PgExecutor<'_>, id: UserId) -> sqlx::Result<bool> {
    Ok(sqlx::query(
        "DELETE FROM users u WHERE u.id = $1
            AND NOT EXISTS (SELECT 1 FROM posts p WHERE p.author_id = u.id)
            AND NOT EXISTS (SELECT 1 FROM post_revisions r WHERE r.editor_id = u.id)
            AND NOT EXISTS (SELECT 1 FROM uploads x WHERE x.uploader_id = u.id)",
    )
    .bind(id)
    .execute(db)
    .await?
    .rows_affected()
        == 1)
}

/// Delete an account, keeping its posts, revisions and uploads under the "former-author"
/// placeholder (created on first use; it can't log in). Its comments go with it.
pub async fn delete_keeping_posts(conn: &mut PgConnection, id: UserId) -> sqlx::Result<()> {
    let placeholder: UserId = sqlx::query_scalar(
        "INSERT INTO users (username, email, display_name, bio, role, disabled_at)
         VALUES ('former-author', 'former-author@invalid.invalid', 'Former author', '', 'author', now())
         ON CONFLICT (username) DO UPDATE SET username = EXCLUDED.username
         RETURNING id",
    )
    .fetch_one(&mut *conn)
    .await?;
    for sql in [
        "UPDATE posts SET author_id = $2 WHERE author_id = $1",
        "UPDATE post_revisions SET editor_id = $2 WHERE editor_id = $1",
        "UPDATE uploads SET uploader_id = $2 WHERE uploader_id = $1",
    ] {
        sqlx::query(sql)
            .bind(id)
            .bind(placeholder)
            .execute(&mut *conn)
            .await?;
    }
    sqlx::query("DELETE FROM users WHERE id = $1")
        .bind(id)
        .execute(&mut *conn)
        .await?;
    Ok(())
}

// ---- identities: accounts at OAuth providers ----

/// An account found by an identity or an email, and whether it may log in.
#[derive(Debug, sqlx::FromRow)]
pub struct Owner {
    pub id: UserId,
    pub disabled: bool,
    /// Does the owner control the account's address (see the users.email_verified column)?
    pub email_verified: bool,
    /// Has someone set a password on it (see `accounts::log_in_with`)?
    pub has_password: bool,
}

pub async fn identity_owner(
    db: impl PgExecutor<'_>,
    provider: Provider,
    provider_user_id: &str,
) -> sqlx::Result<Option<Owner>> {
    sqlx::query_as(
        "SELECT u.id, u.disabled_at IS NOT NULL AS disabled, u.email_verified,
                u.password_hash IS NOT NULL AS has_password
           FROM identities i JOIN users u ON u.id = i.user_id
          WHERE i.provider = $1 AND i.provider_user_id = $2",
    )
    .bind(provider.slug())
    .bind(provider_user_id)
    .fetch_optional(db)
    .await
}

/// The account with this email (compared case-insensitively, as the unique index does).
pub async fn email_owner(db: impl PgExecutor<'_>, email: &str) -> sqlx::Result<Option<Owner>> {
    sqlx::query_as(
        "SELECT id, disabled_at IS NOT NULL AS disabled, email_verified,
                password_hash IS NOT NULL AS has_password
           FROM users WHERE lower(email) = lower($1)",
    )
    .bind(email)
    .fetch_optional(db)
    .await
}

/// `base`, else `base-2`, `base-3`… whichever is free first. The unique index still decides
/// if someone takes it between this and the insert.
pub async fn free_username(db: impl PgExecutor<'_>, base: &Username) -> sqlx::Result<Username> {
    let taken: Vec<String> = sqlx::query_scalar(
        "SELECT username FROM users WHERE username = $1 OR username LIKE $1 || '-%'",
    )
    .bind(base.as_str())
    .fetch_all(db)
    .await?;
    let free = (1..)
        .map(|n| match n {
            1 => base.as_str().to_owned(),
            n => format!("{base}-{n}"),
        })
        .find(|candidate| !taken.contains(candidate))
        .and_then(|c| Username::parse(&c).ok());
    Ok(free.unwrap_or_else(|| base.clone()))
}

pub async fn set_avatar_url(db: impl PgExecutor<'_>, id: UserId, url: &str) -> sqlx::Result<()> {
    sqlx::query("UPDATE users SET avatar_url = $2 WHERE id = $1")
        .bind(id)
        .bind(url)
        .execute(db)
        .await?;
    Ok(())
}

pub async fn insert_identity(
    db: impl PgExecutor<'_>,
    user: UserId,
    provider: Provider,
    account: &ProviderAccount,
) -> sqlx::Result<()> {
    sqlx::query(
        "INSERT INTO identities (user_id, provider, provider_user_id, provider_login, email)
         VALUES ($1, $2, $3, $4, $5)",
    )
    .bind(user)
    .bind(provider.slug())
    .bind(&account.id)
    .bind(&account.login)
    .bind(&account.email)
    .execute(db)
    .await?;
    Ok(())
}

/// Remember when the identity was last used, and its login and email as they are now.
pub async fn touch_identity(
    db: impl PgExecutor<'_>,
    provider: Provider,
    account: &ProviderAccount,
) -> sqlx::Result<()> {
    sqlx::query(
        "UPDATE identities SET last_used_at = now(), provider_login = $3, email = $4
          WHERE provider = $1 AND provider_user_id = $2",
    )
    .bind(provider.slug())
    .bind(&account.id)
    .bind(&account.login)
    .bind(&account.email)
    .execute(db)
    .await?;
    Ok(())
}

/// An identity as /account lists it.
#[derive(Debug, Clone, sqlx::FromRow)]
pub struct LinkedIdentity {
    pub provider: String,
    pub provider_login: String,
    pub email: Option<String>,
    pub created_at: OffsetDateTime,
}

impl LinkedIdentity {
    pub fn linked_on(&self) -> String {
        crate::render::page::human_date(&self.created_at)
    }
}

pub async fn identities(
    db: impl PgExecutor<'_>,
    user: UserId,
) -> sqlx::Result<Vec<LinkedIdentity>> {
    sqlx::query_as(
        "SELECT provider, provider_login, email, created_at FROM identities
          WHERE user_id = $1 ORDER BY provider",
    )
    .bind(user)
    .fetch_all(db)
    .await
}

/// Lock the account's row, then report its ways to log in: whether it has a password, and
/// the providers linked. Unlinking checks this in its transaction, so two unlinks at once
/// can't leave the account with none.
pub async fn lock_login_methods(
    conn: &mut PgConnection,
    user: UserId,
) -> sqlx::Result<(bool, Vec<String>)> {
    let has_password: bool =
        sqlx::query_scalar("SELECT password_hash IS NOT NULL FROM users WHERE id = $1 FOR UPDATE")
            .bind(user)
            .fetch_one(&mut *conn)
            .await?;
    let providers = sqlx::query_scalar("SELECT provider FROM identities WHERE user_id = $1")
        .bind(user)
        .fetch_all(&mut *conn)
        .await?;
    Ok((has_password, providers))
}

pub async fn delete_identity(
    db: impl PgExecutor<'_>,
    user: UserId,
    provider: Provider,
) -> sqlx::Result<()> {
    sqlx::query("DELETE FROM identities WHERE user_id = $1 AND provider = $2")
        .bind(user)
        .bind(provider.slug())
        .execute(db)
        .await?;
    Ok(())
}

/// What the JSON API shows of a person: their public profile, and whether the viewer
/// follows them.
#[derive(Debug, Clone, sqlx::FromRow)]
pub struct PublicProfile {
    pub id: UserId,
    pub username: String,
    pub bio: String,
    pub avatar_url: Option<String>,
    pub following: bool,
    pub followers: i64,
}

/// `username`'s public profile as `viewer` sees it, unless the account is missing or
/// disabled.
pub async fn public_profile(
    db: impl PgExecutor<'_>,
    username: &str,
    viewer: Option<UserId>,
) -> sqlx::Result<Option<PublicProfile>> {
    sqlx::query_as(
        "SELECT u.id, u.username, u.bio, u.avatar_url,
                EXISTS (SELECT 1 FROM follows f
                         WHERE f.follower_id = $2 AND f.followed_id = u.id) AS following,
                (SELECT count(*) FROM follows f WHERE f.followed_id = u.id) AS followers
           FROM users u
          WHERE u.username = lower($1) AND u.disabled_at IS NULL",
    )
    .bind(username)
    .bind(viewer)
    .fetch_optional(db)
    .await
}

/// `follower` follows `followed` (again: no change).
pub async fn follow(
    db: impl PgExecutor<'_>,
    follower: UserId,
    followed: UserId,
) -> sqlx::Result<()> {
    sqlx::query(
        "INSERT INTO follows (follower_id, followed_id) VALUES ($1, $2) ON CONFLICT DO NOTHING",
    )
    .bind(follower)
    .bind(followed)
    .execute(db)
    .await?;
    Ok(())
}

pub async fn unfollow(
    db: impl PgExecutor<'_>,
    follower: UserId,
    followed: UserId,
) -> sqlx::Result<()> {
    sqlx::query("DELETE FROM follows WHERE follower_id = $1 AND followed_id = $2")
        .bind(follower)
        .bind(followed)
        .execute(db)
        .await?;
    Ok(())
}

/// The fields of an account its owner changes through the API, all at once.
#[derive(Debug)]
pub struct AccountChange<'a> {
    pub username: &'a str,
    pub email: &'a str,
    pub bio: &'a str,
    pub avatar_url: Option<&'a str>,
}

/// Change an account's name, address, bio and picture; a taken username or email is the
/// unique index's error (`users_username_key`, `users_email_key`).
pub async fn update_account(
    db: impl PgExecutor<'_>,
    id: UserId,
    change: &AccountChange<'_>,
) -> sqlx::Result<()> {
    sqlx::query(
        "UPDATE users SET username = $2, email = $3, bio = $4, avatar_url = $5,
                email_verified = email_verified AND lower(email) = lower($3)
          WHERE id = $1",
    )
    .bind(id)
    .bind(change.username)
    .bind(change.email)
    .bind(change.bio)
    .bind(change.avatar_url)
    .execute(db)
    .await?;
    Ok(())
}

/// The first admin account that is not disabled (the one an import acts as by default).
pub async fn first_admin(db: impl PgExecutor<'_>) -> sqlx::Result<Option<UserId>> {
    sqlx::query_scalar(
        "SELECT id FROM users WHERE role = 'admin' AND disabled_at IS NULL ORDER BY id LIMIT 1",
    )
    .fetch_optional(db)
    .await
}

/// An account as `quire export` writes it: who they are, never how they log in (no password
/// hash, session epoch or linked identity leaves the site).
#[derive(Debug, Clone, sqlx::FromRow)]
pub struct ExportedUser {
    pub id: UserId,
    pub username: String,
    pub email: String,
    pub display_name: String,
    pub bio: String,
    pub avatar_url: Option<String>,
    pub role: Role,
    pub disabled: bool,
    pub email_verified: bool,
    pub created_at: OffsetDateTime,
}

/// The next `limit` accounts after id `after`, by id: the export reads them in pages.
pub async fn export_after(
    db: impl PgExecutor<'_>,
    after: i64,
    limit: i64,
) -> sqlx::Result<Vec<ExportedUser>> {
    sqlx::query_as(
        "SELECT id, username, email, display_name, bio, avatar_url, role,
                disabled_at IS NOT NULL AS disabled, email_verified, created_at
           FROM users WHERE id > $1 ORDER BY id LIMIT $2",
    )
    .bind(after)
    .bind(limit)
    .fetch_all(db)
    .await
}

/// How many accounts there are.
pub async fn count(db: impl PgExecutor<'_>) -> sqlx::Result<i64> {
    sqlx::query_scalar("SELECT count(*) FROM users")
        .fetch_one(db)
        .await
}

/// `export_after`, only the accounts with a post or page (trashed ones aside): the WXR's
/// authors (readers stay behind).
pub async fn export_authors_after(
    db: impl PgExecutor<'_>,
    after: i64,
    limit: i64,
) -> sqlx::Result<Vec<ExportedUser>> {
    sqlx::query_as(
        "SELECT id, username, email, display_name, bio, avatar_url, role,
                disabled_at IS NOT NULL AS disabled, email_verified, created_at
           FROM users
          WHERE id > $1
            AND EXISTS (SELECT 1 FROM posts p WHERE p.author_id = users.id
                                               AND p.deleted_at IS NULL)
          ORDER BY id LIMIT $2",
    )
    .bind(after)
    .bind(limit)
    .fetch_all(db)
    .await
}

/// The authors `ids` (GraphQL's author loader): one statement for a page of posts.
pub async fn authors_by_ids(
    db: impl PgExecutor<'_>,
    ids: &[UserId],
) -> sqlx::Result<Vec<crate::accounts::model::Author>> {
    let ids: Vec<i64> = ids.iter().map(|id| id.0).collect();
    sqlx::query_as(
        "SELECT id, username, display_name, bio, avatar_url FROM users WHERE id = ANY($1)",
    )
    .bind(ids)
    .fetch_all(db)
    .await
}
