//! `GET /search?q=…&page=N&tag=…&author=…`: the search page. Every page's header has a
//! search form that lands here; without `q` this shows the empty form.

use actix_web::{HttpResponse, http::StatusCode, http::header, web};
use askama::Template;
use serde::Deserialize;

use super::{Counted, Hit, Query};
use crate::{
    db::PageNumber,
    error::Error,
    extract::{ClientIp, Visitor},
    render::{
        Layout,
        number::thousands,
        page::{Pager, page, page_href, page_with_status},
    },
    state::AppState,
};

#[derive(Debug, Deserialize)]
pub struct SearchParams {
    #[serde(default)]
    q: String,
    page: Option<PageNumber>,
    tag: Option<String>,
    author: Option<String>,
}

#[derive(Template)]
#[template(path = "search.html")]
struct SearchPage {
    layout: Layout,
    /// What the reader typed, as searched (trimmed, cut to the maximum).
    q: String,
    tag: Option<String>,
    author: Option<String>,
    searched: bool,
    hits: Vec<Hit>,
    total: i64,
    /// How many, as said on the page: "12", or "More than 1,000".
    count: String,
    pager: Pager,
    /// Said above the results: why there are none (too many searches).
    notice: Option<String>,
    /// "Did you mean …?": the corrected query and its address.
    suggestion: Option<(String, String)>,
    /// The hits only have titles spelled like the query.
    approximate: bool,
}

/// An empty filter is no filter.
fn filter(value: &Option<String>) -> Option<String> {
    value.as_deref().map(super::clean).filter(|v| !v.is_empty())
}

/// The page's own address with its query, for links to its other pages.
fn href(query: &Query) -> String {
    let mut url = url::form_urlencoded::Serializer::new(String::new());
    url.append_pair("q", &query.text);
    if let Some(tag) = &query.tag {
        url.append_pair("tag", tag);
    }
    if let Some(author) = &query.author {
        url.append_pair("author", author);
    }
    format!("/search?{}", url.finish())
}

pub async fn search(
    state: web::Data<AppState>,
    reads: crate::db::Reads,
    backend: web::Data<super::Search>,
    visitor: Visitor,
    ClientIp(ip): ClientIp,
    params: web::Query<SearchParams>,
    keys: crate::cache::Keys,
) -> Result<HttpResponse, Error> {
    // What it finds changes as posts come, go and change.
    keys.add(crate::cache::Key::Posts);
    let mut query = Query::new(&params.q);
    query.tag = filter(&params.tag);
    query.author = filter(&params.author);
    let number = params.page.unwrap_or(PageNumber::FIRST);
    let path = href(&query);
    let title = match query.text.as_str() {
        "" => "Search".to_owned(),
        q => format!("Search: {q}"),
    };
    let mut found = SearchPage {
        layout: Layout::new(
            &state.site(),
            &title,
            "Search every post.",
            &page_href(&path, number.get()),
        )
        .noindex()
        .header(visitor.header),
        q: query.text.clone(),
        tag: query.tag.clone(),
        author: query.author.clone(),
        searched: !query.text.is_empty(),
        hits: Vec::new(),
        total: 0,
        count: String::new(),
        pager: Pager {
            number: number.get(),
            prev: None,
            next: None,
        },
        notice: None,
        suggestion: None,
        approximate: false,
    };
    if !found.searched {
        return page(found);
    }
    if let Some(wait) = super::over_allowance(&state, &backend, Some(ip)).await {
        found.notice = Some(format!(
            "That was a lot of searches in a short time. Try again in {wait} seconds."
        ));
        let mut res = page_with_status(StatusCode::TOO_MANY_REQUESTS, found)?;
        res.headers_mut().insert(header::RETRY_AFTER, wait.into());
        return Ok(res);
    }
    let per_page = i64::from(state.site().per_page);
    let offset = i64::from(number.get() - 1) * per_page;
    let (results, answered) = reads
        .with_pool(async |db| backend.search(db, &query, per_page, offset).await)
        .await?;
    let pages = (results.total + per_page - 1) / per_page;
    found.pager = Pager {
        number: number.get(),
        prev: (number.get() > 1).then(|| page_href(&path, number.get() - 1)),
        next: (i64::from(number.get()) < pages).then(|| page_href(&path, number.get() + 1)),
    };
    found.suggestion = results.suggestion.map(|text| {
        let href = href(&Query {
            text: text.clone(),
            ..query.clone()
        });
        (text, href)
    });
    found.approximate = results.approximate;
    keys.add_all(results.hits.iter().map(|h| h.post.id));
    found.hits = results.hits;
    found.total = results.total;
    found.count = match results.counted {
        Counted::Exactly => thousands(results.total),
        Counted::MoreThan => format!("More than {}", thousands(results.total - 1)),
        Counted::About => format!("About {}", thousands(round_to_two_digits(results.total))),
    };
    let mut res = page(found)?;
    res.headers_mut().insert(
        header::HeaderName::from_static("x-search-backend"),
        header::HeaderValue::from_static(answered.as_str()),
    );
    Ok(res)
}

/// `n` to two significant digits (48,213 → 48,000): an estimate said no more precisely
/// than it is.
fn round_to_two_digits(n: i64) -> i64 {
    let mut unit = 1;
    while n / unit >= 100 {
        unit *= 10;
    }
    (n + unit / 2) / unit * unit
}

#[cfg(test)]
mod tests {
    #[test]
    fn estimates_keep_two_digits() {
        assert_eq!(super::round_to_two_digits(7), 7);
        assert_eq!(super::round_to_two_digits(99), 99);
        assert_eq!(super::round_to_two_digits(48_213), 48_000);
        assert_eq!(super::round_to_two_digits(48_713), 49_000);
        assert_eq!(super::round_to_two_digits(10_051), 10_000);
    }
}
