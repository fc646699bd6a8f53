//! People: accounts, roles and author pages.

pub mod admin;
pub mod forms;
pub mod model;
pub mod pages;
pub mod profile;
pub mod repo;
pub mod session;

use actix_web::web;
use sqlx::PgPool;

use crate::app::read;
use model::{NewUser, UserId};

pub fn routes(cfg: &mut web::ServiceConfig) {
    cfg.route("/authors/{username}", read().to(pages::author))
        .route("/setup", read().to(forms::setup_form))
        .route("/setup", web::post().to(forms::setup))
        .route("/register", read().to(forms::register_form))
        .route("/register", web::post().to(forms::register))
        .route("/login", read().to(forms::login_form))
        .route("/login", web::post().to(forms::log_in))
        .route("/logout", web::post().to(forms::log_out));
    admin::routes(cfg);
    profile::routes(cfg);
}

/// Create the first admin. An advisory lock serialises concurrent attempts, so exactly one
/// wins even when two people submit /setup at the same moment. `Ok(None)`: too late.
pub async fn create_first_admin(db: &PgPool, user: &NewUser) -> anyhow::Result<Option<UserId>> {
    let password = user
        .password
        .as_ref()
        .ok_or_else(|| anyhow::anyhow!("the first admin needs a password"))?;
    let hash = password.hash()?;
    let mut tx = db.begin().await?;
    sqlx::query("SELECT pg_advisory_xact_lock(hashtext('quire:first-admin'))")
        .execute(&mut *tx)
        .await?;
    let id = repo::insert_first_admin(&mut *tx, user, &hash).await?;
    tx.commit().await?;
    Ok(id)
}

/// Why creating an account failed, in words for the person who asked.
#[derive(Debug, thiserror::Error)]
pub enum CreateUserError {
    #[error("the username {0:?} is taken")]
    UsernameTaken(String),
    #[error("an account with that email already exists")]
    EmailTaken,
    #[error(transparent)]
    Other(#[from] anyhow::Error),
}

/// Create an account, hashing its password with argon2id. The unique indexes decide
/// duplicates, so two simultaneous sign-ups with one name can't both succeed.
pub async fn create_user(db: &PgPool, user: &NewUser) -> Result<UserId, CreateUserError> {
    let hash = user.password.as_ref().map(|p| p.hash()).transpose()?;
    match repo::insert(db, user, hash.as_deref()).await {
        Ok(id) => Ok(id),
        Err(sqlx::Error::Database(e)) if e.constraint() == Some("users_username_key") => Err(
            CreateUserError::UsernameTaken(user.username.as_str().to_owned()),
        ),
        Err(sqlx::Error::Database(e)) if e.constraint() == Some("users_email_key") => {
            Err(CreateUserError::EmailTaken)
        }
        Err(e) => Err(CreateUserError::Other(e.into())),
    }
}

/// Why an admin's change to an account was refused.
#[derive(Debug, thiserror::Error)]
pub enum ManageError {
    #[error("no such account")]
    NotFound,
    #[error("this is the last active admin: make someone else an admin first")]
    LastAdmin,
    #[error(transparent)]
    Other(#[from] sqlx::Error),
}

/// Give `id` a new role (or disable/enable it), never leaving the site without an active
/// admin. The admins' rows are locked for the check, so two admins can't demote each other
/// at the same moment.
pub async fn manage(
    db: &PgPool,
    id: UserId,
    role: Option<model::Role>,
    disabled: Option<bool>,
) -> Result<(), ManageError> {
    let mut tx = db.begin().await?;
    let admins = repo::lock_active_admins(&mut tx).await?;
    let target = repo::find_row(&mut *tx, id)
        .await?
        .ok_or(ManageError::NotFound)?;
    let is_active_admin = target.role == model::Role::Admin && !target.disabled;
    let stops_being_admin = role.is_some_and(|r| r != model::Role::Admin) || disabled == Some(true);
    if is_active_admin && stops_being_admin && admins <= 1 {
        return Err(ManageError::LastAdmin);
    }
    if let Some(role) = role {
        repo::set_role(&mut *tx, id, role).await?;
    }
    if let Some(disabled) = disabled {
        repo::set_disabled(&mut *tx, id, disabled).await?;
    }
    tx.commit().await?;
    Ok(())
}
