//! Changing many posts at once from the admin's list (issue 27, item 7). Each ticked post
//! goes through the one-post path after the one-post check: `authz` per post, then
//! `posts::update` (the editor's save: a revision, search, webhooks, live editors) or
//! `repo::soft_delete` (the Delete button's trash). What was done and what was skipped, and
//! why, comes back as one summary for the list page.
//!
//! Publishing in bulk never sends the newsletter: nobody was shown the audience, so each
//! post it publishes is recorded as "published without sending" with the save itself
//! (`posts::update_in_bulk`). An author who wants the email publishes from the editor.

use sqlx::PgPool;

use super::{
    SaveError,
    input::{self, PostFields, status_word},
    model::{PostForEdit, PostId, PostInput, PostKind},
    repo,
};
use crate::{
    accounts::model::CurrentUser,
    authz::{self, Action},
    slug::Slug,
};

/// Most posts one request may change: a few pages of the list. More is refused, not cut.
pub const MOST: usize = 200;

/// What to do to the ticked posts.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum BulkAction {
    Publish,
    Unpublish,
    Feature,
    Unfeature,
    AddTag(String),
    RemoveTag(String),
    Trash,
}

impl BulkAction {
    /// The list's `action` select (and, for the tag actions, its `tag` field), or what is
    /// wrong with them, in words for the person who sent them.
    pub fn parse(action: &str, tag: &str) -> Result<Self, String> {
        let tag_name = || {
            let name = tag.trim();
            if name.is_empty() {
                return Err("Type the tag's name in the Tag field".to_owned());
            }
            let names = input::parse_tags(&[name.to_owned()])?;
            if Slug::from_title(name).is_none() {
                return Err("A tag name needs a letter or a digit".into());
            }
            Ok(names.into_iter().next().unwrap_or_default())
        };
        Ok(match action {
            "publish" => Self::Publish,
            "unpublish" => Self::Unpublish,
            "feature" => Self::Feature,
            "unfeature" => Self::Unfeature,
            "add_tag" => Self::AddTag(tag_name()?),
            "remove_tag" => Self::RemoveTag(tag_name()?),
            "trash" => Self::Trash,
            "" => return Err("Choose what to do with the ticked posts".into()),
            _ => {
                return Err(
                    "That is not something the list can do to posts: publish, unpublish, \
                     feature, unfeature, add or remove a tag, or move to the trash"
                        .into(),
                );
            }
        })
    }

    /// What was done to each post: "3 posts *published*".
    fn done(&self) -> String {
        match self {
            Self::Publish => "published (no newsletter sent)".into(),
            Self::Unpublish => "unpublished (now drafts)".into(),
            Self::Feature => "featured".into(),
            Self::Unfeature => "no longer featured".into(),
            Self::AddTag(t) => format!("tagged “{t}”"),
            Self::RemoveTag(t) => format!("untagged “{t}”"),
            Self::Trash => "moved to the trash".into(),
        }
    }

    /// What someone may not do: "you may not *publish* “X”".
    fn verb(&self) -> &'static str {
        match self {
            Self::Publish => "publish",
            Self::Unpublish => "unpublish",
            Self::Trash => "delete",
            _ => "change",
        }
    }
}

/// What came of a bulk action.
#[derive(Debug, Default)]
pub struct Summary {
    pub done: usize,
    /// Posts that were already so ("already published").
    pub unchanged: Vec<String>,
    /// Posts left alone, each with why.
    pub skipped: Vec<String>,
}

/// Posts named in a summary before "and N more".
const NAMED: usize = 5;

fn posts(n: usize) -> String {
    if n == 1 {
        "1 post".into()
    } else {
        format!("{n} posts")
    }
}

fn listed(items: &[String]) -> String {
    let mut text = items
        .iter()
        .take(NAMED)
        .cloned()
        .collect::<Vec<_>>()
        .join("; ");
    if items.len() > NAMED {
        text.push_str(&format!("; and {} more", items.len() - NAMED));
    }
    text
}

impl Summary {
    /// "3 posts published (no newsletter sent); 1 already was; 1 skipped: you may not
    /// publish “X”."
    pub fn sentence(&self, action: &BulkAction) -> String {
        let mut text = format!("{} {}", posts(self.done), action.done());
        if !self.unchanged.is_empty() {
            text.push_str(&format!(
                "; {} already {}: {}",
                self.unchanged.len(),
                if self.unchanged.len() == 1 {
                    "was"
                } else {
                    "were"
                },
                listed(&self.unchanged)
            ));
        }
        if !self.skipped.is_empty() {
            text.push_str(&format!(
                "; {} skipped: {}",
                self.skipped.len(),
                listed(&self.skipped)
            ));
        }
        text.push('.');
        text
    }
}

