//! A post as it arrives, whichever door it came through (the editor's form, the JSON API,
//! later importers and GraphQL): `PostFields` is what was sent, `PostInput::parse` turns it
//! into the `PostInput` the write use-cases take, or says what is wrong with it. Every limit
//! on a post's fields lives here, once; the doors only move their wire format into
//! `PostFields` and rename the fields of the answer (issue 25, item 4).

use time::OffsetDateTime;

use super::model::{PostForEdit, PostInput, PostKind, PostMeta, PostStatus, state_label};
use crate::input::{Problems, human_bytes};

/// Longest title, in characters.
pub const TITLE_MAX: usize = 300;
/// Longest excerpt (RealWorld's `description`), in characters.
pub const EXCERPT_MAX: usize = 500;
/// Most tags on one post.
pub const TAGS_MAX: usize = 10;
/// Longest tag name, in characters: the tag's own rule.
pub const TAG_MAX: usize = crate::tags::model::NAME_MAX;
/// Longest meta title and description, in characters. Search engines show about 60 and
/// 155; longer ones are cut, not refused by them, so the limit is only against abuse.
pub const META_TITLE_MAX: usize = 300;
pub const META_DESCRIPTION_MAX: usize = 500;
/// Longest cover alt text and caption, in characters.
pub const COVER_ALT_MAX: usize = 300;
pub const COVER_CAPTION_MAX: usize = 500;

/// A post's fields, as the domain names them; each door maps them to its own names.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Field {
    Title,
    Slug,
    Excerpt,
    Body,
    Tags,
    CoverImage,
    Status,
    PublishAt,
    MetaTitle,
    MetaDescription,
    SocialImage,
    CanonicalUrl,
    CoverAlt,
    CoverCaption,
}

impl Field {
    /// The field's name in the editor's form (and in the autosave's answer).
    pub fn name(self) -> &'static str {
        match self {
            Field::Title => "title",
            Field::Slug => "slug",
            Field::Excerpt => "excerpt",
            Field::Body => "body",
            Field::Tags => "tags",
            Field::CoverImage => "cover_image",
            Field::Status => "status",
            Field::PublishAt => "publish_at",
            Field::MetaTitle => "meta_title",
            Field::MetaDescription => "meta_description",
            Field::SocialImage => "social_image",
            Field::CanonicalUrl => "canonical_url",
            Field::CoverAlt => "cover_alt",
            Field::CoverCaption => "cover_caption",
        }
    }
}

/// What a door sends: text as typed (trimming is `parse`'s), a status word, and the time to
/// publish at already read from the door's own format (`None`: none given or unreadable).
#[derive(Debug, Clone, Default)]
pub struct PostFields {
    pub title: String,
    /// Empty: made from the title.
    pub slug: String,
    /// Empty: derived from the body when saved.
    pub excerpt: String,
    pub body: String,
    /// Names as typed; blank ones are dropped. A page's are ignored (pages have no tags).
    pub tags: Vec<String>,
    pub cover_image: String,
    pub featured: bool,
    /// `draft`, `published` or `scheduled`.
    pub status: String,
    pub publish_at: Option<OffsetDateTime>,
    pub meta_title: String,
    pub meta_description: String,
    pub social_image: String,
    pub canonical_url: String,
    pub cover_alt: String,
    pub cover_caption: String,
    pub kind: PostKind,
}

impl PostFields {
    /// A saved post's fields, as an edit starts from them (a door that changes only some
    /// fields lays them over these).
    pub fn from_post(post: &PostForEdit) -> Self {
        PostFields {
            title: post.title.clone(),
            slug: post.slug.clone(),
            excerpt: post.own_excerpt(),
            body: post.body_markdown.clone(),
            tags: post.tags.0.iter().map(|t| t.name.clone()).collect(),
            cover_image: post.cover_image.clone().unwrap_or_default(),
            featured: post.featured,
            status: status_word(post.status, post.published_at).to_owned(),
            publish_at: post.published_at,
            meta_title: post.meta.meta_title.clone(),
            meta_description: post.meta.meta_description.clone(),
            social_image: post.meta.social_image.clone().unwrap_or_default(),
            canonical_url: post.meta.canonical_url.clone().unwrap_or_default(),
            cover_alt: post.meta.cover_alt.clone(),
            cover_caption: post.meta.cover_caption.clone(),
            kind: post.kind,
        }
    }
}

/// The word for how a post stands: `draft`, `scheduled` (a future date) or `published`.
pub fn status_word(status: PostStatus, published_at: Option<OffsetDateTime>) -> &'static str {
    match state_label(status, published_at) {
        "Draft" => "draft",
        "Scheduled" => "scheduled",
        _ => "published",
    }
}

