//! Who may do what: one table of roles and actions. Handlers ask it (`require` refuses with
//! 403); templates are handed its answers, never a role to compare. Every check happens on
//! the server, and nowhere else holds a rule.

use crate::{
    accounts::model::{CurrentUser, Role, UserId},
    error::Error,
};

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Action {
    /// Comment on a published post; edit one's own profile and comments.
    Comment,
    /// Open the admin, write posts, upload images.
    Write,
    /// Edit, publish, schedule, unpublish or delete a post by `author`.
    EditPost { author: UserId },
    /// Edit, publish… everyone's posts (and see them all in the admin).
    EditAnyPost,
    /// See the trash and restore from it.
    RestorePosts,
    /// Hide or delete any comment.
    ModerateComments,
    /// Hide or delete the comments on a post by `post_author`.
    ModerateCommentsOn { post_author: UserId },
    /// Change a comment by `author` (only its author, whatever their role; for how long is
    /// the comments module's rule). A guest's comment (`None`: no account wrote it, as an
    /// imported one) is no one's to change.
    EditComment { author: Option<UserId> },
    /// Delete a comment by `author` on a post by `post_author`: its author takes back their
    /// own words; the post's author, editors and admins moderate (when, the comments
    /// module's `CommentDeletion` says). One rule for the site's button and the API's DELETE.
    /// A guest's comment (`author: None`) only moderators delete.
    DeleteComment {
        author: Option<UserId>,
        post_author: UserId,
    },
    /// See every upload, not only one's own.
    SeeAllUploads,
    /// Rename, describe and merge tags.
    ManageTags,
    /// Pages (About, Contact) and the site's navigation: the site's own voice.
    ManagePages,
    /// List users, change roles, disable and enable accounts.
    ManageUsers,
    /// Change the site's settings (title, registrations, comments…).
    ManageSettings,
    /// See the background jobs, retry and discard them.
    ManageJobs,
    /// See the newsletter's subscribers and export them.
    ManageSubscribers,
    /// Register webhooks and see their deliveries.
    ManageWebhooks,
    /// List, add, change and delete redirects (the site's old addresses).
    ManageRedirects,
    /// Download the whole blog (`export`): every account's address, every draft.
    ExportSite,
    /// Import another blog's export (accounts, posts, comments, redirects).
    ImportContent,
    /// Remove the demo content `quire seed` made (`seed::remove_demo`).
    RemoveDemo,
}

/// The least role that may do `action` on anyone's things; `None`: no role is enough.
fn least_role(action: Action) -> Option<Role> {
    Some(match action {
        Action::EditComment { .. } => return None,
        Action::Comment => Role::Reader,
        Action::Write => Role::Author,
        Action::EditPost { .. }
        | Action::EditAnyPost
        | Action::RestorePosts
        | Action::ModerateComments
        | Action::ModerateCommentsOn { .. }
        | Action::DeleteComment { .. }
        | Action::SeeAllUploads
        | Action::ManageTags
        | Action::ManagePages => Role::Editor,
        Action::ManageUsers
        | Action::ManageSettings
        | Action::ManageJobs
        | Action::ManageSubscribers
        | Action::ManageWebhooks
        | Action::ManageRedirects
        | Action::ExportSite
        | Action::ImportContent
        | Action::RemoveDemo => Role::Admin,
    })
}

pub fn can(user: &CurrentUser, action: Action) -> bool {
    match action {
        // Nobody edits someone else's words, an admin included.
        Action::EditComment { author } => author == Some(user.id),
        // Authors may do to their own posts what editors may do to everyone's…
        Action::EditPost { author } if author == user.id && user.role >= Role::Author => true,
        // …and moderate the comments on them.
        Action::ModerateCommentsOn { post_author } if post_author == user.id => true,
        // Anyone may delete their own comment; moderators (below) anyone's on their posts.
        Action::DeleteComment { author, .. } if author == Some(user.id) => true,
        Action::DeleteComment { post_author, .. } if post_author == user.id => true,
        _ => least_role(action).is_some_and(|least| user.role >= least),
    }
}

