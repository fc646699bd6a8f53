//! People: accounts, roles and author pages.

pub mod model;
pub mod pages;
pub mod repo;

use actix_web::web;
use sqlx::PgPool;

use crate::app::read;
use model::{NewUser, UserId};

pub fn routes(cfg: &mut web::ServiceConfig) {
    cfg.route("/authors/{username}", read().to(pages::author));
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
