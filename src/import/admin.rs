//! `/admin/import` (admins): upload an export, read the dry run's plan (what will be
//! created, what is left out and why, who becomes what), then start the import and watch
//! its progress. The work is the job runner's (`job::RunImport`); these pages only file
//! the upload and show the run.

use std::collections::HashMap;

use actix_multipart::Multipart;
use actix_web::{HttpResponse, http::StatusCode, web};
use askama::Template;
use futures_util::StreamExt;
use tokio::io::AsyncWriteExt;

use super::{
    FORMATS,
    job::{RunImport, file_of, images_zip_of},
    repo::{self, Run, RunState},
    write::{AccountLine, Report},
};
use crate::{
    accounts::{
        model::{CurrentUser, Role},
        session::AuthSession,
    },
    authz::{self, Action},
    error::Error,
    extract::{CsrfForm, SignedIn, header},
    input::human_bytes,
    jobs::BackgroundJob,
    render::{
        Layout,
        page::{human_date_time, personal as render, see_other},
    },
    state::AppState,
};

/// Largest export file accepted here (the command line takes any size).
pub const MAX_BYTES: usize = 512 * 1024 * 1024;

#[derive(Template)]
#[template(path = "import/admin/index.html")]
struct IndexPage {
    layout: Layout,
    csrf_token: String,
    formats: Vec<(&'static str, &'static str, &'static str)>,
    runs: Vec<Run>,
    error: Option<String>,
    max: String,
}

impl IndexPage {
    fn when(&self, run: &Run) -> String {
        human_date_time(&run.created_at)
    }
}

fn layout(state: &AppState, session: &AuthSession, user: &CurrentUser, title: &str) -> Layout {
    Layout::new(&state.site(), title, "", "/admin/import")
        .noindex()
        .header(Some(header(user, session)))
}

async fn index_page(
    state: &AppState,
    session: &AuthSession,
    user: &CurrentUser,
    error: Option<String>,
) -> Result<IndexPage, Error> {
    Ok(IndexPage {
        layout: layout(state, session, user, "Import"),
        csrf_token: session.csrf_token(),
        formats: FORMATS.to_vec(),
        runs: repo::recent_runs(&state.db, 20).await?,
        error,
        max: human_bytes(MAX_BYTES),
    })
}

/// `GET /admin/import`: the upload form and the recent imports.
pub async fn index(
    state: web::Data<AppState>,
    session: AuthSession,
    SignedIn(user): SignedIn,
) -> Result<HttpResponse, Error> {
    authz::require(&user, Action::ImportContent)?;
    render(
        StatusCode::OK,
        index_page(&state, &session, &user, None).await?,
    )
}

/// `POST /admin/import` (multipart: `csrf_token`, then `format`, then `file`): the file is
/// streamed to disk beside the uploads, and its dry run queued.
pub async fn create(
    state: web::Data<AppState>,
    session: AuthSession,
    SignedIn(user): SignedIn,
    mut parts: Multipart,
) -> Result<HttpResponse, Error> {
    authz::require(&user, Action::ImportContent)?;
    let dir = state.settings.uploads.dir.join("imports");
    tokio::fs::create_dir_all(&dir)
        .await
        .map_err(|e| Error::Internal(e.into()))?;
    let upload = uuid::Uuid::new_v4();
    let waiting = dir.join(format!("upload-{upload}.part"));
    let images = dir.join(format!("upload-{upload}.images.part"));
    let received = receive(&session, &mut parts, &waiting, &images).await;
    let (format, file_name) = match received {
        Ok(Ok(got)) => got,
        Ok(Err(refused)) => {
            let _ = tokio::fs::remove_file(&waiting).await;
            let _ = tokio::fs::remove_file(&images).await;
            let page = index_page(&state, &session, &user, Some(refused)).await?;
            return render(StatusCode::UNPROCESSABLE_ENTITY, page);
        }
        Err(e) => {
            let _ = tokio::fs::remove_file(&waiting).await;
            let _ = tokio::fs::remove_file(&images).await;
            return Err(e);
        }
    };
    let id = repo::create_run(&state.db, format, &file_name, user.id).await?;
    let moved = tokio::fs::rename(&waiting, file_of(&state.settings, id)).await;
    moved.map_err(|e| Error::Internal(e.into()))?;
    if tokio::fs::metadata(&images).await.is_ok() {
        let moved = tokio::fs::rename(&images, images_zip_of(&state.settings, id)).await;
        moved.map_err(|e| Error::Internal(e.into()))?;
    }
    RunImport { run: id }.enqueue(&state.db).await?;
    Ok(see_other(&format!("/admin/import/{id}")))
}

/// One uploaded part to `target`, at most `MAX_BYTES`; its size.
async fn save(part: &mut actix_multipart::Field, target: &std::path::Path) -> Result<usize, Error> {
    let mut out = tokio::fs::File::create(target)
        .await
        .map_err(|e| Error::Internal(e.into()))?;
    let mut size = 0usize;
    while let Some(chunk) = part.next().await {
        let chunk = chunk.map_err(|e| Error::BadRequest(e.to_string()))?;
        size += chunk.len();
        if size > MAX_BYTES {
            return Err(Error::TooLarge(format!(
                "A file uploaded here can be at most {} (the command line, `quire import`, \
                 takes any size).",
                human_bytes(MAX_BYTES)
            )));
        }
        out.write_all(&chunk)
            .await
            .map_err(|e| Error::Internal(e.into()))?;
    }
    out.flush().await.map_err(|e| Error::Internal(e.into()))?;
    Ok(size)
}

/// Read the form's parts: the CSRF token and the format before the files (the form sends
/// them in that order), so nobody's big file is stored without them. `images`: an optional
/// zip of the old site's images.
async fn receive(
    session: &AuthSession,
    parts: &mut Multipart,
    to: &std::path::Path,
    images_to: &std::path::Path,
) -> Result<Result<(&'static str, String), String>, Error> {
    let mut token_ok = false;
    let mut format: Option<&'static str> = None;
    let mut stored: Option<String> = None;
    while let Some(part) = parts.next().await {
        let mut part =
            part.map_err(|e| Error::BadRequest(format!("the upload could not be read: {e}")))?;
        let name = part.name().unwrap_or_default().to_owned();
        match name.as_str() {
            "csrf_token" | "format" => {
                let mut value = Vec::new();
                while let Some(chunk) = part.next().await {
                    let chunk = chunk.map_err(|e| Error::BadRequest(e.to_string()))?;
                    if value.len() + chunk.len() > 256 {
                        return Err(Error::BadRequest(format!("the {name} field is too long")));
                    }
                    value.extend_from_slice(&chunk);
                }
                let value = String::from_utf8_lossy(&value).into_owned();
                if name == "csrf_token" {
                    token_ok = session.csrf_matches(&value);
                } else {
                    format = FORMATS.iter().map(|f| f.0).find(|f| *f == value);
                }
            }
            "file" | "images" => {
                if !token_ok {
                    return Err(Error::CsrfRejected);
                }
                if format.is_none() {
                    return Ok(Err("Choose what the file was exported from.".into()));
                }
                let file_name: String = part
                    .content_disposition()
                    .and_then(|d| d.get_filename())
                    .unwrap_or("export")
                    .chars()
                    .filter(|c| !c.is_control())
                    .take(200)
                    .collect();
                let target = if name == "file" { to } else { images_to };
                let size = save(&mut part, target).await?;
                if name == "file" {
                    if size == 0 {
                        return Ok(Err("Choose the export file to upload.".into()));
                    }
                    stored = Some(if file_name.trim().is_empty() {
                        "export".into()
                    } else {
                        file_name
                    });
                } else if size == 0 {
                    // No images chosen: nothing to keep.
                    let _ = tokio::fs::remove_file(images_to).await;
                }
            }
            // Anything else is drained and ignored.
            _ => {
                while let Some(chunk) = part.next().await {
                    chunk.map_err(|e| Error::BadRequest(e.to_string()))?;
                }
            }
        }
    }
    if !token_ok {
        return Err(Error::CsrfRejected);
    }
    match (format, stored) {
        (Some(format), Some(name)) => Ok(Ok((format, name))),
        (None, _) => Ok(Err("Choose what the file was exported from.".into())),
        (_, None) => Ok(Err("Choose the export file to upload.".into())),
    }
}

#[derive(Template)]
#[template(path = "import/admin/show.html")]
struct ShowPage {
    layout: Layout,
    csrf_token: String,
    run: Run,
    /// The dry run's plan (or the finished run's report).
    report: Option<Report>,
    percent: i64,
}

impl ShowPage {
    fn waiting(&self) -> bool {
        matches!(
            self.run.state,
            RunState::Checking | RunState::Queued | RunState::Running
        )
    }

