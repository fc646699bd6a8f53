//! Tags: a name readers browse by, with a description for its page.

/// Longest tag description, in characters (the tag screen's and the importers' rule).
pub const DESCRIPTION_MAX: usize = 1000;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, sqlx::Type, serde::Serialize)]
#[sqlx(transparent)]
pub struct TagId(pub i64);

#[derive(Debug, Clone, sqlx::FromRow)]
pub struct Tag {
    pub id: TagId,
    pub slug: String,
    pub name: String,
    pub description: String,
}
