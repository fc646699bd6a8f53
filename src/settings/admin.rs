//! `/admin/settings` (admins): the site's title, description, posts per page, footer,
//! accent colour, registrations, new accounts' role and comments; and `/theme.css`, the
//! accent colour as a stylesheet (the Content-Security-Policy allows no inline style).

use actix_web::{HttpResponse, http::StatusCode, web};
use askama::Template;
use serde::Deserialize;

use super::{
    Saved,
    model::{CommentsMode, SiteSettings, chosen_color, parse_color, parse_timezone},
    repo,
};
use crate::{
    accounts::{
        model::{CurrentUser, Role},
        session::AuthSession,
    },
    authz::{self, Action},
    error::Error,
    extract::{CsrfForm, SignedIn, header},
    render::{
        Layout,
        form::FormErrors,
        page::{personal as render, see_other},
    },
    state::AppState,
};

/// The form as sent: every field a string, so a bad value comes back as typed.
#[derive(Debug, Default, Deserialize)]
pub struct SettingsForm {
    #[serde(default)]
    pub title: String,
    #[serde(default)]
    pub description: String,
    #[serde(default)]
    pub posts_per_page: String,
    #[serde(default)]
    pub footer_text: String,
    #[serde(default)]
    pub accent_color: String,
    /// The colour picker beside it, and where it started (`model::chosen_color`).
    #[serde(default)]
    pub accent_color_pick: String,
    #[serde(default)]
    pub accent_color_shown: String,
    /// A checkbox: present when ticked.
    #[serde(default)]
    pub registrations_open: Option<String>,
    #[serde(default)]
    pub default_role: String,
    #[serde(default)]
    pub comments: String,
    #[serde(default)]
    pub logo_url: String,
    #[serde(default)]
    pub icon_url: String,
    /// Images picked in the library's pickers (`media::chosen`).
    #[serde(default)]
    pub logo_url_pick: String,
    #[serde(default)]
    pub icon_url_pick: String,
    #[serde(default)]
    pub timezone: String,
    /// A checkbox: present when ticked.
    #[serde(default)]
    pub verify_email: Option<String>,
    /// The version the admin edited: a save over someone else's is refused.
    #[serde(default)]
    pub version: i64,
}

impl SettingsForm {
    fn from_settings(s: &SiteSettings) -> Self {
        Self {
            title: s.title.clone(),
            description: s.description.clone(),
            posts_per_page: s.posts_per_page.to_string(),
            footer_text: s.footer_text.clone(),
            accent_color: s.accent_color.clone(),
            accent_color_pick: String::new(),
            accent_color_shown: String::new(),
            registrations_open: s.registrations_open.then(|| "on".to_owned()),
            default_role: s.default_role.as_str().to_owned(),
            comments: s.comments.as_str().to_owned(),
            logo_url: s.logo_url.clone(),
            icon_url: s.icon_url.clone(),
            logo_url_pick: String::new(),
            icon_url_pick: String::new(),
            timezone: s.timezone.clone(),
            verify_email: s.verify_email.then(|| "on".to_owned()),
            version: s.version,
        }
    }

    /// The images picked in the library's pickers, put in their fields; a forged pick is
    /// the field's mistake.
    fn take_picks(&mut self) -> FormErrors {
        let mut errors = FormErrors::default();
        let pick = crate::media::admin::apply_pick;
        pick(
            &mut errors,
            "logo_url",
            &mut self.logo_url,
            &mut self.logo_url_pick,
        );
        pick(
            &mut errors,
            "icon_url",
            &mut self.icon_url,
            &mut self.icon_url_pick,
        );
        errors
    }

    /// The settings it asks for, or what is wrong with each field.
    fn parse(&self) -> Result<SiteSettings, FormErrors> {
        let mut errors = FormErrors::default();
        let title = self.title.trim().to_owned();
        if title.is_empty() || title.chars().count() > 120 {
            errors.add("title", "A site title is 1 to 120 characters");
        }
        let description = self.description.trim().to_owned();
        if description.chars().count() > 300 {
            errors.add("description", "A description is at most 300 characters");
        }
        let posts_per_page = match self.posts_per_page.trim().parse::<i32>() {
            Ok(n) if (1..=100).contains(&n) => n,
            _ => {
                errors.add("posts_per_page", "Posts per page is a number from 1 to 100");
                10
            }
        };
        let footer_text = self.footer_text.trim().to_owned();
        if footer_text.chars().count() > 500 {
            errors.add("footer_text", "The footer text is at most 500 characters");
        }
        let accent_color = errors
            .check(
                "accent_color",
                parse_color(&chosen_color(
                    &self.accent_color,
                    &self.accent_color_pick,
                    &self.accent_color_shown,
                )),
            )
            .unwrap_or_default();
        let default_role = match self.default_role.parse::<Role>() {
            Ok(role) => role,
            Err(_) => {
                errors.add("default_role", "Pick reader, author, editor or admin");
                Role::Reader
            }
        };
        let comments = match self.comments.as_str() {
            "off" => CommentsMode::Off,
            "on" => CommentsMode::On,
            "held" => CommentsMode::Held,
            _ => {
                errors.add("comments", "Comments are on, off, or held for approval");
                CommentsMode::On
            }
        };
        let image = |errors: &mut FormErrors, field: &'static str, value: &str| {
            errors
                .check(field, crate::media::image_url::parse(value))
                .flatten()
                .unwrap_or_default()
        };
        let logo_url = image(&mut errors, "logo_url", &self.logo_url);
        let icon_url = image(&mut errors, "icon_url", &self.icon_url);
        let timezone = errors
            .check("timezone", parse_timezone(&self.timezone))
            .unwrap_or_default();
        match errors.is_empty() {
            true => Ok(SiteSettings {
                title,
                description,
                posts_per_page,
                footer_text,
                accent_color,
                registrations_open: self.registrations_open.is_some(),
                default_role,
                comments,
                // Not this form's: `navigation.rs` saves the menus.
                navigation: Default::default(),
                logo_url,
                icon_url,
                timezone,
                verify_email: self.verify_email.is_some(),
                version: self.version,
            }),
            false => Err(errors),
        }
    }
}

