//! Tags: a name readers browse by, with its own page (description, SEO fields, image,
//! accent colour). `TagInput::parse` holds every limit on a tag's fields, once: the admin's
//! forms, the importers and any later door call it (issue 27, item 9).

use crate::{input::Problems, media::image_url, settings::model::parse_color, slug::Slug};

/// Longest tag name, in characters (a post's tag list takes the same rule:
/// `posts::input::TAG_MAX`).
pub const NAME_MAX: usize = 100;
/// Longest tag slug, in bytes (the table's CHECK says the same).
pub const SLUG_MAX: usize = 100;
/// Longest tag description, in characters (the tag screen's and the importers' rule).
pub const DESCRIPTION_MAX: usize = 1000;
/// Longest meta title and description, in characters (as a post's: search engines cut
/// longer ones, so the limits are only against abuse).
pub const META_TITLE_MAX: usize = 300;
pub const META_DESCRIPTION_MAX: usize = 500;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, sqlx::Type, serde::Serialize)]
#[sqlx(transparent)]
pub struct TagId(pub i64);

/// A tag's pages, as the edge cache knows them (`cache::key`).
impl From<TagId> for crate::cache::key::Key {
    fn from(id: TagId) -> Self {
        Self::Tag(id.0)
    }
}

#[derive(Debug, Clone, sqlx::FromRow)]
pub struct Tag {
    pub id: TagId,
    pub slug: String,
    pub name: String,
    pub description: String,
    pub meta_title: String,
    pub meta_description: String,
    /// A path on this site or an `https://` URL; empty for none.
    pub image: String,
    /// `#rrggbb`, or empty for the site's own.
    pub accent: String,
}

/// A tag's fields, as the domain names them; each door maps them to its own names.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Field {
    Name,
    Slug,
    Description,
    MetaTitle,
    MetaDescription,
    Image,
    Accent,
}

impl Field {
    /// The field's name in the admin's form.
    pub fn name(self) -> &'static str {
        match self {
            Field::Name => "name",
            Field::Slug => "slug",
            Field::Description => "description",
            Field::MetaTitle => "meta_title",
            Field::MetaDescription => "meta_description",
            Field::Image => "image",
            Field::Accent => "accent",
        }
    }
}

/// What a door sends, as typed (trimming is `parse`'s).
#[derive(Debug, Clone, Default, serde::Deserialize)]
pub struct TagFields {
    #[serde(default)]
    pub name: String,
    /// Empty: made from the name.
    #[serde(default)]
    pub slug: String,
    #[serde(default)]
    pub description: String,
    #[serde(default)]
    pub meta_title: String,
    #[serde(default)]
    pub meta_description: String,
    #[serde(default)]
    pub image: String,
    #[serde(default)]
    pub accent: String,
}

impl From<&Tag> for TagFields {
    fn from(tag: &Tag) -> Self {
        TagFields {
            name: tag.name.clone(),
            slug: tag.slug.clone(),
            description: tag.description.clone(),
            meta_title: tag.meta_title.clone(),
            meta_description: tag.meta_description.clone(),
            image: tag.image.clone(),
            accent: tag.accent.clone(),
        }
    }
}

/// A tag ready to be written: every field checked and trimmed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TagInput {
    pub name: String,
    pub slug: Slug,
    pub description: String,
    pub meta_title: String,
    pub meta_description: String,
    pub image: String,
    pub accent: String,
}

