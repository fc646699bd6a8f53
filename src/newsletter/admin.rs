//! `/admin/subscribers` (admins): who subscribed, by status, and every subscriber as CSV.

use actix_web::{
    HttpResponse,
    http::{StatusCode, header},
    web,
};
use askama::Template;
use serde::Deserialize;

use super::repo::{self, Subscriber};
use crate::{
    accounts::session::AuthSession,
    authz::{self, Action},
    db::{Page, PageNumber},
    error::Error,
    extract::{SignedIn, header as site_header},
    render::{
        Layout,
        page::{Pager, human_date, personal as render},
    },
    state::AppState,
};

const PER_PAGE: u32 = 100;
const STATUSES: [&str; 3] = ["pending", "confirmed", "unsubscribed"];

#[derive(Template)]
#[template(path = "newsletter/admin/index.html")]
struct IndexPage {
    layout: Layout,
    status: &'static str,
    counts: (i64, i64, i64),
    subscribers: Vec<Subscriber>,
    pager: Pager,
}

impl Subscriber {
    pub fn since(&self) -> String {
        human_date(&self.confirmed_at.unwrap_or(self.created_at))
    }
}

#[derive(Debug, Deserialize)]
pub struct IndexQuery {
    #[serde(default)]
    status: String,
    #[serde(default)]
    page: Option<PageNumber>,
}

/// `GET /admin/subscribers?status=`
pub async fn index(
    state: web::Data<AppState>,
    session: AuthSession,
    SignedIn(user): SignedIn,
    query: web::Query<IndexQuery>,
) -> Result<HttpResponse, Error> {
    authz::require(&user, Action::ManageSubscribers)?;
    let status = match query.status.as_str() {
        "" => "",
        s => STATUSES
            .into_iter()
            .find(|k| *k == s)
            .ok_or(Error::NotFound)?,
    };
    let number = query.page.unwrap_or(PageNumber::FIRST);
    let rows = repo::list(
        &state.db,
        status,
        Page::<()>::limit(PER_PAGE),
        number.offset(PER_PAGE),
    )
    .await?;
    let list = Page::from_overfetch(rows, number, PER_PAGE);
    let path = match status {
        "" => "/admin/subscribers".to_owned(),
        s => format!("/admin/subscribers?status={s}"),
    };
    let layout = Layout::new(&state.site(), "Subscribers", "", "/admin/subscribers")
        .noindex()
        .header(Some(site_header(&user, &session)));
    render(
        StatusCode::OK,
        IndexPage {
            layout,
            status,
            counts: repo::counts(&state.db).await?,
            pager: Pager::new(&path, &list),
            subscribers: list.items,
        },
    )
}

/// A CSV field: quoted, quotes doubled, and a leading `=`, `+`, `-`, `@`, tab or CR made
/// inert with a `'` so a spreadsheet never runs it as a formula (CSV injection).
fn field(value: &str) -> String {
    let inert = match value.chars().next() {
        Some('=' | '+' | '-' | '@' | '\t' | '\r') => format!("'{value}"),
        _ => value.to_owned(),
    };
    format!("\"{}\"", inert.replace('"', "\"\""))
}

/// `GET /admin/subscribers/export.csv`: every subscriber, any status.
pub async fn export(
    state: web::Data<AppState>,
    SignedIn(user): SignedIn,
) -> Result<HttpResponse, Error> {
    authz::require(&user, Action::ManageSubscribers)?;
    let mut csv = String::from("email,status,subscribed_at,confirmed_at,account\r\n");
    let mut offset = 0;
    loop {
        let rows = repo::list(&state.db, "", 5_000, offset).await?;
        if rows.is_empty() {
            break;
        }
        offset += rows.len() as i64;
        for s in rows {
            let confirmed = s
                .confirmed_at
                .map(|t| crate::render::page::iso_date(&t))
                .unwrap_or_default();
            csv.push_str(&format!(
                "{},{},{},{},{}\r\n",
                field(&s.email),
                field(&s.status),
                field(&crate::render::page::iso_date(&s.created_at)),
                field(&confirmed),
                field(s.username.as_deref().unwrap_or_default()),
            ));
        }
    }
    Ok(HttpResponse::Ok()
        .content_type("text/csv; charset=utf-8")
        .insert_header((
            header::CONTENT_DISPOSITION,
            "attachment; filename=\"subscribers.csv\"",
        ))
        .insert_header((header::CACHE_CONTROL, "private, no-store"))
        .body(csv))
}

#[cfg(test)]
mod tests {
    use super::field;

    #[test]
    fn csv_fields_are_quoted_and_formulas_made_inert() {
        assert_eq!(field("a@example.com"), "\"a@example.com\"");
        assert_eq!(field("say \"hi\""), "\"say \"\"hi\"\"\"");
        assert_eq!(field("=HYPERLINK(\"x\")"), "\"'=HYPERLINK(\"\"x\"\")\"");
        assert_eq!(field("+1"), "\"'+1\"");
        assert_eq!(field("@SUM(A1)"), "\"'@SUM(A1)\"");
    }
}
