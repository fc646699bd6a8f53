//! Search over every published post. PostgreSQL full-text search is the backend whenever
//! `MEILI_URL` is unset (issue 11); the Meilisearch backend and the `/search` page build on
//! this module's types.

pub mod pages;
pub mod postgres;

use crate::{posts::model::PostSummary, render::markdown::Highlighted};

/// The longest query searched, in characters; longer ones are cut, not refused.
pub const MAX_QUERY_CHARS: usize = 200;

/// What a reader asked for.
#[derive(Debug, Clone, Default)]
pub struct Query {
    /// The words, in web-search syntax: `"a phrase"`, `-excluded`, `this or that`.
    pub text: String,
    /// Only posts with this tag (slug).
    pub tag: Option<String>,
    /// Only posts by this author (username).
    pub author: Option<String>,
}

impl Query {
    /// `text` cleaned (see `clean`).
    pub fn new(text: &str) -> Self {
        Self {
            text: clean(text),
            ..Self::default()
        }
    }
}

/// What a reader typed, as searched: control characters dropped, cut to
/// `MAX_QUERY_CHARS`, trimmed.
pub fn clean(text: &str) -> String {
    let text: String = text
        .chars()
        .filter(|c| !c.is_control())
        .take(MAX_QUERY_CHARS)
        .collect();
    text.trim().to_owned()
}

/// One result: the post's card, with its title and a snippet of its text highlighted.
#[derive(Debug, Clone)]
pub struct Hit {
    pub post: PostSummary,
    pub title: Highlighted,
    pub snippet: Highlighted,
}

/// One page of results and how many there are in all.
#[derive(Debug, Clone, Default)]
pub struct Results {
    pub hits: Vec<Hit>,
    pub total: i64,
    /// A query spelled like this one that finds something, when this one found nothing
    /// by its words (the hits are then titles with words like the query's).
    pub suggestion: Option<String>,
    /// The hits are titles spelled like the query, not posts containing its words.
    pub approximate: bool,
}
