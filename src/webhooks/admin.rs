//! `/admin/webhooks` (admins): register a URL for events, see its secret and delivery log,
//! send a test event, delete it.

use actix_web::{HttpResponse, http::StatusCode, web};
use askama::Template;

use crate::render::confirm::Confirm;

use super::{EVENTS, guard, repo};
use crate::{
    accounts::session::AuthSession,
    authz::{self, Action},
    error::Error,
    extract::{CsrfForm, SignedIn, TokenOnly, header},
    render::{
        Layout,
        form::FormErrors,
        page::{human_date_time, personal as render, see_other},
    },
    state::AppState,
};

#[derive(Template)]
#[template(path = "webhooks/admin/index.html")]
struct IndexPage {
    layout: Layout,
    csrf_token: String,
    webhooks: Vec<repo::Webhook>,
    events: [(&'static str, &'static str); 6],
    url: String,
    chosen: Vec<String>,
    errors: FormErrors,
}

impl IndexPage {
    fn is_chosen(&self, event: &str) -> bool {
        self.chosen.iter().any(|c| c == event)
    }

    fn added(&self, webhook: &repo::Webhook) -> String {
        crate::render::page::human_date(&webhook.created_at)
    }
}

async fn index_page(
    state: &AppState,
    session: &AuthSession,
    user: &crate::accounts::model::CurrentUser,
    url: String,
    chosen: Vec<String>,
    errors: FormErrors,
) -> Result<IndexPage, Error> {
    Ok(IndexPage {
        layout: Layout::new(&state.site(), "Webhooks", "", "/admin/webhooks")
            .noindex()
            .header(Some(header(user, session))),
        csrf_token: session.csrf_token(),
        webhooks: repo::list(&state.db).await?,
        events: EVENTS,
        url,
        chosen,
        errors,
    })
}

/// `GET /admin/webhooks`
pub async fn index(
    state: web::Data<AppState>,
    session: AuthSession,
    SignedIn(user): SignedIn,
) -> Result<HttpResponse, Error> {
    authz::require(&user, Action::ManageWebhooks)?;
    let page = index_page(
        &state,
        &session,
        &user,
        String::new(),
        Vec::new(),
        FormErrors::default(),
    )
    .await?;
    render(StatusCode::OK, page)
}

/// `POST /admin/webhooks`: `url` and one `event` field per ticked event.
pub async fn create(
    state: web::Data<AppState>,
    session: AuthSession,
    SignedIn(user): SignedIn,
    CsrfForm(fields): CsrfForm<Vec<(String, String)>>,
) -> Result<HttpResponse, Error> {
    authz::require(&user, Action::ManageWebhooks)?;
    let url_text = fields
        .iter()
        .find(|(k, _)| k == "url")
        .map_or("", |(_, v)| v.as_str())
        .trim()
        .to_owned();
    let chosen: Vec<String> = fields
        .iter()
        .filter(|(k, _)| k == "event")
        .map(|(_, v)| v.clone())
        .collect();
    let mut errors = FormErrors::default();
    if chosen.is_empty() {
        errors.add("event", "Tick at least one event");
    } else if let Some(bad) = chosen.iter().find(|e| !EVENTS.iter().any(|(k, _)| k == e)) {
        errors.add("event", format!("“{bad}” is not an event this site sends"));
    }
    let mut events = chosen.clone();
    events.sort();
    events.dedup();
    match url::Url::parse(&url_text) {
        _ if url_text.chars().count() > 2000 => {
            errors.add("url", "A URL can be at most 2,000 characters")
        }
        Err(_) => errors.add(
            "url",
            "Enter a full URL, such as https://example.com/hooks/quire",
        ),
        Ok(url) => {
            if let Err(refused) = guard::resolve(&url, state.settings.webhooks.allow_private).await
            {
                errors.add("url", refused.to_string());
            }
        }
    }
    if !errors.is_empty() {
        let page = index_page(&state, &session, &user, url_text, chosen, errors).await?;
        return render(StatusCode::UNPROCESSABLE_ENTITY, page);
    }
    let id = repo::insert(&state.db, &url_text, &events, &super::new_secret()).await?;
    Ok(see_other(&format!("/admin/webhooks/{id}")))
}

