//! `/admin/comments` (editors and admins): comments waiting for approval, visible or hidden,
//! with approve, hide, show and delete, one at a time or ticked together.

use actix_web::{HttpResponse, http::StatusCode, web};
use askama::Template;
use serde::Deserialize;

use super::repo::{self, Comment, Queue};
use crate::{
    accounts::session::AuthSession,
    authz::{self, Action},
    db::{Page, PageNumber},
    error::Error,
    extract::{CsrfForm, SignedIn, header},
    render::{
        Layout,
        confirm::Confirm,
        page::{Pager, personal as render, see_other},
    },
    state::AppState,
};

const PER_PAGE: u32 = 50;

#[derive(Template)]
#[template(path = "comments/admin/index.html")]
struct IndexPage {
    layout: Layout,
    csrf_token: String,
    queue: Queue,
    comments: Vec<Comment>,
    pending: i64,
    pager: Pager,
}

#[derive(Debug, Deserialize)]
pub struct IndexQuery {
    #[serde(default)]
    status: String,
    #[serde(default)]
    page: Option<PageNumber>,
}

/// `GET /admin/comments?status=pending|visible|hidden`
pub async fn index(
    state: web::Data<AppState>,
    session: AuthSession,
    SignedIn(user): SignedIn,
    query: web::Query<IndexQuery>,
) -> Result<HttpResponse, Error> {
    authz::require(&user, Action::ModerateComments)?;
    let queue = Queue::parse(&query.status).ok_or(Error::NotFound)?;
    let number = query.page.unwrap_or(PageNumber::FIRST);
    let rows = repo::queue(
        &state.db,
        queue,
        Page::<()>::limit(PER_PAGE),
        number.offset(PER_PAGE),
    )
    .await?;
    let list = Page::from_overfetch(rows, number, PER_PAGE);
    let path = format!("/admin/comments?status={}", queue.as_str());
    let pending = repo::pending_count(&state.db).await?;
    let layout = Layout::new(&state.site(), "Comments", "", "/admin/comments")
        .noindex()
        .header(Some(header(&user, &session)));
    render(
        StatusCode::OK,
        IndexPage {
            layout,
            csrf_token: session.csrf_token(),
            queue,
            pager: Pager::new(&path, &list),
            comments: list.items,
            pending,
        },
    )
}

/// The second step of deleting ticked comments: which ones (the first few quoted), and
/// the button that deletes them.
async fn confirm_delete(
    state: &AppState,
    session: &AuthSession,
    user: &crate::accounts::model::CurrentUser,
    back: Queue,
    ids: &[i64],
) -> Result<HttpResponse, Error> {
    let mut named = Vec::new();
    for id in ids.iter().take(5) {
        if let Some(c) = repo::find(&state.db, *id).await? {
            named.push(format!(
                "{} on {}: {}",
                c.author_name,
                c.post_slug,
                super::pages::quoted(&c.body_markdown)
            ));
        }
    }
    let layout = Layout::new(&state.site(), "Delete comments", "", "/admin/comments")
        .noindex()
        .header(Some(header(user, session)));
    let count = if ids.len() == 1 {
        "1 comment".to_owned()
    } else {
        format!("{} comments", ids.len())
    };
    let mut page = Confirm::new(layout, session.csrf_token(), format!("Delete {count}?")).says(
        "They are deleted for good: readers no longer see them, and they can't be brought back.",
    );
    for line in named {
        page = page.says(line);
    }
    if ids.len() > 5 {
        page = page.says(format!("…and {} more.", ids.len() - 5));
    }
    let mut page = page.button(
        &format!("Delete {count}"),
        "/admin/comments/bulk",
        &format!("/admin/comments?status={}", back.as_str()),
    );
    page.fields = vec![
        ("action".into(), "delete".into()),
        ("confirmed".into(), "yes".into()),
        ("status".into(), back.as_str().into()),
    ];
    page.fields
        .extend(ids.iter().map(|id| ("id".to_owned(), id.to_string())));
    render(StatusCode::OK, page)
}

/// `POST /admin/comments/bulk`: `action` (approve, hide, show, delete) on every ticked `id`,
/// then back to the list it came from.
pub async fn bulk(
    state: web::Data<AppState>,
    session: AuthSession,
    SignedIn(user): SignedIn,
    CsrfForm(fields): CsrfForm<Vec<(String, String)>>,
) -> Result<HttpResponse, Error> {
    authz::require(&user, Action::ModerateComments)?;
    let field = |name: &str| {
        fields
            .iter()
            .find(|(k, _)| k == name)
            .map_or("", |(_, v)| v.as_str())
    };
    let back = Queue::parse(field("status")).unwrap_or(Queue::Pending);
    let ids: Vec<i64> = fields
        .iter()
        .filter(|(k, _)| k == "id")
        .map(|(_, v)| {
            v.parse()
                .map_err(|_| Error::BadRequest(format!("“{v}” is not a comment number")))
        })
        .collect::<Result<_, _>>()?;
    if ids.len() > 500 {
        return Err(Error::BadRequest("at most 500 comments at once".into()));
    }
    // Deleting is for good: the first POST only asks (naming the comments), the second,
    // with `confirmed`, deletes.
    if field("action") == "delete" && field("confirmed") != "yes" && !ids.is_empty() {
        return confirm_delete(&state, &session, &user, back, &ids).await;
    }
    match field("action") {
        "approve" => repo::approve(&state.db, &ids).await?,
        "hide" => repo::set_hidden_many(&state.db, &ids, true).await?,
        "show" => repo::set_hidden_many(&state.db, &ids, false).await?,
        "delete" => repo::delete_many(&state.db, &ids).await?,
        other => {
            return Err(Error::BadRequest(format!(
                "“{other}” is not something to do to comments: approve, hide, show or delete"
            )));
        }
    };
    Ok(see_other(&format!(
        "/admin/comments?status={}",
        back.as_str()
    )))
}
