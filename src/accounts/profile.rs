//! `/account`: a person's own profile, password, linked providers and account deletion.

use actix_web::{HttpResponse, http::StatusCode, web};
use askama::Template;
use serde::Deserialize;

use super::{
    change::{Field, ProfileChange, ProfileFields},
    model::{CurrentUser, Password, Provider},
    repo::{self, LinkedIdentity, Profile},
    session::AuthSession,
};
use crate::render::page::personal as render;
use crate::{
    error::Error,
    extract::{CsrfForm, SignedIn, TokenOnly, header},
    render::{Layout, form::FormErrors},
    state::AppState,
};

#[derive(Template)]
#[template(path = "accounts/account.html")]
pub(crate) struct AccountPage {
    layout: Layout,
    csrf_token: String,
    profile: Profile,
    connections: Vec<Connection>,
    /// Which section the errors belong to: "profile", "password", "connections" or "delete".
    section: &'static str,
    errors: FormErrors,
    notice: Option<&'static str>,
    /// The site sends email.
    mail: bool,
    /// Commenting waits for a verified address.
    verify_required: bool,
    /// Writes posts, so may be told of comments on them.
    can_write: bool,
    /// The newsletter subscription of the account's address: pending, confirmed or
    /// unsubscribed, if there is one.
    subscription: Option<String>,
    /// The images the avatar's picker offers (the account's own uploads).
    choices: crate::media::admin::Choices,
}

/// A provider on /account: linked (with an unlink button) or not (with a link button).
struct Connection {
    slug: &'static str,
    label: &'static str,
    linked: Option<LinkedIdentity>,
    /// Linking needs the provider enabled; unlinking doesn't.
    can_link: bool,
}

/// Every enabled provider, and any other the user linked before it was switched off.
fn connections(enabled: &[Provider], linked: Vec<LinkedIdentity>) -> Vec<Connection> {
    Provider::ALL
        .into_iter()
        .filter_map(|p| {
            let identity = linked.iter().find(|i| i.provider == p.slug()).cloned();
            let can_link = enabled.contains(&p);
            (can_link || identity.is_some()).then_some(Connection {
                slug: p.slug(),
                label: p.label(),
                linked: identity,
                can_link,
            })
        })
        .collect()
}

pub(crate) async fn page(
    state: &AppState,
    session: &AuthSession,
    user: CurrentUser,
    section: &'static str,
    errors: FormErrors,
    notice: Option<&'static str>,
) -> Result<AccountPage, Error> {
    let profile = repo::profile(&state.db, user.id)
        .await?
        .ok_or(Error::NotFound)?;
    let linked = repo::identities(&state.db, user.id).await?;
    let subscription = crate::newsletter::repo::of_address(&state.db, &profile.email)
        .await?
        .map(|s| s.status);
    Ok(AccountPage {
        connections: connections(&super::oauth::provider::enabled(&state.settings), linked),
        layout: Layout::new(&state.site(), "Your account", "", "/account")
            .noindex()
            .header(Some(header(&user, session))),
        csrf_token: session.csrf_token(),
        profile,
        section,
        errors,
        notice,
        mail: state.settings.mail.is_configured(),
        verify_required: state.site().settings.verify_email,
        can_write: crate::authz::can(&user, crate::authz::Action::Write),
        subscription,
        choices: crate::media::admin::Choices::load(state, &user).await?,
    })
}

#[derive(Debug, Deserialize)]
pub struct Notice {
    pub saved: Option<String>,
}

/// `GET /account`
pub async fn show(
    state: web::Data<AppState>,
    session: AuthSession,
    SignedIn(user): SignedIn,
    query: web::Query<Notice>,
) -> Result<HttpResponse, Error> {
    let notice = match query.saved.as_deref() {
        Some("profile") => Some("Your profile was saved."),
        Some("password") => {
            Some("Your password was saved. Every other session of your account has ended.")
        }
        Some("sessions") => Some("You are logged out everywhere else."),
        Some("linked") => Some("Linked. You can now log in with that account too."),
        Some("unlinked") => Some("Unlinked. You can no longer log in with that account."),
        Some("verify") => Some("A link to verify your address is on its way."),
        Some("notifications") => Some("Your email preferences were saved."),
        Some("subscribed") => Some("Subscribed: new posts will come to your inbox."),
        Some("confirm-subscription") => {
            Some("Almost done: follow the link we emailed you to confirm your subscription.")
        }
        Some("unsubscribed") => Some("Unsubscribed: no more new posts by email."),
        _ => None,
    };
    render(
        StatusCode::OK,
        page(&state, &session, user, "", FormErrors::default(), notice).await?,
    )
}

