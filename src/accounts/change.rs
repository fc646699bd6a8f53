//! A person's change to their own account, whichever door it comes through (`/account`'s
//! profile form, `PUT /api/user`, later GraphQL and the CLI): `ProfileFields` is what was
//! sent, each field `None` when left out (kept as it is); `ProfileChange::parse` checks every
//! field against one set of rules and says what is wrong (issue 25, item 4). The doors keep
//! only their wire format, their field names and, where they want, their words.
//!
//! Decided once for every door: a bio is at most `BIO_MAX` characters (the site's rule;
//! Ghost allows 200, WordPress has no limit); an avatar is a path on this site or an
//! `https://` address (`media::image_url`), never `http://`, which the site's own
//! Content-Security-Policy would block.

use super::model::{Email, Password, PasswordPolicy, Username, parse_display_name};
use crate::input::Problems;

/// Longest bio, in characters (after trimming).
pub const BIO_MAX: usize = 500;

/// An account's fields, as the domain names them; each door maps them to its own names.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Field {
    DisplayName,
    Bio,
    Avatar,
    Username,
    Email,
    Password,
}

/// What a door sends; `None`: left out, kept as it is. An empty bio or avatar clears it.
#[derive(Debug, Clone, Default)]
pub struct ProfileFields {
    pub display_name: Option<String>,
    pub bio: Option<String>,
    pub avatar_url: Option<String>,
    pub username: Option<String>,
    pub email: Option<String>,
    /// As typed: spaces in a password are the password's.
    pub password: Option<String>,
}

/// A checked change; `None` fields stay as they are.
#[derive(Debug, Clone, Default)]
pub struct ProfileChange {
    pub display_name: Option<String>,
    /// Trimmed; `Some("")` clears it.
    pub bio: Option<String>,
    /// `Some(None)` clears it.
    pub avatar_url: Option<Option<String>>,
    pub username: Option<Username>,
    pub email: Option<Email>,
    pub password: Option<Password>,
}

/// A bio: at most `BIO_MAX` characters as sent (so the API document's `maxLength` is exact),
/// stored trimmed.
pub fn parse_bio(bio: &str) -> Result<String, String> {
    match bio.chars().count() {
        n if n > BIO_MAX => Err(format!(
            "A bio can be at most {BIO_MAX} characters (this one has {n})"
        )),
        _ => Ok(bio.trim().to_owned()),
    }
}

impl ProfileChange {
    /// Check each field that was sent (`policy`: the site's password rules): the change, or
    /// every problem found, at most one per field.
    pub fn parse(
        fields: &ProfileFields,
        policy: &PasswordPolicy,
    ) -> Result<ProfileChange, Problems<Field>> {
        let mut problems = Problems::default();
        let mut change = ProfileChange::default();
        if let Some(name) = &fields.display_name {
            change.display_name = problems.check(Field::DisplayName, parse_display_name(name));
        }
        if let Some(bio) = &fields.bio {
            change.bio = problems.check(Field::Bio, parse_bio(bio));
        }
        if let Some(url) = &fields.avatar_url {
            change.avatar_url = problems.check(Field::Avatar, crate::media::image_url::parse(url));
        }
        if let Some(username) = &fields.username {
            change.username = problems.check(Field::Username, Username::parse(username));
        }
        if let Some(email) = &fields.email {
            change.email = problems.check(Field::Email, Email::parse(email));
        }
        if let Some(password) = &fields.password {
            change.password = problems.check(Field::Password, Password::parse(password, policy));
        }
        let valid = problems.is_empty();
        problems.into_result(valid.then_some(change))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn with_bio(bio: &str) -> ProfileFields {
        ProfileFields {
            bio: Some(bio.into()),
            ..ProfileFields::default()
        }
    }

    fn with_avatar(url: &str) -> ProfileFields {
        ProfileFields {
            avatar_url: Some(url.into()),
            ..ProfileFields::default()
        }
    }

    #[test]
    fn a_bio_is_at_most_500_characters() {
        let policy = PasswordPolicy::default();
        assert!(ProfileChange::parse(&with_bio(&"é".repeat(500)), &policy).is_ok());
        assert!(ProfileChange::parse(&with_bio(&"é".repeat(501)), &policy).is_err());
        let cleared = ProfileChange::parse(&with_bio("  "), &policy).expect("valid");
        assert_eq!(cleared.bio.as_deref(), Some(""));
    }

    #[test]
    fn an_avatar_is_a_local_path_or_https() {
        let policy = PasswordPolicy::default();
        for (url, ok) in [
            ("/uploads/a.png", true),
            ("https://i.example/a.png", true),
            ("", true),
            ("http://i.example/a.png", false),
            ("javascript:alert(1)", false),
        ] {
            assert_eq!(
                ProfileChange::parse(&with_avatar(url), &policy).is_ok(),
                ok,
                "{url}"
            );
        }
    }

    #[test]
    fn left_out_fields_are_kept() {
        let change = ProfileChange::parse(&ProfileFields::default(), &PasswordPolicy::default())
            .expect("nothing to refuse");
        assert!(change.bio.is_none() && change.avatar_url.is_none() && change.email.is_none());
    }
}
