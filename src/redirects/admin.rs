//! `/admin/redirects` (admins): the site's old addresses and where they lead; list and
//! search them, add, change and delete one. The fields go through `NewRedirect::check`,
//! as the importers' do, and loops and chains through `redirects::save`.

use actix_web::{HttpResponse, http::StatusCode, web};
use askama::Template;

use crate::render::confirm::Confirm;
use serde::Deserialize;

use super::{
    model::{Field, NewRedirect, RedirectId},
    repo::{self, Redirect},
};
use crate::{
    accounts::{model::CurrentUser, session::AuthSession},
    authz::{self, Action},
    db::{Page, PageNumber},
    error::Error,
    extract::{CsrfForm, SignedIn, TokenOnly, header},
    input::{Problems, capitalise},
    render::{
        Layout,
        form::FormErrors,
        page::{Pager, human_date, human_date_time, personal as render, see_other},
    },
    state::AppState,
};

const PER_PAGE: u32 = 50;

/// The add and edit forms' fields.
#[derive(Debug, Default, Deserialize)]
pub struct RedirectForm {
    #[serde(default)]
    pub from: String,
    #[serde(default)]
    pub to: String,
    /// `301` (permanent, the default) or `302`.
    #[serde(default)]
    pub status: String,
}

impl RedirectForm {
    fn of(r: &Redirect) -> Self {
        Self {
            from: r.from_path.clone(),
            to: r.to_url.clone(),
            status: if r.permanent { "301" } else { "302" }.into(),
        }
    }

    pub fn is_temporary(&self) -> bool {
        self.status == "302"
    }

    /// The fields, as every door reads them (`NewRedirect::check`).
    fn parse(&self, state: &AppState) -> Result<NewRedirect, Problems<Field>> {
        let mut problems = Problems::default();
        if !matches!(self.status.as_str(), "" | "301" | "302") {
            problems.add(Field::Source, "choose 301 (permanent) or 302 (temporary)");
        }
        let parsed = NewRedirect::check(
            &self.from,
            &self.to,
            !self.is_temporary(),
            "manual",
            &state.settings.http.base_url,
        );
        match parsed {
            Ok(r) if problems.is_empty() => Ok(r),
            Ok(_) => Err(problems),
            Err(found) => {
                for (field, message) in found.iter() {
                    problems.add(field, message);
                }
                Err(problems)
            }
        }
    }
}

fn form_errors(problems: &Problems<Field>) -> FormErrors {
    let mut errors = FormErrors::default();
    for (field, message) in problems.iter() {
        let name = match field {
            Field::Source => "status",
            other => other.name(),
        };
        errors.add(name, capitalise(message));
    }
    errors
}

impl Redirect {
    pub fn status(&self) -> u16 {
        if self.permanent { 301 } else { 302 }
    }

    pub fn added(&self) -> String {
        human_date(&self.created_at)
    }

    pub fn last_hit(&self) -> String {
        self.last_hit_at
            .as_ref()
            .map(human_date_time)
            .unwrap_or_default()
    }
}

#[derive(Template)]
#[template(path = "redirects/admin/index.html")]
struct IndexPage {
    layout: Layout,
    csrf_token: String,
    q: String,
    redirects: Vec<Redirect>,
    pager: Pager,
    form: RedirectForm,
    errors: FormErrors,
}

#[derive(Debug, Default, Deserialize)]
pub struct IndexQuery {
    #[serde(default)]
    q: String,
    #[serde(default)]
    page: Option<PageNumber>,
}

fn layout(state: &AppState, session: &AuthSession, user: &CurrentUser, title: &str) -> Layout {
    Layout::new(&state.site(), title, "", "/admin/redirects")
        .noindex()
        .header(Some(header(user, session)))
}

async fn index_page(
    state: &AppState,
    session: &AuthSession,
    user: &CurrentUser,
    query: &IndexQuery,
    form: RedirectForm,
    errors: FormErrors,
) -> Result<IndexPage, Error> {
    let q: String = query.q.trim().chars().take(200).collect();
    let number = query.page.unwrap_or(PageNumber::FIRST);
    let rows = repo::list(
        &state.db,
        &q,
        Page::<()>::limit(PER_PAGE),
        number.offset(PER_PAGE),
    )
    .await?;
    let list = Page::from_overfetch(rows, number, PER_PAGE);
    let path = match q.is_empty() {
        true => "/admin/redirects".to_owned(),
        false => format!(
            "/admin/redirects?{}",
            url::form_urlencoded::Serializer::new(String::new())
                .append_pair("q", &q)
                .finish()
        ),
    };
    Ok(IndexPage {
        layout: layout(state, session, user, "Redirects"),
        csrf_token: session.csrf_token(),
        q,
        pager: Pager::new(&path, &list),
        redirects: list.items,
        form,
        errors,
    })
}