/// The status a word names: `draft`, `published` or `scheduled`.
pub fn parse_status(word: &str) -> Option<PostStatus> {
    match word.trim() {
        "draft" => Some(PostStatus::Draft),
        "published" => Some(PostStatus::Published),
        "scheduled" => Some(PostStatus::Scheduled),
        _ => None,
    }
}

/// The body-size message (`max_body`: `posts.max_body_bytes`).
pub fn body_too_long(max_body: usize, len: usize) -> String {
    format!(
        "The body can be at most {} of Markdown (this one is {}).",
        human_bytes(max_body),
        human_bytes(len)
    )
}

impl PostInput {
    /// Check every field of `fields` against the limits (`max_body`: `posts.max_body_bytes`):
    /// the post, or every problem found (at most one per field), in words that say what to
    /// change.
    pub fn parse(fields: &PostFields, max_body: usize) -> Result<PostInput, Problems<Field>> {
        let mut problems = Problems::default();
        let kind = fields.kind;
        let title = fields.title.trim();
        // Counted as sent, so the API document's `maxLength` is exact.
        let title_chars = fields.title.chars().count();
        if title.is_empty() {
            problems.add(Field::Title, "Give the post a title");
        } else if title_chars > TITLE_MAX {
            problems.add(
                Field::Title,
                format!(
                    "A title can be at most {TITLE_MAX} characters (this one has {title_chars})"
                ),
            );
        }
        // No title and no slug asked for: the title's problem is the one to tell.
        let slug = (!title.is_empty() || !fields.slug.trim().is_empty())
            .then(|| problems.check(Field::Slug, super::slug_for(title, &fields.slug)))
            .flatten()
            .and_then(|slug| match kind {
                PostKind::Page => problems.check(Field::Slug, crate::pages::free_slug(slug)),
                PostKind::Post => Some(slug),
            });
        // Counted as sent, as the editor always has (and the API document's `maxLength` says).
        let excerpt = fields.excerpt.trim();
        if fields.excerpt.chars().count() > EXCERPT_MAX {
            problems.add(
                Field::Excerpt,
                format!("An excerpt can be at most {EXCERPT_MAX} characters"),
            );
        }
        if fields.body.len() > max_body {
            problems.add(Field::Body, body_too_long(max_body, fields.body.len()));
        }
        let tags = match kind {
            PostKind::Post => problems.check(Field::Tags, parse_tags(&fields.tags)),
            // Pages have no tags: they are never listed with posts.
            PostKind::Page => Some(Vec::new()),
        };
        let cover = problems
            .check(
                Field::CoverImage,
                crate::media::image_url::parse(&fields.cover_image),
            )
            .flatten();
        let meta = parse_meta(fields, &mut problems);
        let status = parse_status(&fields.status).unwrap_or_else(|| {
            problems.add(Field::Status, "Choose draft, publish or schedule");
            PostStatus::Draft
        });
        let publish_at = match (status, fields.publish_at) {
            (PostStatus::Scheduled, Some(t)) if t > OffsetDateTime::now_utc() => Some(t),
            (PostStatus::Scheduled, Some(_)) => {
                problems.add(
                    Field::PublishAt,
                    "Pick a time in the future, or publish now",
                );
                None
            }
            (PostStatus::Scheduled, None) => {
                problems.add(Field::PublishAt, "Pick the date and time to publish at");
                None
            }
            // Published now (or keeping its date), or a draft: no time of its own.
            _ => None,
        };
        let input = match (slug, tags) {
            (Some(slug), Some(tags)) => Some(PostInput {
                title: title.to_owned(),
                slug,
                excerpt: excerpt.to_owned(),
                body_markdown: fields.body.replace("\r\n", "\n"),
                cover_image: cover,
                featured: kind == PostKind::Post && fields.featured,
                status,
                publish_at,
                tags,
                meta,
                kind,
            }),
            _ => None,
        };
        problems.into_result(input)
    }
}

/// Tag names as typed into one list: trimmed, blank ones dropped; at most `TAGS_MAX`, each
/// at most `TAG_MAX` characters, no comma (the editor's separator, so a tag the API could
/// name the editor couldn't).
pub fn parse_tags(names: &[String]) -> Result<Vec<String>, String> {
    let tags: Vec<String> = names
        .iter()
        .map(|t| t.trim().to_owned())
        .filter(|t| !t.is_empty())
        .collect();
    if tags.len() > TAGS_MAX {
        Err(format!("A post can have at most {TAGS_MAX} tags"))
    } else if tags.iter().any(|t| t.chars().count() > TAG_MAX) {
        Err(format!("A tag can be at most {TAG_MAX} characters"))
    } else if tags.iter().any(|t| t.contains(',')) {
        Err("A tag name can't contain a comma".into())
    } else {
        Ok(tags)
    }
}