    fn state(&self) -> &'static str {
        match self.run.state {
            RunState::Checking => "Checking the file…",
            RunState::Checked => "Checked: nothing is imported yet",
            RunState::Queued => "Waiting to start…",
            RunState::Running => "Importing…",
            RunState::Done => "Imported",
            RunState::Failed => "Stopped",
        }
    }

    fn summary(&self) -> Vec<String> {
        self.report
            .as_ref()
            .map(Report::summary)
            .unwrap_or_default()
    }

    fn accounts(&self) -> Vec<(usize, &AccountLine)> {
        self.report
            .as_ref()
            .map(|r| r.accounts.iter().enumerate().collect())
            .unwrap_or_default()
    }

    fn can_start(&self) -> bool {
        self.run.state == RunState::Checked
    }

    fn old_role(&self, a: &AccountLine) -> String {
        format!("{:?}", a.old_role).to_lowercase()
    }

    fn finished(&self) -> String {
        self.run
            .finished_at
            .as_ref()
            .map(human_date_time)
            .unwrap_or_default()
    }
}

/// `GET /admin/import/{id}`: the run as it stands; it refreshes itself while the job works.
pub async fn show(
    state: web::Data<AppState>,
    session: AuthSession,
    SignedIn(user): SignedIn,
    id: web::Path<i64>,
) -> Result<HttpResponse, Error> {
    authz::require(&user, Action::ImportContent)?;
    let run = repo::run(&state.db, id.into_inner())
        .await?
        .ok_or(Error::NotFound)?;
    let json = match run.state {
        RunState::Done => run.report.as_ref().map(|r| r.0.clone()),
        _ => Some(run.plan.0.clone()),
    };
    let report = json.and_then(|j| serde_json::from_value::<Report>(j).ok());
    let percent = if run.total > 0 {
        (run.done * 100 / run.total).clamp(0, 100)
    } else {
        0
    };
    let page = ShowPage {
        layout: layout(
            &state,
            &session,
            &user,
            &format!("Import of {}", run.file_name),
        ),
        csrf_token: session.csrf_token(),
        run,
        report,
        percent,
    };
    render(StatusCode::OK, page)
}