/// `GET /admin/redirects?q=&page=`: the list (searched by `q`), and the form to add one.
pub async fn index(
    state: web::Data<AppState>,
    session: AuthSession,
    SignedIn(user): SignedIn,
    query: web::Query<IndexQuery>,
) -> Result<HttpResponse, Error> {
    authz::require(&user, Action::ManageRedirects)?;
    let form = RedirectForm {
        status: "301".into(),
        ..Default::default()
    };
    let page = index_page(&state, &session, &user, &query, form, FormErrors::default()).await?;
    render(StatusCode::OK, page)
}

/// `POST /admin/redirects`: `from`, `to`, `status` (301 or 302).
pub async fn create(
    state: web::Data<AppState>,
    session: AuthSession,
    SignedIn(user): SignedIn,
    CsrfForm(form): CsrfForm<RedirectForm>,
) -> Result<HttpResponse, Error> {
    authz::require(&user, Action::ManageRedirects)?;
    let saved = match form.parse(&state) {
        Ok(new) => {
            let mut tx = state.db.begin().await?;
            let saved = super::save(&mut tx, None, new).await?;
            tx.commit().await?;
            saved
        }
        Err(problems) => Err(problems),
    };
    match saved {
        Ok(_) => Ok(see_other("/admin/redirects")),
        Err(problems) => {
            let errors = form_errors(&problems);
            let query = IndexQuery::default();
            let page = index_page(&state, &session, &user, &query, form, errors).await?;
            render(StatusCode::UNPROCESSABLE_ENTITY, page)
        }
    }
}

#[derive(Template)]
#[template(path = "redirects/admin/edit.html")]
struct EditPage {
    layout: Layout,
    csrf_token: String,
    redirect: Redirect,
    form: RedirectForm,
    errors: FormErrors,
}

async fn load(state: &AppState, id: i64) -> Result<Redirect, Error> {
    repo::find(&state.db, RedirectId(id))
        .await?
        .ok_or(Error::NotFound)
}

/// `GET /admin/redirects/{id}/edit`
pub async fn edit(
    state: web::Data<AppState>,
    session: AuthSession,
    SignedIn(user): SignedIn,
    id: web::Path<i64>,
) -> Result<HttpResponse, Error> {
    authz::require(&user, Action::ManageRedirects)?;
    let redirect = load(&state, *id).await?;
    let page = EditPage {
        layout: layout(&state, &session, &user, "Edit redirect"),
        csrf_token: session.csrf_token(),
        form: RedirectForm::of(&redirect),
        redirect,
        errors: FormErrors::default(),
    };
    render(StatusCode::OK, page)
}

/// `POST /admin/redirects/{id}`: the same fields as adding one; the redirect becomes the
/// admin's own (`manual`), which no import overwrites.
pub async fn update(
    state: web::Data<AppState>,
    session: AuthSession,
    SignedIn(user): SignedIn,
    id: web::Path<i64>,
    CsrfForm(form): CsrfForm<RedirectForm>,
) -> Result<HttpResponse, Error> {
    authz::require(&user, Action::ManageRedirects)?;
    let redirect = load(&state, *id).await?;
    let saved = match form.parse(&state) {
        Ok(new) => {
            let mut tx = state.db.begin().await?;
            let saved = super::save(&mut tx, Some(redirect.id), new).await?;
            tx.commit().await?;
            saved
        }
        Err(problems) => Err(problems),
    };
    match saved {
        Ok(_) => Ok(see_other("/admin/redirects")),
        Err(problems) => {
            let page = EditPage {
                layout: layout(&state, &session, &user, "Edit redirect"),
                csrf_token: session.csrf_token(),
                redirect,
                form,
                errors: form_errors(&problems),
            };
            render(StatusCode::UNPROCESSABLE_ENTITY, page)
        }
    }
}

/// `GET /admin/redirects/{id}/delete`: are you sure? (a form, so no script is needed)
pub async fn confirm_delete(
    state: web::Data<AppState>,
    session: AuthSession,
    SignedIn(user): SignedIn,
    id: web::Path<i64>,
) -> Result<HttpResponse, Error> {
    authz::require(&user, Action::ManageRedirects)?;
    let redirect = load(&state, *id).await?;
    let page = Confirm::new(
        layout(&state, &session, &user, "Delete redirect"),
        session.csrf_token(),
        format!("Delete the redirect from {}?", redirect.from_path),
    )
    .says(format!(
        "Visitors asking for {} will no longer be sent to {}; they will find nothing there.",
        redirect.from_path, redirect.to_url
    ))
    .button(
        "Delete redirect",
        &format!("/admin/redirects/{}/delete", redirect.id.0),
        "/admin/redirects",
    );
    render(StatusCode::OK, page)
}

/// `POST /admin/redirects/{id}/delete`
pub async fn delete(
    state: web::Data<AppState>,
    SignedIn(user): SignedIn,
    id: web::Path<i64>,
    _form: CsrfForm<TokenOnly>,
) -> Result<HttpResponse, Error> {
    authz::require(&user, Action::ManageRedirects)?;
    if !repo::delete(&state.db, RedirectId(*id)).await? {
        return Err(Error::NotFound);
    }
    Ok(see_other("/admin/redirects"))
}
