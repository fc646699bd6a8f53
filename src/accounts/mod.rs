//! People: accounts, roles and author pages.

pub mod address;
pub mod address_form;
pub mod admin;
pub mod change;
pub mod hasher;
pub mod model;
pub mod oauth;
pub mod pages;
pub mod profile;
pub mod repo;
pub mod reset;
pub mod session;
pub mod verify;

use std::{net::IpAddr, time::Duration};

use sqlx::PgPool;

use crate::state::AppState;
use model::{Email, NewUser, Provider, ProviderAccount, Role, UserId, Username};

/// Where to go after logging in (`?next=/path`, checked by `render::page::safe_next`).
#[derive(Debug, serde::Deserialize)]
pub struct NextQuery {
    #[serde(default)]
    pub next: String,
}

/// Does `candidate` match the account's password? (Argon2, bounded, off the workers.) An
/// account without one matches nothing.
/// `me` follows (`on`) or stops following `them`; following twice changes nothing. Nobody
/// follows themselves: the one rule for the author page's button, the API and GraphQL.
pub async fn set_following(
    db: &PgPool,
    me: UserId,
    them: UserId,
    on: bool,
) -> Result<(), FollowError> {
    match on {
        true if me == them => Err(FollowError::Yourself),
        true => Ok(repo::follow(db, me, them).await?),
        false => Ok(repo::unfollow(db, me, them).await?),
    }
}