#[derive(Debug, Deserialize)]
pub struct ProfileForm {
    #[serde(default)]
    pub display_name: String,
    #[serde(default)]
    pub bio: String,
    #[serde(default)]
    pub avatar_url: String,
    /// An image picked in the library's picker (`media::chosen`).
    #[serde(default)]
    pub avatar_url_pick: String,
}

/// The profile form's name for a field of `accounts::change`.
fn form_field(field: Field) -> &'static str {
    match field {
        Field::DisplayName => "display_name",
        Field::Bio => "bio",
        Field::Avatar => "avatar_url",
        Field::Username => "username",
        Field::Email => "email",
        Field::Password => "new_password",
    }
}

/// `POST /account/profile`: checked by `ProfileChange::parse`, the rules the API shares.
pub async fn update_profile(
    state: web::Data<AppState>,
    session: AuthSession,
    SignedIn(user): SignedIn,
    CsrfForm(mut form): CsrfForm<ProfileForm>,
) -> Result<HttpResponse, Error> {
    let mut picks = FormErrors::default();
    crate::media::admin::apply_pick(
        &mut picks,
        "avatar_url",
        &mut form.avatar_url,
        &mut form.avatar_url_pick,
    );
    let fields = ProfileFields {
        display_name: Some(form.display_name.clone()),
        bio: Some(form.bio.clone()),
        avatar_url: Some(form.avatar_url.clone()),
        ..ProfileFields::default()
    };
    let policy = state.settings.accounts.password_policy();
    let parsed = match picks.is_empty() {
        true => ProfileChange::parse(&fields, &policy).map_err(|problems| {
            let mut errors = FormErrors::default();
            for (field, message) in problems.iter() {
                errors.add(form_field(field), crate::input::capitalise(message));
            }
            errors
        }),
        false => Err(picks),
    };
    let errors = match parsed {
        Ok(ProfileChange {
            display_name: Some(name),
            bio: Some(bio),
            avatar_url: Some(avatar),
            ..
        }) => {
            repo::update_profile(&state.db, user.id, &name, &bio, avatar.as_deref()).await?;
            return Ok(crate::render::page::see_other("/account?saved=profile"));
        }
        Ok(_) => {
            return Err(Error::Internal(anyhow::anyhow!(
                "the profile form sends all three fields, so all three come back parsed"
            )));
        }
        Err(errors) => errors,
    };
    let mut page = page(&state, &session, user, "profile", errors, None).await?;
    // Show what they typed, not what is stored.
    page.profile.display_name = form.display_name;
    page.profile.bio = form.bio;
    page.profile.avatar_url = Some(form.avatar_url);
    render(StatusCode::UNPROCESSABLE_ENTITY, page)
}

#[derive(Debug, Deserialize)]
pub struct PasswordForm {
    #[serde(default)]
    pub current_password: String,
    #[serde(default)]
    pub new_password: String,
}

/// `POST /account/password`: needs the current password, if the account has one (an
/// account made by logging in with GitHub or Google sets its first one here).
pub async fn change_password(
    state: web::Data<AppState>,
    session: AuthSession,
    SignedIn(user): SignedIn,
    CsrfForm(form): CsrfForm<PasswordForm>,
) -> Result<HttpResponse, Error> {
    let mut errors = FormErrors::default();
    let has_password = repo::password_hash(&state.db, user.id).await?.is_some();
    if has_password && !super::password_matches(&state, user.id, &form.current_password).await? {
        errors.add("current_password", "That is not your current password");
    }
    let new = errors.check(
        "new_password",
        Password::parse(
            &form.new_password,
            &state.settings.accounts.password_policy(),
        ),
    );
    match new {
        Some(new) if errors.is_empty() => {
            let hash = state.hasher.hash(&new).await?;
            // Every session of the account ends (a new epoch), this one continues under a
            // fresh id: whoever held the old password or the old cookie is out.
            let epoch = repo::set_password_hash(&state.db, user.id, &hash).await?;
            session.log_in(user.id, epoch)?;
            Ok(crate::render::page::see_other("/account?saved=password"))
        }
        _ => render(
            StatusCode::UNPROCESSABLE_ENTITY,
            page(&state, &session, user, "password", errors, None).await?,
        ),
    }
}