/// `can`, or a 403: the one guard handlers use.
pub fn require(user: &CurrentUser, action: Action) -> Result<(), Error> {
    if can(user, action) {
        Ok(())
    } else {
        Err(Error::Forbidden)
    }
}

/// What a signed-in person's navigation offers, decided here so templates compare no roles.
#[derive(Debug, Clone, Copy, Default)]
pub struct Menu {
    pub admin: bool,
    pub editor_tools: bool,
    pub users: bool,
    pub settings: bool,
    pub jobs: bool,
    pub subscribers: bool,
    pub webhooks: bool,
    pub redirects: bool,
    pub export: bool,
    pub import: bool,
}

impl Menu {
    pub fn for_user(user: &CurrentUser) -> Self {
        Self {
            admin: can(user, Action::Write),
            editor_tools: can(user, Action::RestorePosts) && can(user, Action::ManageTags),
            users: can(user, Action::ManageUsers),
            settings: can(user, Action::ManageSettings),
            jobs: can(user, Action::ManageJobs),
            subscribers: can(user, Action::ManageSubscribers),
            webhooks: can(user, Action::ManageWebhooks),
            redirects: can(user, Action::ManageRedirects),
            export: can(user, Action::ExportSite),
            import: can(user, Action::ImportContent),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn user(role: Role) -> CurrentUser {
        CurrentUser {
            id: UserId(1),
            username: "u".into(),
            display_name: "U".into(),
            role,
            session_epoch: 0,
        }
    }

    #[test]
    fn the_role_table() {
        let own = Action::EditPost { author: UserId(1) };
        let other = Action::EditPost { author: UserId(2) };
        let table = [
            (
                Role::Reader,
                [true, false, false, false, false, false, false],
            ),
            (Role::Author, [true, true, true, false, false, false, false]),
            (Role::Editor, [true, true, true, true, true, true, false]),
            (Role::Admin, [true, true, true, true, true, true, true]),
        ];
        for (role, expected) in table {
            let u = user(role);
            let got = [
                can(&u, Action::Comment),
                can(&u, Action::Write),
                can(&u, own),
                can(&u, other),
                can(&u, Action::ModerateComments),
                can(&u, Action::ManageTags),
                can(&u, Action::ManageUsers),
            ];
            assert_eq!(got, expected, "{role:?}");
        }
        assert!(
            !can(&user(Role::Reader), own),
            "a reader owns no posts to edit"
        );
    }

    #[test]
    fn comments_are_changed_by_their_author_and_moderated_on_ones_own_posts() {
        let mine = Action::EditComment {
            author: Some(UserId(1)),
        };
        let theirs = Action::EditComment {
            author: Some(UserId(2)),
        };
        let a_guests = Action::EditComment { author: None };
        let on_mine = Action::ModerateCommentsOn {
            post_author: UserId(1),
        };
        let on_theirs = Action::ModerateCommentsOn {
            post_author: UserId(2),
        };
        for role in [Role::Reader, Role::Author, Role::Editor, Role::Admin] {
            let u = user(role);
            assert!(can(&u, mine) && !can(&u, theirs), "{role:?}");
            assert!(!can(&u, a_guests), "{role:?}");
            let guest_delete = Action::DeleteComment {
                author: None,
                post_author: UserId(3),
            };
            assert_eq!(can(&u, guest_delete), role >= Role::Editor, "{role:?}");
            assert!(can(&u, on_mine), "{role:?}");
            assert_eq!(can(&u, on_theirs), role >= Role::Editor, "{role:?}");
            let delete = |author, post_author| {
                can(
                    &u,
                    Action::DeleteComment {
                        author: Some(UserId(author)),
                        post_author: UserId(post_author),
                    },
                )
            };
            assert!(
                delete(1, 2) && delete(2, 1),
                "own, or on own post: {role:?}"
            );
            assert_eq!(delete(2, 3), role >= Role::Editor, "{role:?}");
            assert_eq!(can(&u, Action::EditAnyPost), role >= Role::Editor);
            assert_eq!(
                require(&u, Action::ManageUsers).is_ok(),
                role == Role::Admin
            );
            assert_eq!(can(&u, Action::ManageSettings), role == Role::Admin);
        }
    }
}
