//! What a page shows, named by its handler as surrogate keys (see `edge`): a leaf, so the
//! modules whose ids are keys (`PostId`, `TagId`, `UserId`) can say so without reaching the
//! rest of the cache.

use std::{collections::BTreeSet, convert::Infallible, fmt, future::Ready};

use actix_web::{FromRequest, HttpMessage, HttpRequest, dev::Payload};

/// One thing a page shows, as a surrogate key. The names are the migration's.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Key {
    /// Every page: the site's settings show on each (every page has it).
    Site,
    /// The home page.
    Home,
    /// Every list of posts, and every post page (its previous, next and related posts):
    /// purged when a post comes, goes or moves.
    Posts,
    /// Every list of tags (the tag index, the sitemap).
    Tags,
    /// A post or a page (`posts.id`): its own page, and every page that shows it.
    Post(i64),
    /// A tag (`tags.id`): its page, feed and stylesheet.
    Tag(i64),
    /// A person (`users.id`): their author page and feed, and pages that show their name.
    Author(i64),
}

impl fmt::Display for Key {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Key::Site => f.write_str("site"),
            Key::Home => f.write_str("home"),
            Key::Posts => f.write_str("posts"),
            Key::Tags => f.write_str("tags"),
            Key::Post(id) => write!(f, "post-{id}"),
            Key::Tag(id) => write!(f, "tag-{id}"),
            Key::Author(id) => write!(f, "author-{id}"),
        }
    }
}

/// The keys named on one request so far (in its extensions).
#[derive(Debug, Default, Clone)]
struct Named(BTreeSet<Key>);

/// Extractor: the handler of a page the cache may keep names what the page shows, so the
/// edge can be told what to purge when that changes (`keys.add(post.id)`). Naming a key on a
/// page nobody keeps (signed in, a 404) does nothing.
pub struct Keys(HttpRequest);

impl Keys {
    /// The page shows `key`.
    pub fn add(&self, key: impl Into<Key>) -> &Self {
        let key = key.into();
        let mut extensions = self.0.extensions_mut();
        match extensions.get_mut::<Named>() {
            Some(named) => {
                named.0.insert(key);
            }
            None => {
                extensions.insert(Named(BTreeSet::from([key])));
            }
        }
        self
    }

    /// The page shows each of `keys` (a list's posts).
    pub fn add_all<K: Into<Key>>(&self, keys: impl IntoIterator<Item = K>) -> &Self {
        for key in keys {
            self.add(key);
        }
        self
    }
}

impl FromRequest for Keys {
    type Error = Infallible;
    type Future = Ready<Result<Self, Infallible>>;

    fn from_request(req: &HttpRequest, _: &mut Payload) -> Self::Future {
        std::future::ready(Ok(Keys(req.clone())))
    }
}

/// The keys header's value for what `req`'s handler named, `site` added; `None` when it named
/// none (the page is then not offered to the edge).
pub(super) fn named(req: &HttpRequest) -> Option<String> {
    let extensions = req.extensions();
    let named = extensions.get::<Named>().filter(|n| !n.0.is_empty())?;
    let mut keys = named.0.clone();
    keys.insert(Key::Site);
    Some(
        keys.iter()
            .map(ToString::to_string)
            .collect::<Vec<_>>()
            .join(" "),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keys_are_named_as_the_migration_names_them() {
        let names: Vec<String> = [
            Key::Site,
            Key::Home,
            Key::Posts,
            Key::Tags,
            Key::Post(20001),
            Key::Tag(30002),
            Key::Author(10003),
        ]
        .iter()
        .map(ToString::to_string)
        .collect();
        assert_eq!(
            names,
            [
                "site",
                "home",
                "posts",
                "tags",
                "post-20001",
                "tag-30002",
                "author-10003"
            ]
        );
        // The migration's CHECK on edge_purges.key: `^[a-z]+(-[0-9]+)?$`.
        assert!(names.iter().all(|n| {
            let (word, id) = n.split_once('-').unwrap_or((n, "0"));
            !word.is_empty()
                && word.bytes().all(|b| b.is_ascii_lowercase())
                && !id.is_empty()
                && id.bytes().all(|b| b.is_ascii_digit())
        }));
    }
}