#[derive(Template)]
#[template(path = "settings/admin/edit.html")]
struct EditPage {
    layout: Layout,
    csrf_token: String,
    form: SettingsForm,
    errors: FormErrors,
    roles: [&'static str; 4],
    /// Every IANA zone name, for the timezone field's suggestions.
    zones: Vec<String>,
    saved: bool,
    /// Whether the site can send email at all.
    mail: bool,
    /// The images the logo and icon pickers offer.
    choices: crate::media::admin::Choices,
}

async fn page(
    state: &AppState,
    session: &AuthSession,
    user: &CurrentUser,
    form: SettingsForm,
    errors: FormErrors,
    saved: bool,
) -> Result<EditPage, Error> {
    Ok(EditPage {
        choices: crate::media::admin::Choices::load(state, user).await?,
        layout: Layout::new(&state.site(), "Settings", "", "/admin/settings")
            .noindex()
            .header(Some(header(user, session))),
        csrf_token: session.csrf_token(),
        form,
        errors,
        roles: ["reader", "author", "editor", "admin"],
        zones: zone_names(),
        saved,
        mail: state.settings.mail.is_configured(),
    })
}

fn zone_names() -> Vec<String> {
    let mut names: Vec<String> = jiff::tz::db()
        .available()
        .map(|name| name.to_string())
        .filter(|name| name.contains('/') || name == "UTC")
        .collect();
    names.sort();
    names
}

/// `GET /admin/settings`
pub async fn edit(
    state: web::Data<AppState>,
    session: AuthSession,
    SignedIn(user): SignedIn,
    query: web::Query<super::SavedQuery>,
) -> Result<HttpResponse, Error> {
    authz::require(&user, Action::ManageSettings)?;
    let form = SettingsForm::from_settings(&state.site().settings);
    let saved = query.saved();
    render(
        StatusCode::OK,
        page(&state, &session, &user, form, FormErrors::default(), saved).await?,
    )
}

/// `POST /admin/settings`: checked, saved if nobody saved since the form was opened, then
/// every instance told (the next request anywhere shows them) and kept pages made stale.
pub async fn update(
    state: web::Data<AppState>,
    live: web::Data<super::live::Live>,
    session: AuthSession,
    SignedIn(user): SignedIn,
    CsrfForm(mut form): CsrfForm<SettingsForm>,
) -> Result<HttpResponse, Error> {
    authz::require(&user, Action::ManageSettings)?;
    let picks = form.take_picks();
    let parsed = match picks.is_empty() {
        true => form.parse(),
        false => Err(picks),
    };
    let wanted = match parsed {
        Ok(wanted) => wanted,
        Err(errors) => {
            return render(
                StatusCode::UNPROCESSABLE_ENTITY,
                page(&state, &session, &user, form, errors, false).await?,
            );
        }
    };
    match super::save(
        &state.db,
        &live,
        repo::update(&state.db, &wanted, form.version),
    )
    .await?
    {
        Saved::Done => Ok(see_other("/admin/settings?saved=1")),
        // Someone saved in between: show theirs, say so, keep nothing silently.
        Saved::Conflict(current) => {
            let errors = FormErrors::general(
                "Someone else saved the settings while you were editing. These are theirs \
                 now; make your change again.",
            );
            let form = SettingsForm::from_settings(&current);
            render(
                StatusCode::CONFLICT,
                page(&state, &session, &user, form, errors, false).await?,
            )
        }
    }
}

#[derive(Debug, Deserialize)]
pub struct ThemeQuery {
    #[serde(default)]
    #[expect(dead_code, reason = "only makes each version's address its own")]
    v: Option<String>,
}

/// The stylesheet that makes `accent` (`#rrggbb` from `parse_color`, or empty for the
/// theme's own) the accent, light and dark: the site's (`/theme.css`) and a tag page's.
pub fn accent_css(accent: &str) -> String {
    match accent.is_empty() {
        true => String::new(),
        // `parse_color` made it `#rrggbb`: nothing else can reach this text.
        false => format!(
            ":root {{ --accent: {accent}; \
             --accent-soft: color-mix(in srgb, {accent} 14%, #ffffff); }}\n\
             @media (prefers-color-scheme: dark) {{ :root {{ \
             --accent: color-mix(in srgb, {accent} 55%, #ffffff); \
             --accent-soft: color-mix(in srgb, {accent} 28%, #141517); }} }}\n"
        ),
    }
}

/// `GET /theme.css?v=N`: the accent colour, overriding the stylesheet's. Dark pages get it
/// lightened (a colour chosen against white is often too dark on the dark background), and
/// the soft tint behind tags is mixed from it against each scheme's background.
pub async fn theme_css(
    state: web::Data<AppState>,
    _version: web::Query<ThemeQuery>,
) -> HttpResponse {
    let css = accent_css(&state.site().settings.accent_color);
    HttpResponse::Ok()
        .content_type("text/css; charset=utf-8")
        .insert_header(("Cache-Control", "public, max-age=300"))
        .body(css)
}
