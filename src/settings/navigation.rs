//! The header and footer menus (`/admin/navigation`, admins): label and URL pairs in the
//! order admins give, stored with the site settings (so a change reaches every instance on
//! its next request, like any setting) and rendered by the theme.
//!
//! Without JavaScript the form is a table of rows (label, URL, position) with blank rows to
//! add more: a row emptied is removed, positions reorder.

use actix_web::{HttpResponse, http::StatusCode, web};
use askama::Template;

use super::{
    Saved,
    model::{NavItem, Navigation},
    repo,
};
use crate::{
    accounts::{model::CurrentUser, session::AuthSession},
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

/// Links a menu may hold.
pub const MOST_ITEMS: usize = 20;
const LABEL_MAX: usize = 50;
const URL_MAX: usize = 500;
/// Blank rows the form offers for new links.
const BLANK_ROWS: usize = 3;

/// A menu link's address: a path on this site (`/about`, `/tags/rust#top`), an anchor, or an
/// `http(s)://` or `mailto:` address. Nothing that runs script (`javascript:`, `data:`) and
/// no `//host` (another site disguised as a path).
pub fn parse_url(input: &str) -> Result<String, String> {
    let url = input.trim();
    let refused =
        || "A link is a path such as /about, or a full https:// or mailto: address".to_owned();
    if url.is_empty()
        || url.len() > URL_MAX
        || url
            .chars()
            .any(|c| c.is_control() || c.is_whitespace() || c == '\\')
    {
        return Err(refused());
    }
    if (url.starts_with('/') && !url.starts_with("//")) || url.starts_with('#') {
        return Ok(url.to_owned());
    }
    match url::Url::parse(url) {
        Ok(parsed) if matches!(parsed.scheme(), "http" | "https") && parsed.host().is_some() => {
            Ok(url.to_owned())
        }
        Ok(parsed) if parsed.scheme() == "mailto" => Ok(url.to_owned()),
        _ => Err(refused()),
    }
}

/// One row of the form, as typed.
#[derive(Debug, Clone, Default)]
pub struct Row {
    pub label: String,
    pub url: String,
    pub position: String,
    pub error: Option<String>,
}

/// The form: each menu's rows in the order sent, and the version edited.
#[derive(Debug, Default)]
pub struct NavForm {
    pub header: Vec<Row>,
    pub footer: Vec<Row>,
    pub version: i64,
}

impl NavForm {
    fn from_navigation(nav: &Navigation, version: i64) -> Self {
        let rows = |items: &[NavItem]| {
            items
                .iter()
                .enumerate()
                .map(|(i, item)| Row {
                    label: item.label.clone(),
                    url: item.url.clone(),
                    position: (i + 1).to_string(),
                    error: None,
                })
                .collect()
        };
        Self {
            header: rows(&nav.header),
            footer: rows(&nav.footer),
            version,
        }
    }

    /// `header.label`, `header.url`, `header.position` (and `footer.…`) in document order:
    /// each label starts a row.
    fn from_fields(fields: &[(String, String)]) -> Result<Self, Error> {
        let mut form = Self::default();
        for (name, value) in fields {
            if name == "version" {
                form.version = value
                    .trim()
                    .parse()
                    .map_err(|_| Error::BadRequest("the form's version is not a number".into()))?;
                continue;
            }
            let Some((menu, part)) = name.split_once('.') else {
                continue;
            };
            let rows = match menu {
                "header" => &mut form.header,
                "footer" => &mut form.footer,
                _ => continue,
            };
            // A hostile form can't make the page render a million rows.
            if rows.len() > MOST_ITEMS + BLANK_ROWS + 5 {
                return Err(Error::BadRequest(format!(
                    "a menu holds at most {MOST_ITEMS} links"
                )));
            }
            if part == "label" || rows.is_empty() {
                rows.push(Row::default());
            }
            let Some(row) = rows.last_mut() else { continue };
            match part {
                "label" => row.label = value.clone(),
                "url" => row.url = value.clone(),
                "position" => row.position = value.clone(),
                _ => {}
            }
        }
        Ok(form)
    }

    /// The menus asked for, or the form with each bad row's message.
    fn parse(&mut self) -> Result<Navigation, FormErrors> {
        let mut errors = FormErrors::default();
        let header = parse_menu(&mut self.header, "header", &mut errors);
        let footer = parse_menu(&mut self.footer, "footer", &mut errors);
        match errors.is_empty() {
            true => Ok(Navigation { header, footer }),
            false => {
                errors.general = Some(
                    "Some links need fixing (marked below); nothing was saved yet.".to_owned(),
                );
                Err(errors)
            }
        }
    }

    /// Blank rows to add links with, for the page.
    fn with_blank_rows(mut self) -> Self {
        for rows in [&mut self.header, &mut self.footer] {
            rows.retain(|r| !(r.label.trim().is_empty() && r.url.trim().is_empty()));
            let next = rows.len() + 1;
            rows.extend((0..BLANK_ROWS).map(|i| Row {
                position: (next + i).to_string(),
                ..Row::default()
            }));
        }
        self
    }
}

fn parse_menu(rows: &mut [Row], menu: &'static str, errors: &mut FormErrors) -> Vec<NavItem> {
    let mut items = Vec::new();
    for (i, row) in rows.iter_mut().enumerate() {
        let label = row.label.trim();
        if label.is_empty() && row.url.trim().is_empty() {
            continue;
        }
        let problem = if label.is_empty() {
            Some("Give the link a label (or empty its URL to remove it)".to_owned())
        } else if label.chars().count() > LABEL_MAX {
            Some(format!("A label is at most {LABEL_MAX} characters"))
        } else {
            parse_url(&row.url).err()
        };
        if let Some(problem) = problem {
            row.error = Some(problem);
            errors.add(menu, "Fix the marked links");
            continue;
        }
        // An unreadable position keeps the row where it is.
        let position = row.position.trim().parse::<f64>().unwrap_or(i as f64 + 1.0);
        items.push((
            position,
            i,
            NavItem {
                label: label.to_owned(),
                url: row.url.trim().to_owned(),
            },
        ));
    }
    if items.len() > MOST_ITEMS {
        errors.add(menu, format!("A menu holds at most {MOST_ITEMS} links"));
    }
    items.sort_by(|a, b| a.0.total_cmp(&b.0).then(a.1.cmp(&b.1)));
    items.into_iter().map(|(_, _, item)| item).collect()
}

#[derive(Template)]
#[template(path = "settings/admin/navigation.html")]
struct EditPage {
    layout: Layout,
    csrf_token: String,
    form: NavForm,
    errors: FormErrors,
    saved: bool,
}

impl EditPage {
    /// Each menu: its field prefix, its name, its rows.
    fn menus(&self) -> [(&'static str, &'static str, &[Row]); 2] {
        [
            ("header", "Header", &self.form.header),
            ("footer", "Footer", &self.form.footer),
        ]
    }
}

fn page(
    state: &AppState,
    session: &AuthSession,
    user: &CurrentUser,
    form: NavForm,
    errors: FormErrors,
    saved: bool,
) -> EditPage {
    EditPage {
        layout: Layout::new(&state.site(), "Navigation", "", "/admin/navigation")
            .noindex()
            .header(Some(header(user, session))),
        csrf_token: session.csrf_token(),
        form: form.with_blank_rows(),
        errors,
        saved,
    }
}

/// `GET /admin/navigation`
pub async fn edit(
    state: web::Data<AppState>,
    session: AuthSession,
    SignedIn(user): SignedIn,
    query: web::Query<super::SavedQuery>,
) -> Result<HttpResponse, Error> {
    authz::require(&user, Action::ManageSettings)?;
    let site = state.site();
    let form = NavForm::from_navigation(&site.settings.navigation.0, site.settings.version);
    let saved = query.saved();
    render(
        StatusCode::OK,
        page(&state, &session, &user, form, FormErrors::default(), saved),
    )
}

/// `POST /admin/navigation`: checked, saved unless someone saved the settings since, then
/// every instance told and kept pages made stale (every page shows the menus).
pub async fn update(
    state: web::Data<AppState>,
    live: web::Data<super::live::Live>,
    session: AuthSession,
    SignedIn(user): SignedIn,
    CsrfForm(fields): CsrfForm<Vec<(String, String)>>,
) -> Result<HttpResponse, Error> {
    authz::require(&user, Action::ManageSettings)?;
    let mut form = NavForm::from_fields(&fields)?;
    let wanted = match form.parse() {
        Ok(wanted) => wanted,
        Err(errors) => {
            return render(
                StatusCode::UNPROCESSABLE_ENTITY,
                page(&state, &session, &user, form, errors, false),
            );
        }
    };
    let write = repo::update_navigation(&state.db, &wanted, form.version);
    match super::save(&state.db, &live, write).await? {
        Saved::Done => Ok(see_other("/admin/navigation?saved=1")),
        // Someone saved in between: their menus are replaced only by saving again.
        Saved::Conflict(current) => {
            let errors = FormErrors::general(
                "Someone else saved the settings while you were editing. Your menus are \
                 below, unsaved; save again to replace theirs.",
            );
            form.version = current.version;
            render(
                StatusCode::CONFLICT,
                page(&state, &session, &user, form, errors, false),
            )
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn links_are_paths_or_web_and_mail_addresses() {
        for ok in [
            "/",
            "/about",
            "/tags/rust?page=2#top",
            "#subscribe",
            "https://example.com/x",
            "http://example.com",
            "mailto:hello@example.com",
        ] {
            assert!(parse_url(ok).is_ok(), "{ok}");
        }
        for bad in [
            "",
            "javascript:alert(1)",
            "JavaScript:alert(1)",
            " javascript:alert(1)",
            "java\tscript:alert(1)",
            "data:text/html,x",
            "vbscript:x",
            "//evil.example",
            "/\\evil.example",
            "about",
            "https://",
            "/a b",
            "/a\r\nSet-Cookie: x",
        ] {
            assert!(parse_url(bad).is_err(), "{bad:?}");
        }
    }

    #[test]
    fn rows_follow_their_positions_and_empty_rows_go() {
        let fields: Vec<(String, String)> = [
            ("version", "3"),
            ("header.label", "B"),
            ("header.url", "/b"),
            ("header.position", "2"),
            ("header.label", "A"),
            ("header.url", "/a"),
            ("header.position", "1"),
            ("header.label", ""),
            ("header.url", ""),
            ("header.position", "3"),
            ("footer.label", "Mail"),
            ("footer.url", "mailto:x@example.com"),
            ("footer.position", "x"),
        ]
        .iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect();
        let mut form = NavForm::from_fields(&fields).expect("a form");
        assert_eq!(form.version, 3);
        let nav = form.parse().expect("valid");
        let labels: Vec<&str> = nav.header.iter().map(|i| i.label.as_str()).collect();
        assert_eq!(labels, ["A", "B"]);
        assert_eq!(nav.footer.len(), 1);
    }
}