#[derive(Template)]
#[template(path = "webhooks/admin/show.html")]
struct ShowPage {
    layout: Layout,
    csrf_token: String,
    webhook: repo::Webhook,
    log: Vec<repo::Logged>,
}

impl repo::Logged {
    pub fn when(&self) -> String {
        human_date_time(&self.created_at)
    }
}

/// `GET /admin/webhooks/{id}`: the secret, the events, the last 50 deliveries.
pub async fn show(
    state: web::Data<AppState>,
    session: AuthSession,
    SignedIn(user): SignedIn,
    id: web::Path<i64>,
) -> Result<HttpResponse, Error> {
    authz::require(&user, Action::ManageWebhooks)?;
    let webhook = repo::find(&state.db, *id).await?.ok_or(Error::NotFound)?;
    let log = repo::log(&state.db, webhook.id, 50).await?;
    let page = ShowPage {
        layout: Layout::new(&state.site(), "Webhook", "", "/admin/webhooks")
            .noindex()
            .header(Some(header(&user, &session))),
        csrf_token: session.csrf_token(),
        webhook,
        log,
    };
    render(StatusCode::OK, page)
}

/// `POST /admin/webhooks/{id}/test`: a `ping` event, delivered like any other.
pub async fn test(
    state: web::Data<AppState>,
    SignedIn(user): SignedIn,
    id: web::Path<i64>,
    _form: CsrfForm<TokenOnly>,
) -> Result<HttpResponse, Error> {
    authz::require(&user, Action::ManageWebhooks)?;
    let webhook = repo::find(&state.db, *id).await?.ok_or(Error::NotFound)?;
    let payload = serde_json::json!({
        "event": "ping",
        "data": { "message": "A test event from Quire's admin.", "webhook": webhook.id },
    });
    let mut tx = state.db.begin().await?;
    super::queue_delivery(&mut tx, webhook.id, "ping", &payload).await?;
    tx.commit().await?;
    Ok(see_other(&format!("/admin/webhooks/{}", webhook.id)))
}

/// `GET /admin/webhooks/{id}/delete`: which webhook goes, and with what; changes nothing.
pub async fn confirm_delete(
    state: web::Data<AppState>,
    session: AuthSession,
    SignedIn(user): SignedIn,
    id: web::Path<i64>,
) -> Result<HttpResponse, Error> {
    authz::require(&user, Action::ManageWebhooks)?;
    let webhook = repo::find(&state.db, *id).await?.ok_or(Error::NotFound)?;
    let layout = Layout::new(&state.site(), "Delete webhook", "", "/admin/webhooks")
        .noindex()
        .header(Some(header(&user, &session)));
    let page = Confirm::new(
        layout,
        session.csrf_token(),
        format!("Delete the webhook to {}?", webhook.url),
    )
    .says(format!(
        "{} will no longer hear of {}; its log of deliveries goes with it.",
        webhook.url,
        webhook.events.join(", ")
    ))
    .button(
        "Delete webhook",
        &format!("/admin/webhooks/{}/delete", webhook.id),
        &format!("/admin/webhooks/{}", webhook.id),
    );
    render(StatusCode::OK, page)
}

/// `POST /admin/webhooks/{id}/delete`: the webhook and its log.
pub async fn delete(
    state: web::Data<AppState>,
    SignedIn(user): SignedIn,
    id: web::Path<i64>,
    _form: CsrfForm<TokenOnly>,
) -> Result<HttpResponse, Error> {
    authz::require(&user, Action::ManageWebhooks)?;
    if !repo::delete(&state.db, *id).await? {
        return Err(Error::NotFound);
    }
    Ok(see_other("/admin/webhooks"))
}