/// The post settings, each checked; problems go into `problems`.
fn parse_meta(fields: &PostFields, problems: &mut Problems<Field>) -> PostMeta {
    let mut text = |field: Field, value: &str, max: usize, what: &str| {
        let value = value.trim();
        let n = value.chars().count();
        if n > max {
            problems.add(
                field,
                format!(
                    "{what} can be at most {max} characters (this one is {n}); your text is kept"
                ),
            );
        }
        value.to_owned()
    };
    let meta_title = text(
        Field::MetaTitle,
        &fields.meta_title,
        META_TITLE_MAX,
        "A meta title",
    );
    let meta_description = text(
        Field::MetaDescription,
        &fields.meta_description,
        META_DESCRIPTION_MAX,
        "A meta description",
    );
    let cover_alt = text(
        Field::CoverAlt,
        &fields.cover_alt,
        COVER_ALT_MAX,
        "Alt text",
    );
    let cover_caption = text(
        Field::CoverCaption,
        &fields.cover_caption,
        COVER_CAPTION_MAX,
        "A caption",
    );
    let social_image = problems
        .check(
            Field::SocialImage,
            crate::media::image_url::parse(&fields.social_image),
        )
        .flatten();
    let canonical_url = problems
        .check(Field::CanonicalUrl, parse_canonical(&fields.canonical_url))
        .flatten();
    PostMeta {
        meta_title,
        meta_description,
        social_image,
        canonical_url,
        cover_alt,
        cover_caption,
    }
}

/// A canonical URL override: empty, or an absolute http(s) address (where the post first
/// appeared: another site's address, not an image this site shows, so `http://` is fine).
fn parse_canonical(input: &str) -> Result<Option<String>, String> {
    let input = input.trim();
    if input.is_empty() {
        return Ok(None);
    }
    let refused = || "A canonical URL is a full http:// or https:// address".to_owned();
    if input.len() > 2000 || input.chars().any(|c| c.is_control() || c.is_whitespace()) {
        return Err(refused());
    }
    match url::Url::parse(input) {
        Ok(url) if matches!(url.scheme(), "http" | "https") && url.host().is_some() => {
            Ok(Some(url.to_string()))
        }
        _ => Err(refused()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn titled(title: &str) -> PostFields {
        PostFields {
            title: title.into(),
            status: "draft".into(),
            ..PostFields::default()
        }
    }

    fn refused(fields: &PostFields) -> Vec<Field> {
        match PostInput::parse(fields, 1 << 20) {
            Ok(_) => vec![],
            Err(problems) => problems.iter().map(|(f, _)| f).collect(),
        }
    }

    #[test]
    fn titles_are_given_and_at_most_300_characters() {
        assert_eq!(refused(&titled("Fine")), vec![]);
        assert_eq!(refused(&titled("Tab\there")), vec![]);
        assert_eq!(refused(&titled(&"a".repeat(300))), vec![]);
        for bad in ["", "   "] {
            assert!(refused(&titled(bad)).contains(&Field::Title), "{bad:?}");
        }
        assert!(refused(&titled(&"a".repeat(301))).contains(&Field::Title));
    }

    #[test]
    fn tags_are_few_short_and_plain() {
        let tags = |names: &[&str]| names.iter().map(|t| (*t).to_owned()).collect::<Vec<_>>();
        assert_eq!(parse_tags(&tags(&[" a ", "", "b"])), Ok(tags(&["a", "b"])));
        assert!(parse_tags(&tags(&["t"; 11])).is_err());
        assert!(parse_tags(&tags(&["t"; 10])).is_ok());
        assert!(parse_tags(&["x".repeat(101)]).is_err());
        assert!(parse_tags(&tags(&["a,b"])).is_err());
    }

    #[test]
    fn a_scheduled_post_needs_a_time_in_the_future() {
        let mut fields = PostFields {
            status: "scheduled".into(),
            ..titled("T")
        };
        assert_eq!(refused(&fields), vec![Field::PublishAt]);
        fields.publish_at = Some(OffsetDateTime::now_utc() - time::Duration::hours(1));
        assert_eq!(refused(&fields), vec![Field::PublishAt]);
        fields.publish_at = Some(OffsetDateTime::now_utc() + time::Duration::hours(1));
        let input = PostInput::parse(&fields, 1 << 20).expect("valid");
        assert_eq!(input.status, PostStatus::Scheduled);
        assert_eq!(input.slug.as_str(), "t");
    }

    #[test]
    fn the_body_limit_is_in_bytes() {
        let fields = PostFields {
            body: "é".repeat(6),
            ..titled("T")
        };
        assert!(PostInput::parse(&fields, 12).is_ok());
        assert_eq!(
            PostInput::parse(&fields, 11)
                .map(|_| ())
                .expect_err("over the limit")
                .iter()
                .next(),
            Some((
                Field::Body,
                "The body can be at most 11 bytes of Markdown (this one is 12 bytes)."
            ))
        );
    }
}