/// `POST /account/sessions`: log out everywhere else (other browsers, devices, a cookie
/// someone may have copied); this session continues under a fresh id.
pub async fn log_out_elsewhere(
    state: web::Data<AppState>,
    session: AuthSession,
    SignedIn(user): SignedIn,
    CsrfForm(_): CsrfForm<TokenOnly>,
) -> Result<HttpResponse, Error> {
    let epoch = repo::bump_session_epoch(&state.db, user.id).await?;
    session.log_in(user.id, epoch)?;
    Ok(crate::render::page::see_other("/account?saved=sessions"))
}

#[derive(Debug, Deserialize)]
pub struct DeleteForm {
    #[serde(default)]
    pub confirm_username: String,
    #[serde(default)]
    pub password: String,
}

/// `POST /account/delete`: the account goes; its posts stay, under "Former author".
pub async fn delete(
    state: web::Data<AppState>,
    session: AuthSession,
    SignedIn(user): SignedIn,
    CsrfForm(form): CsrfForm<DeleteForm>,
) -> Result<HttpResponse, Error> {
    let mut errors = FormErrors::default();
    if form.confirm_username.trim().to_lowercase() != user.username {
        errors.add("confirm_username", "Type your username to confirm");
    }
    let has_password = repo::password_hash(&state.db, user.id).await?.is_some();
    if has_password && !super::password_matches(&state, user.id, &form.password).await? {
        errors.add("password", "That is not your password");
    }
    // The admins' rows stay locked until the deletion commits: no race to zero admins.
    let mut tx = state.db.begin().await?;
    if errors.is_empty() {
        match super::keep_an_admin(&mut tx, user.id).await {
            Ok(()) => {}
            Err(super::ManageError::LastAdmin) => {
                errors = FormErrors::general(
                    "You are the last admin: make someone else an admin first.",
                );
            }
            Err(super::ManageError::NotFound) => return Err(Error::NotFound),
            Err(super::ManageError::Other(e)) => return Err(e.into()),
        }
    }
    if !errors.is_empty() {
        drop(tx);
        return render(
            StatusCode::UNPROCESSABLE_ENTITY,
            page(&state, &session, user, "delete", errors, None).await?,
        );
    }
    repo::delete_keeping_posts(&mut tx, user.id).await?;
    tx.commit().await?;
    session.log_out();
    Ok(crate::render::page::see_other("/"))
}

/// `POST /account/verify`: send the verification link (again), a few times an hour.
pub async fn send_verification(
    state: web::Data<AppState>,
    session: AuthSession,
    SignedIn(user): SignedIn,
    _form: CsrfForm<TokenOnly>,
) -> Result<HttpResponse, Error> {
    if !state.settings.mail.is_configured() {
        return Err(Error::BadRequest(
            "This site can't send email, so it can't verify addresses.".into(),
        ));
    }
    let limiter = state.limiter(
        "verify:account",
        super::verify::RESENDS_PER_HOUR,
        std::time::Duration::from_secs(3600),
    );
    if limiter.over(&user.id.0.to_string()).await?.is_some() {
        let errors = FormErrors::general(
            "A link was sent several times in the last hour: look for it, or try again later.",
        );
        return render(
            StatusCode::TOO_MANY_REQUESTS,
            page(&state, &session, user, "verify", errors, None).await?,
        );
    }
    super::verify::queue(&state.db, user.id).await?;
    Ok(crate::render::page::see_other("/account?saved=verify"))
}

#[derive(Debug, Deserialize)]
pub struct NotificationsForm {
    /// A checkbox: present when ticked.
    #[serde(default)]
    notify_comments: Option<String>,
}

/// `POST /account/notifications`: which emails this account gets.
pub async fn set_notifications(
    state: web::Data<AppState>,
    SignedIn(user): SignedIn,
    CsrfForm(form): CsrfForm<NotificationsForm>,
) -> Result<HttpResponse, Error> {
    repo::set_notify_comments(&state.db, user.id, form.notify_comments.is_some()).await?;
    Ok(crate::render::page::see_other(
        "/account?saved=notifications",
    ))
}