/// What `action` makes of `post`'s fields; `None`: it is so already.
fn changed(action: &BulkAction, post: &PostForEdit) -> Option<PostFields> {
    let mut fields = PostFields::from_post(post);
    let status = status_word(post.status, post.published_at);
    let same_tag = |name: &str, t: &str| Slug::from_title(name) == Slug::from_title(t);
    match action {
        BulkAction::Publish if status == "published" => return None,
        BulkAction::Publish => fields.status = "published".into(),
        BulkAction::Unpublish if status == "draft" => return None,
        BulkAction::Unpublish => fields.status = "draft".into(),
        BulkAction::Feature | BulkAction::Unfeature => {
            let featured = *action == BulkAction::Feature;
            if post.featured == featured {
                return None;
            }
            fields.featured = featured;
        }
        BulkAction::AddTag(tag) => {
            if fields.tags.iter().any(|t| same_tag(t, tag)) {
                return None;
            }
            fields.tags.push(tag.clone());
        }
        BulkAction::RemoveTag(tag) => {
            let before = fields.tags.len();
            fields.tags.retain(|t| !same_tag(t, tag));
            if fields.tags.len() == before {
                return None;
            }
        }
        BulkAction::Trash => {}
    }
    Some(fields)
}

/// Do `action` to each of `ids` that `user` may change, one post at a time, each through
/// the path a single post takes. `max_body`: `posts.max_body_bytes` (a post saved under a
/// larger limit is skipped, as its editor would refuse it).
pub async fn apply(
    db: &PgPool,
    user: &CurrentUser,
    action: &BulkAction,
    ids: &[PostId],
    max_body: usize,
) -> anyhow::Result<Summary> {
    let mut summary = Summary::default();
    for id in ids {
        let Some(post) = repo::find_for_edit(db, *id).await? else {
            summary.skipped.push(format!("post #{} is gone", id.0));
            continue;
        };
        let title = format!("“{}”", post.title);
        if !authz::can(
            user,
            Action::EditPost {
                author: post.author_id,
            },
        ) {
            // Someone else's draft is not named to whoever may not open it.
            let name = if status_word(post.status, post.published_at) == "published" {
                title
            } else {
                format!("post #{}", post.id.0)
            };
            summary
                .skipped
                .push(format!("you may not {} {name}", action.verb()));
            continue;
        }
        if post.deleted_at.is_some() {
            summary.skipped.push(format!("{title} is in the trash"));
            continue;
        }
        if post.kind == PostKind::Page {
            summary
                .skipped
                .push(format!("{title} is a page (pages have their own list)"));
            continue;
        }
        if *action == BulkAction::Trash {
            // The Delete button's own statement: restorable for 30 days.
            if repo::soft_delete(db, post.id).await? {
                summary.done += 1;
            } else {
                summary.skipped.push(format!("{title} is gone"));
            }
            continue;
        }
        let Some(fields) = changed(action, &post) else {
            summary.unchanged.push(title);
            continue;
        };
        let input = match PostInput::parse(&fields, max_body) {
            Ok(input) => input,
            Err(problems) => {
                let why = problems.iter().next().map_or("", |(_, m)| m).to_lowercase();
                summary.skipped.push(format!("{title}: {why}"));
                continue;
            }
        };
        let quiet = *action == BulkAction::Publish;
        match super::update_in_bulk(db, user.id, post.id, post.version, &input, quiet).await {
            Ok(_) => summary.done += 1,
            Err(SaveError::Conflict(_)) => summary
                .skipped
                .push(format!("{title} changed while this ran; try again")),
            Err(SaveError::Gone) => summary.skipped.push(format!("{title} is gone")),
            Err(SaveError::SlugTaken) => summary
                .skipped
                .push(format!("{title}: its address is taken")),
            Err(SaveError::Other(e)) => return Err(e),
        }
    }
    Ok(summary)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn actions_are_read_from_the_form_or_refused_in_words() {
        assert_eq!(BulkAction::parse("publish", ""), Ok(BulkAction::Publish));
        assert_eq!(
            BulkAction::parse("add_tag", "  Rust "),
            Ok(BulkAction::AddTag("Rust".into()))
        );
        assert!(BulkAction::parse("add_tag", " ").is_err());
        assert!(BulkAction::parse("add_tag", "a,b").is_err());
        assert!(BulkAction::parse("remove_tag", "!!!").is_err());
        assert!(BulkAction::parse("add_tag", &"x".repeat(101)).is_err());
        assert!(BulkAction::parse("explode", "").is_err());
        assert!(BulkAction::parse("", "").is_err());
    }

    #[test]
    fn a_summary_counts_and_names() {
        let summary = Summary {
            done: 3,
            unchanged: vec![],
            skipped: vec!["you may not publish “X”".into()],
        };
        assert_eq!(
            summary.sentence(&BulkAction::Publish),
            "3 posts published (no newsletter sent); 1 skipped: you may not publish “X”."
        );
        let many = Summary {
            done: 1,
            unchanged: (0..7).map(|i| format!("“{i}”")).collect(),
            skipped: vec![],
        };
        assert_eq!(
            many.sentence(&BulkAction::Feature),
            "1 post featured; 7 already were: “0”; “1”; “2”; “3”; “4”; and 2 more."
        );
    }
}
