//! `/admin/jobs` (admins): the queue by state, with each failed job's error, and retry and
//! discard buttons.

use actix_web::{HttpResponse, http::StatusCode, web};
use askama::Template;

use crate::render::confirm::Confirm;
use serde::Deserialize;

use super::{
    Registry,
    registry::Backlog,
    repo::{self, Counts, Row},
};
use crate::{
    accounts::session::AuthSession,
    authz::{self, Action},
    db::PageNumber,
    error::Error,
    extract::{CsrfForm, SignedIn, TokenOnly, header},
    render::{
        Layout,
        page::{human_date_time, iso_date, personal as render, see_other},
    },
    state::AppState,
};

const PER_PAGE: i64 = 50;
const STATES: [&str; 4] = ["queued", "running", "failed", "done"];

#[derive(Template)]
#[template(path = "jobs/admin/index.html")]
struct IndexPage {
    layout: Layout,
    csrf_token: String,
    state: &'static str,
    counts: Counts,
    /// What waits outside the queue for jobs to send it (events for the brokers).
    backlogs: Vec<Backlog>,
    jobs: Vec<Row>,
    page: i64,
    more: bool,
}

impl IndexPage {
    fn count(&self, state: &str) -> i64 {
        match state {
            "queued" => self.counts.queued,
            "running" => self.counts.running,
            "failed" => self.counts.failed,
            _ => self.counts.done,
        }
    }
}

impl Row {
    /// When it runs (queued), ran (running), or ended.
    pub fn when(&self) -> String {
        human_date_time(&self.moment())
    }

    pub fn iso(&self) -> String {
        iso_date(&self.moment())
    }

    fn moment(&self) -> time::OffsetDateTime {
        match self.state.as_str() {
            "queued" | "running" => self.run_at,
            _ => self.finished_at.unwrap_or(self.run_at),
        }
    }
}

#[derive(Debug, Deserialize)]
pub struct IndexQuery {
    #[serde(default)]
    state: String,
    #[serde(default)]
    page: Option<PageNumber>,
}

/// `GET /admin/jobs?state=queued|running|failed|done`
pub async fn index(
    state: web::Data<AppState>,
    session: AuthSession,
    SignedIn(user): SignedIn,
    query: web::Query<IndexQuery>,
    registry: web::Data<Registry>,
) -> Result<HttpResponse, Error> {
    authz::require(&user, Action::ManageJobs)?;
    let shown = match query.state.as_str() {
        "" => "queued",
        s => STATES
            .into_iter()
            .find(|k| *k == s)
            .ok_or(Error::NotFound)?,
    };
    let number = query.page.unwrap_or(PageNumber::FIRST);
    let offset = number.offset(PER_PAGE as u32);
    let mut jobs = repo::list(&state.db, shown, PER_PAGE + 1, offset).await?;
    let more = jobs.len() > PER_PAGE as usize;
    jobs.truncate(PER_PAGE as usize);
    for job in &mut jobs {
        job.title = registry.describe(&state.db, &job.kind, &job.payload).await;
    }
    let counts = repo::counts(&state.db).await?;
    let backlogs = registry.backlogs(&state.db).await;
    let layout = Layout::new(&state.site(), "Jobs", "", "/admin/jobs")
        .noindex()
        .header(Some(header(&user, &session)));
    render(
        StatusCode::OK,
        IndexPage {
            layout,
            csrf_token: session.csrf_token(),
            state: shown,
            counts,
            backlogs,
            jobs,
            page: i64::from(number.get()),
            more,
        },
    )
}

/// `POST /admin/jobs/{id}/retry`: a failed job queued again, its attempts back to none.
pub async fn retry(
    state: web::Data<AppState>,
    SignedIn(user): SignedIn,
    id: web::Path<i64>,
    _form: CsrfForm<TokenOnly>,
) -> Result<HttpResponse, Error> {
    authz::require(&user, Action::ManageJobs)?;
    if !repo::retry(&state.db, *id).await? {
        return Err(Error::Conflict(
            "That job is not failed (any more): only failed jobs can be retried.".into(),
        ));
    }
    Ok(see_other("/admin/jobs?state=failed"))
}

/// `GET /admin/jobs/{id}/discard?state=`: which job, and that it won't run; changes nothing.
pub async fn confirm_discard(
    state: web::Data<AppState>,
    session: AuthSession,
    SignedIn(user): SignedIn,
    id: web::Path<i64>,
    query: web::Query<BackTo>,
    registry: web::Data<Registry>,
) -> Result<HttpResponse, Error> {
    authz::require(&user, Action::ManageJobs)?;
    let job = repo::find(&state.db, *id).await?.ok_or(Error::NotFound)?;
    let back = back_to(&query.state);
    let layout = Layout::new(&state.site(), "Discard job", "", "/admin/jobs")
        .noindex()
        .header(Some(header(&user, &session)));
    let name = registry.describe(&state.db, &job.kind, &job.payload).await;
    let mut page = Confirm::new(
        layout,
        session.csrf_token(),
        format!("Discard job #{}, {name}?", job.id),
    )
    .says(format!(
        "It is {} after {} of {} attempts. Discarded, it is deleted and never runs again; \
         what it would have done (an email, a delivery) does not happen.",
        job.state, job.attempts, job.max_attempts
    ))
    .button(
        "Discard job",
        &format!("/admin/jobs/{}/discard", job.id),
        &format!("/admin/jobs?state={back}"),
    );
    page.fields.push(("state".into(), back.into()));
    render(StatusCode::OK, page)
}

fn back_to(state: &str) -> &'static str {
    STATES.into_iter().find(|s| *s == state).unwrap_or("failed")
}

/// `POST /admin/jobs/{id}/discard`: a failed or queued job thrown away.
pub async fn discard(
    state: web::Data<AppState>,
    SignedIn(user): SignedIn,
    id: web::Path<i64>,
    CsrfForm(form): CsrfForm<BackTo>,
) -> Result<HttpResponse, Error> {
    authz::require(&user, Action::ManageJobs)?;
    if !repo::discard(&state.db, *id).await? {
        return Err(Error::Conflict(
            "That job is running or finished: only queued and failed jobs can be discarded.".into(),
        ));
    }
    let back = back_to(&form.state);
    Ok(see_other(&format!("/admin/jobs?state={back}")))
}

#[derive(Debug, Deserialize)]
pub struct BackTo {
    #[serde(default)]
    state: String,
}
