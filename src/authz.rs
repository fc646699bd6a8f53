//! Who may do what: one table of roles and actions, read by handlers (to refuse) and by
//! templates (to hide what would be refused). Every check happens on the server.

use crate::accounts::model::{CurrentUser, Role, UserId};

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Action {
    /// Comment on a published post; edit one's own profile and comments.
    Comment,
    /// Open the admin, write posts, upload images.
    Write,
    /// Edit, publish, schedule, unpublish or delete a post by `author`.
    EditPost { author: UserId },
    /// See the trash and restore from it.
    RestorePosts,
    /// Hide or delete any comment.
    ModerateComments,
    /// Rename, describe and merge tags.
    ManageTags,
    /// List users, change roles, disable and enable accounts.
    ManageUsers,
}

/// The least role that may do `action` on anyone's things.
fn least_role(action: Action) -> Role {
    match action {
        Action::Comment => Role::Reader,
        Action::Write => Role::Author,
        Action::EditPost { .. }
        | Action::RestorePosts
        | Action::ModerateComments
        | Action::ManageTags => Role::Editor,
        Action::ManageUsers => Role::Admin,
    }
}

pub fn can(user: &CurrentUser, action: Action) -> bool {
    if user.role >= least_role(action) {
        return true;
    }
    // Authors may do to their own posts what editors may do to everyone's.
    matches!(action, Action::EditPost { author } if author == user.id && user.role >= Role::Author)
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
}