/// `POST /admin/import/{id}/run`: start a checked import; `role_{n}` fields give the
/// n-th account of the plan its role (author unless chosen).
pub async fn start(
    state: web::Data<AppState>,
    SignedIn(user): SignedIn,
    id: web::Path<i64>,
    CsrfForm(form): CsrfForm<HashMap<String, String>>,
) -> Result<HttpResponse, Error> {
    authz::require(&user, Action::ImportContent)?;
    let id = id.into_inner();
    let run = repo::run(&state.db, id).await?.ok_or(Error::NotFound)?;
    let plan: Report = serde_json::from_value(run.plan.0.clone()).unwrap_or_default();
    let mut roles = HashMap::new();
    for (n, account) in plan.accounts.iter().enumerate() {
        let Some(chosen) = form.get(&format!("role_{n}")) else {
            continue;
        };
        let role = match chosen.as_str() {
            "author" => Role::Author,
            "editor" => Role::Editor,
            "admin" => Role::Admin,
            _ => return Err(Error::BadRequest("choose author, editor or admin".into())),
        };
        if role != Role::Author {
            roles.insert(account.source_id.clone(), role.as_str().to_owned());
        }
    }
    if !repo::queue_run(&state.db, id, &roles).await? {
        return Err(Error::Conflict(
            "this import is not waiting to start (it ran, or it is running)".into(),
        ));
    }
    RunImport { run: id }.enqueue(&state.db).await?;
    Ok(see_other(&format!("/admin/import/{id}")))
}
