//! `Slug`: the URL name of a post or tag. Parsed once at the edge, so a bad one never
//! reaches SQL: an unknown or malformed slug in a path is simply a 404.

use std::fmt;

#[derive(Debug, Clone, PartialEq, Eq, Hash, serde::Deserialize, serde::Serialize)]
#[serde(try_from = "String")]
pub struct Slug(String);

impl Slug {
    pub const MAX_LEN: usize = 200;

    /// Lower-case ASCII letters and digits in groups joined by single hyphens.
    pub fn parse(s: &str) -> Result<Self, String> {
        let ok = !s.is_empty()
            && s.len() <= Self::MAX_LEN
            && s.split('-').all(|part| {
                !part.is_empty()
                    && part
                        .bytes()
                        .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit())
            });
        if ok {
            Ok(Self(s.to_owned()))
        } else {
            Err(format!(
                "a slug is lower-case letters, digits and single hyphens, at most {} characters",
                Self::MAX_LEN
            ))
        }
    }

    /// A slug made from free text ("Hello, World!" becomes "hello-world"); `None` if the
    /// text has no letters or digits.
    pub fn from_title(title: &str) -> Option<Self> {
        let mut s = slug::slugify(title);
        if s.len() > Self::MAX_LEN {
            s.truncate(Self::MAX_LEN);
            s = s.trim_end_matches('-').to_owned();
        }
        Self::parse(&s).ok()
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl TryFrom<String> for Slug {
    type Error = String;
    fn try_from(s: String) -> Result<Self, String> {
        Self::parse(&s)
    }
}

impl fmt::Display for Slug {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn accepts_lowercase_words_joined_by_hyphens() {
        for ok in ["a", "hello-world", "rust-2024", "x1-y2-z3"] {
            assert!(Slug::parse(ok).is_ok(), "{ok}");
        }
    }

    #[test]
    fn rejects_everything_else() {
        let long = "a".repeat(201);
        for bad in [
            "",
            "-a",
            "a-",
            "a--b",
            "Hello",
            "a b",
            "a/b",
            "é",
            "..",
            "a_b",
            long.as_str(),
        ] {
            assert!(Slug::parse(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn titles_become_slugs() {
        assert_eq!(
            Slug::from_title("Hello, World! Ça va?").map(|s| s.0),
            Some("hello-world-ca-va".into())
        );
        assert_eq!(Slug::from_title("!!!"), None);
        let long = Slug::from_title(&"word ".repeat(100)).expect("has letters");
        assert!(long.as_str().len() <= Slug::MAX_LEN && !long.as_str().ends_with('-'));
    }
}