/// Why a follow was refused.
#[derive(Debug, thiserror::Error)]
pub enum FollowError {
    #[error("you can't follow yourself")]
    Yourself,
    #[error(transparent)]
    Db(#[from] sqlx::Error),
}

pub async fn password_matches(
    state: &AppState,
    user: UserId,
    candidate: &str,
) -> Result<bool, crate::error::Error> {
    let Some(hash) = repo::password_hash(&state.db, user).await? else {
        return Ok(false);
    };
    Ok(state.hasher.verify(candidate, &hash).await?)
}

/// A new password account was made: ask it to verify its address, if the site sends email.
pub async fn welcome(state: &AppState, user: UserId) -> Result<(), crate::error::Error> {
    if state.settings.mail.is_configured() {
        verify::queue(&state.db, user).await?;
    }
    Ok(())
}

/// Start `user`'s session under the account's current session epoch.
pub async fn start_session(
    db: &PgPool,
    session: &session::AuthSession,
    user: UserId,
) -> Result<(), crate::error::Error> {
    let epoch = repo::session_epoch(db, user).await?;
    session.log_in(user, epoch)
}

/// How a password login ended.
pub enum LogIn {
    /// The password is right: start a session for `user` under `epoch`.
    Welcome { user: UserId, epoch: i32 },
    /// Over one of the limits: try again in `wait_secs`.
    TooMany { wait_secs: u64 },
    /// The password is right but the account is disabled.
    Disabled,
    /// Wrong password, or no such account: the same answer, so nobody learns which.
    Refused,
}

/// Check a password login from `ip`. Every attempt is counted *before* it is judged (one
/// Redis script, shared by every instance) against three limits, as OWASP recommends:
/// - per account and client address (`accounts.login_attempts` per window): a guesser is
///   stopped after a few tries without locking the owner out from elsewhere;
/// - per account from everywhere (`accounts.account_attempts_per_hour`): slower, for
///   guessing spread over many addresses;
/// - per client address over all accounts (`accounts.address_attempts`): password spraying.
///
/// Accounts are counted by id, so a username and its email are one account. The password
/// is checked with the bounded hasher: when it is busy the error is `Busy` (a 503), not a
/// queue. An unknown account is checked against a fixed hash, so timing tells nothing.
pub async fn log_in(
    state: &AppState,
    ip: IpAddr,
    login: &str,
    password: &str,
) -> Result<LogIn, crate::error::Error> {
    let settings = &state.settings.accounts;
    let user = repo::find_for_login(&state.db, login).await?;
    let account = match &user {
        Some(u) => format!("id:{}", u.id.0),
        None => {
            let typed: String = login.trim().to_lowercase().chars().take(254).collect();
            format!("name:{typed}")
        }
    };
    let window = Duration::from_secs(settings.login_window_secs);
    let here = state.limiter("login:account-address", settings.login_attempts, window);
    let here_key = format!("{account}:{ip}");
    let everywhere = state.limiter(
        "login:account",
        settings.account_attempts_per_hour,
        Duration::from_secs(3600),
    );
    let address = state.limiter("login:address", settings.address_attempts, window);
    let mut wait = None;
    for (limiter, key) in [
        (&here, here_key.as_str()),
        (&everywhere, account.as_str()),
        (&address, &ip.to_string()),
    ] {
        wait = wait.max(limiter.over(key).await?);
    }
    if let Some(wait_secs) = wait {
        return Ok(LogIn::TooMany { wait_secs });
    }
    let hash = user.as_ref().and_then(|u| u.password_hash.as_deref());
    let verified = state
        .hasher
        .verify(password, hash.unwrap_or(model::Password::dummy_hash()))
        .await?;
    Ok(match user {
        Some(u) if verified && !u.disabled && u.password_hash.is_some() => {
            here.reset(&here_key).await?;
            LogIn::Welcome {
                user: u.id,
                epoch: u.session_epoch,
            }
        }
        Some(u) if verified && u.disabled => LogIn::Disabled,
        _ => LogIn::Refused,
    })
}

/// Create the first admin, its password hashed already. An advisory lock serialises
/// concurrent attempts, so exactly one wins even when two people submit /setup at the same
/// moment. `Ok(None)`: too late.
pub async fn create_first_admin(
    db: &PgPool,
    user: &NewUser,
    hash: &str,
) -> anyhow::Result<Option<UserId>> {
    let mut tx = db.begin().await?;
    sqlx::query("SELECT pg_advisory_xact_lock(hashtext('quire:first-admin'))")
        .execute(&mut *tx)
        .await?;
    let id = repo::insert_first_admin(&mut *tx, user, hash).await?;
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

/// Create an account, hashing its password with argon2id (unbounded: for the CLI and
/// tests; requests hash through `AppState::hasher` and call `create_user_with_hash`).
pub async fn create_user(db: &PgPool, user: &NewUser) -> Result<UserId, CreateUserError> {
    let hash = user.password.as_ref().map(|p| p.hash()).transpose()?;
    create_user_with_hash(db, user, hash.as_deref()).await
}

/// Create an account whose password (if any) is already hashed. The unique indexes decide
/// duplicates, so two simultaneous sign-ups with one name can't both succeed.
pub async fn create_user_with_hash(
    db: &PgPool,
    user: &NewUser,
    hash: Option<&str>,
) -> Result<UserId, CreateUserError> {
    match repo::insert(db, user, hash).await {
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

/// The last-admin rule, one function for every door that can take an admin away: the users
/// screen (role change, disable), account deletion and `quire user role`. (The API changes
/// no roles and deletes no accounts.) A change that would stop `target`
/// being an active admin is refused when they are the only one. It locks the active admins'
/// rows, so call it in the change's transaction, before the change: two admins can't demote
/// each other at the same moment.
pub async fn keep_an_admin(
    conn: &mut sqlx::PgConnection,
    target: UserId,
) -> Result<(), ManageError> {
    let admins = repo::lock_active_admins(conn).await?;
    match admins.as_slice() {
        [only] if *only == target => Err(ManageError::LastAdmin),
        _ => Ok(()),
    }
}

/// Give `id` a new role (or disable/enable it), never leaving the site without an active
/// admin (`keep_an_admin`).
pub async fn manage(
    db: &PgPool,
    id: UserId,
    role: Option<model::Role>,
    disabled: Option<bool>,
) -> Result<(), ManageError> {
    let mut tx = db.begin().await?;
    let stops_being_admin = role.is_some_and(|r| r != model::Role::Admin) || disabled == Some(true);
    if stops_being_admin {
        keep_an_admin(&mut tx, id).await?;
    }
    let target = repo::find_row(&mut *tx, id)
        .await?
        .ok_or(ManageError::NotFound)?;
    if let Some(role) = role {
        repo::set_role(&mut *tx, id, role).await?;
    }
    if let Some(disabled) = disabled {
        repo::set_disabled(&mut *tx, id, disabled).await?;
    }
    if disabled == Some(true) && !target.disabled {
        // Whatever the account held stays dead when it is enabled again: sessions and API
        // tokens (a new epoch), and password reset links.
        repo::bump_session_epoch(&mut *tx, id).await?;
        reset::repo::use_up_all(&mut *tx, id).await?;
    }
    tx.commit().await?;
    Ok(())
}

// ---- logging in with a provider ----

/// Why a provider login was refused. Nothing is created in any of these cases.
#[derive(Debug, thiserror::Error)]
pub enum ProviderLoginError {
    #[error("the account is disabled")]
    Disabled,
    #[error("the provider did not vouch for an email address")]
    EmailNotVerified,
    /// The account with this email already has another identity at this provider.
    #[error("the account with this email is linked to another identity at the provider")]
    EmailOwnerLinkedElsewhere,
    /// An account with this email exists, but either nobody has shown they control its
    /// address, or it has a password: logging in to it through the provider would let
    /// whoever registered the address first (and set that password) share the account
    /// (pre-hijacking). Its owner logs in with the password and links the provider.
    #[error("an account with this email exists and must link the provider itself")]
    EmailOwnerMustLink,
    /// Nobody has an account for this identity, and admins closed registrations.
    #[error("registrations are closed")]
    RegistrationsClosed,
    #[error(transparent)]
    Db(#[from] sqlx::Error),
}

fn is_unique_violation(e: &sqlx::Error) -> bool {
    matches!(e, sqlx::Error::Database(d) if d.is_unique_violation())
}

fn violates(e: &sqlx::Error, constraint: &str) -> bool {
    matches!(e, sqlx::Error::Database(d) if d.constraint() == Some(constraint))
}

/// The account `account` logs in as (`role`: what a new one gets, `None` while registrations
/// are closed): the one its identity is linked to; else the account
/// whose email the provider has verified (linking the identity to it); else a new account
/// (role `role`) made from the provider's login, name and verified email.
pub async fn log_in_with(
    db: &PgPool,
    provider: Provider,
    account: &ProviderAccount,
    role: Option<Role>,
) -> Result<UserId, ProviderLoginError> {
    // Two first logins racing (two tabs) collide on a unique index: the retry finds the
    // winner's rows.
    let mut attempt = 0;
    loop {
        match try_log_in_with(db, provider, account, role).await {
            Err(ProviderLoginError::Db(e)) if is_unique_violation(&e) && attempt < 2 => {
                attempt += 1;
            }
            result => return result,
        }
    }
}

async fn try_log_in_with(
    db: &PgPool,
    provider: Provider,
    account: &ProviderAccount,
    role: Option<Role>,
) -> Result<UserId, ProviderLoginError> {
    let mut tx = db.begin().await?;
    if let Some(owner) = repo::identity_owner(&mut *tx, provider, &account.id).await? {
        if owner.disabled {
            return Err(ProviderLoginError::Disabled);
        }
        repo::touch_identity(&mut *tx, provider, account).await?;
        tx.commit().await?;
        return Ok(owner.id);
    }
    let email: Email = account
        .verified_email()
        .ok_or(ProviderLoginError::EmailNotVerified)?;
    let id = match repo::email_owner(&mut *tx, email.as_str()).await? {
        Some(owner) if owner.disabled => return Err(ProviderLoginError::Disabled),
        Some(owner) if !owner.email_verified || owner.has_password => {
            return Err(ProviderLoginError::EmailOwnerMustLink);
        }
        Some(owner) => owner.id,
        None => {
            let role = role.ok_or(ProviderLoginError::RegistrationsClosed)?;
            let username =
                repo::free_username(&mut *tx, &Username::suggest(&account.login)).await?;
            let user = NewUser {
                username,
                email,
                display_name: account.display_name(),
                bio: String::new(),
                password: None,
                role,
            };
            let id = repo::insert(&mut *tx, &user, None).await?;
            repo::set_email_verified(&mut *tx, id).await?;
            if let Some(avatar) = account.avatar() {
                repo::set_avatar_url(&mut *tx, id, avatar).await?;
            }
            id
        }
    };
    match repo::insert_identity(&mut *tx, id, provider, account).await {
        Err(e) if violates(&e, "identities_user_provider_key") => {
            return Err(ProviderLoginError::EmailOwnerLinkedElsewhere);
        }
        result => result?,
    }
    tx.commit().await?;
    Ok(id)
}

/// Why linking an identity to a logged-in account was refused.
#[derive(Debug, thiserror::Error)]
pub enum LinkError {
    #[error("that identity is linked to another account")]
    LinkedToAnother,
    #[error("this account already has an identity at that provider")]
    AlreadyHasOne,
    #[error(transparent)]
    Db(#[from] sqlx::Error),
}

/// Link `account` to `user`, who is logged in and asked for it. Linking the same identity
/// again is fine; one that belongs to someone else is refused.
pub async fn link_identity(
    db: &PgPool,
    user: UserId,
    provider: Provider,
    account: &ProviderAccount,
) -> Result<(), LinkError> {
    let mut tx = db.begin().await?;
    match repo::identity_owner(&mut *tx, provider, &account.id).await? {
        Some(owner) if owner.id == user => {
            repo::touch_identity(&mut *tx, provider, account).await?
        }
        Some(_) => return Err(LinkError::LinkedToAnother),
        None => match repo::insert_identity(&mut *tx, user, provider, account).await {
            Err(e) if violates(&e, "identities_user_provider_key") => {
                return Err(LinkError::AlreadyHasOne);
            }
            Err(e) if violates(&e, "identities_provider_user_key") => {
                return Err(LinkError::LinkedToAnother);
            }
            result => result?,
        },
    }
    tx.commit().await?;
    Ok(())
}

/// Every way a provider login or link can end without one. Nothing is created in any of them.
#[derive(Debug)]
pub enum ProviderFailure {
    /// The callback's state is not the one this session sent, or the flow is gone.
    State,
    Denied,
    MissingCode,
    Upstream(oauth::Upstream),
    Disabled,
    EmailNotVerified,
    EmailOwnerLinkedElsewhere,
    EmailOwnerMustLink,
    RegistrationsClosed,
    LinkedToAnother,
    AlreadyHasOne,
}

impl ProviderLoginError {
    /// The refusal to show the person, or the database error behind it.
    fn refusal(self) -> Result<ProviderFailure, sqlx::Error> {
        Ok(match self {
            Self::Disabled => ProviderFailure::Disabled,
            Self::EmailNotVerified => ProviderFailure::EmailNotVerified,
            Self::EmailOwnerLinkedElsewhere => ProviderFailure::EmailOwnerLinkedElsewhere,
            Self::EmailOwnerMustLink => ProviderFailure::EmailOwnerMustLink,
            Self::RegistrationsClosed => ProviderFailure::RegistrationsClosed,
            Self::Db(e) => return Err(e),
        })
    }
}

impl LinkError {
    /// The refusal to show the person, or the database error behind it.
    fn refusal(self) -> Result<ProviderFailure, sqlx::Error> {
        Ok(match self {
            Self::LinkedToAnother => ProviderFailure::LinkedToAnother,
            Self::AlreadyHasOne => ProviderFailure::AlreadyHasOne,
            Self::Db(e) => return Err(e),
        })
    }
}

/// How a provider's callback ended well.
pub enum ProviderDone {
    /// Log this account in.
    LogIn(UserId),
    /// The identity is now linked to the account that asked.
    Linked,
}

/// The provider sent someone back with `code` for a flow this session began (its state
/// checked by the caller): trade the code for the provider's account, then link it to
/// `link_to` (the logged-in account that asked, from /account) or log in with it. The outer
/// error is the database's; the inner one is the refusal to show the person.
pub async fn finish_provider_login(
    state: &AppState,
    oauth: &oauth::Providers,
    provider: Provider,
    code: String,
    verifier: String,
    link_to: Option<UserId>,
) -> Result<Result<ProviderDone, ProviderFailure>, sqlx::Error> {
    let account = match oauth.account(provider, code, verifier).await {
        Ok(account) => account,
        Err(e) => {
            tracing::warn!(provider = provider.slug(), error = %e, "provider login failed");
            return Ok(Err(ProviderFailure::Upstream(e)));
        }
    };
    if let Some(user) = link_to {
        return match link_identity(&state.db, user, provider, &account).await {
            Ok(()) => Ok(Ok(ProviderDone::Linked)),
            Err(e) => e.refusal().map(Err),
        };
    }
    let settings = &state.site().settings;
    let role = settings.registrations_open.then_some(settings.default_role);
    match log_in_with(&state.db, provider, &account, role).await {
        Ok(id) => Ok(Ok(ProviderDone::LogIn(id))),
        Err(e) => e.refusal().map(Err),
    }
}

/// Why an unlink was refused.
#[derive(Debug, thiserror::Error)]
pub enum UnlinkError {
    #[error("it is the account's last way to log in")]
    LastWay,
    #[error(transparent)]
    Db(#[from] sqlx::Error),
}

/// Unlink `user`'s identity at `provider`, unless nothing would be left to log in with: a
/// password, or an identity at another provider that is still `enabled`. Unlinking what
/// isn't linked does nothing.
pub async fn unlink_identity(
    db: &PgPool,
    user: UserId,
    provider: Provider,
    enabled: &[Provider],
) -> Result<(), UnlinkError> {
    let mut tx = db.begin().await?;
    let (has_password, linked) = repo::lock_login_methods(&mut tx, user).await?;
    if !linked.iter().any(|p| p == provider.slug()) {
        return Ok(());
    }
    let others = linked
        .iter()
        .filter(|p| *p != provider.slug() && enabled.iter().any(|e| e.slug() == *p))
        .count();
    if !has_password && others == 0 {
        return Err(UnlinkError::LastWay);
    }
    repo::delete_identity(&mut *tx, user, provider).await?;
    tx.commit().await?;
    Ok(())
}