impl TagInput {
    /// The one rule for a tag's fields: a name of 1 to `NAME_MAX` characters without
    /// control characters or commas (a post's tag list is comma-separated); a slug of
    /// lower-case letters, digits and hyphens (made from the name when empty); texts within
    /// their limits, with no control characters but line breaks in the description; an image
    /// as `media::image_url` takes it; an accent as a hex colour.
    pub fn parse(fields: &TagFields) -> Result<TagInput, Problems<Field>> {
        let mut problems = Problems::default();
        let name = fields.name.trim();
        let n = name.chars().count();
        if name.is_empty() {
            problems.add(Field::Name, "A tag needs a name");
        } else if n > NAME_MAX {
            problems.add(
                Field::Name,
                format!("A tag name can be at most {NAME_MAX} characters (this one is {n})"),
            );
        } else if name.chars().any(char::is_control) {
            problems.add(Field::Name, "A tag name can't contain control characters");
        } else if name.contains(',') {
            problems.add(Field::Name, "A tag name can't contain a comma");
        }
        let slug = problems.check(Field::Slug, parse_slug(fields.slug.trim(), name));
        let mut text = |field: Field, value: &str, max: usize, what: &str, lines: bool| {
            let value = value.trim();
            let n = value.chars().count();
            if n > max {
                problems.add(
                    field,
                    format!("{what} can be at most {max} characters (this one is {n})"),
                );
            } else if value
                .chars()
                .any(|c| c.is_control() && !(lines && matches!(c, '\n' | '\r' | '\t')))
            {
                problems.add(field, format!("{what} can't contain control characters"));
            }
            value.replace("\r\n", "\n")
        };
        let description = text(
            Field::Description,
            &fields.description,
            DESCRIPTION_MAX,
            "A description",
            true,
        );
        let meta_title = text(
            Field::MetaTitle,
            &fields.meta_title,
            META_TITLE_MAX,
            "A meta title",
            false,
        );
        let meta_description = text(
            Field::MetaDescription,
            &fields.meta_description,
            META_DESCRIPTION_MAX,
            "A meta description",
            false,
        );
        let image = match fields.image.chars().any(char::is_control) {
            true => Err("an image address can't contain control characters".to_owned()),
            false => image_url::parse(&fields.image),
        };
        let image = problems
            .check(Field::Image, image)
            .map(Option::unwrap_or_default);
        let accent = problems.check(Field::Accent, parse_color(&fields.accent));
        let value = match (slug, image, accent) {
            (Some(slug), Some(image), Some(accent)) => Some(TagInput {
                name: name.to_owned(),
                slug,
                description,
                meta_title,
                meta_description,
                image,
                accent,
            }),
            _ => None,
        };
        problems.into_result(value)
    }
}

/// A slug as typed, or made from the name when none is; at most `SLUG_MAX` bytes.
fn parse_slug(typed: &str, name: &str) -> Result<Slug, String> {
    if typed.is_empty() {
        let made = Slug::from_title(name)
            .ok_or_else(|| "give the tag a name with letters or digits, or a slug".to_owned())?;
        let mut s = made.as_str().to_owned();
        if s.len() > SLUG_MAX {
            s.truncate(SLUG_MAX);
            s = s.trim_end_matches('-').to_owned();
        }
        return Slug::parse(&s);
    }
    if typed.len() > SLUG_MAX {
        return Err(format!("a tag's slug can be at most {SLUG_MAX} characters"));
    }
    Slug::parse(typed)
        .map_err(|_| "a slug is lower-case letters, digits and single hyphens".to_owned())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn fields(name: &str) -> TagFields {
        TagFields {
            name: name.to_owned(),
            ..Default::default()
        }
    }

    #[test]
    fn a_name_makes_the_slug_when_none_is_typed() {
        let tag = TagInput::parse(&fields("  Rust & Web ")).expect("valid");
        assert_eq!(tag.name, "Rust & Web");
        assert_eq!(tag.slug.as_str(), "rust-web");
        assert_eq!(tag.accent, "");
    }

    #[test]
    fn hostile_and_oversized_fields_are_refused_each_against_its_field() {
        let too_long = "x".repeat(10_000);
        for (f, field) in [
            (fields(""), Field::Name),
            (fields(&too_long), Field::Name),
            (fields("a\u{0}b"), Field::Name),
            (fields("a,b"), Field::Name),
            (fields("!!!"), Field::Slug),
            (
                TagFields {
                    slug: "Not A Slug".into(),
                    ..fields("ok")
                },
                Field::Slug,
            ),
            (
                TagFields {
                    slug: "a".repeat(101),
                    ..fields("ok")
                },
                Field::Slug,
            ),
            (
                TagFields {
                    description: "d".repeat(1001),
                    ..fields("ok")
                },
                Field::Description,
            ),
            (
                TagFields {
                    meta_title: "t\u{7}".into(),
                    ..fields("ok")
                },
                Field::MetaTitle,
            ),
            (
                TagFields {
                    image: "javascript:alert(1)".into(),
                    ..fields("ok")
                },
                Field::Image,
            ),
            (
                TagFields {
                    accent: "red".into(),
                    ..fields("ok")
                },
                Field::Accent,
            ),
        ] {
            let problems = TagInput::parse(&f).expect_err("refused");
            assert!(problems.has(field), "{f:?}: {problems:?}");
        }
    }

    #[test]
    fn a_description_keeps_its_line_breaks_and_accents_are_normalised() {
        let tag = TagInput::parse(&TagFields {
            description: "One.\r\nTwo.".into(),
            accent: "#ABC".into(),
            image: "/uploads/a.png".into(),
            ..fields("ok")
        })
        .expect("valid");
        assert_eq!(tag.description, "One.\nTwo.");
        assert_eq!(tag.accent, "#aabbcc");
        assert_eq!(tag.image, "/uploads/a.png");
    }
}
