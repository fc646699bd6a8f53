//! People: ids, usernames, emails, passwords and roles, each parsed once at the edge.

use std::{fmt, str::FromStr};

use serde::Deserialize;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, sqlx::Type, serde::Serialize, Deserialize)]
#[sqlx(transparent)]
pub struct UserId(pub i64);

/// A person's pages and the pages that show their name, as the edge cache knows them (`cache::key`).
impl From<UserId> for crate::cache::key::Key {
    fn from(id: UserId) -> Self {
        Self::Author(id.0)
    }
}

/// Are `a` and `b` equal? Compared in time that depends on their length only (tokens,
/// password hashes, OAuth state).
pub fn constant_time_eq(a: &[u8], b: &[u8]) -> bool {
    a.len() == b.len() && a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
}

/// A username: 2 to 32 characters, lower-case letters, digits, `_` and `-`, starting with a
/// letter or digit. Stored lower-case, so `/authors/Ada` and `/authors/ada` can't both exist.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(try_from = "String")]
pub struct Username(String);

impl Username {
    pub fn parse(s: &str) -> Result<Self, String> {
        let s = s.trim().to_ascii_lowercase();
        let mut chars = s.chars();
        let first_ok = chars.next().is_some_and(|c| c.is_ascii_alphanumeric());
        let rest_ok = chars.all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '-');
        if (2..=32).contains(&s.len()) && first_ok && rest_ok {
            Ok(Self(s))
        } else {
            Err(
                "a username is 2 to 32 letters, digits, _ or -, starting with a letter or digit"
                    .into(),
            )
        }
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// A username made from someone's login elsewhere (a GitHub login, an email's local part):
    /// other characters become `-`, at most 28 characters so a `-N` suffix still fits,
    /// `user` if nothing usable is left.
    pub fn suggest(from: &str) -> Self {
        let mut s = String::new();
        for c in from.trim().to_ascii_lowercase().chars() {
            let c = if c.is_ascii_alphanumeric() || c == '_' {
                c
            } else {
                '-'
            };
            if !(c == '-' && (s.is_empty() || s.ends_with('-'))) {
                s.push(c);
            }
        }
        let s = s.trim_start_matches(['_', '-']);
        let s: String = s.chars().take(28).collect();
        Self::parse(s.trim_end_matches('-')).unwrap_or_else(|_| Self("user".into()))
    }
}

impl TryFrom<String> for Username {
    type Error = String;
    fn try_from(s: String) -> Result<Self, String> {
        Self::parse(&s)
    }
}

impl fmt::Display for Username {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// An email address, checked for shape only (one `@`, something on each side, no spaces);
/// whether it exists is the mail server's business.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(try_from = "String")]
pub struct Email(String);

impl Email {
    pub fn parse(s: &str) -> Result<Self, String> {
        let s = s.trim();
        let valid = s.len() <= 254
            && !s.chars().any(|c| c.is_whitespace() || c.is_control())
            && s.split_once('@').is_some_and(|(local, domain)| {
                !local.is_empty() && !domain.is_empty() && !domain.contains('@')
            });
        if valid {
            Ok(Self(s.to_owned()))
        } else {
            Err("enter an email address like name@example.com".into())
        }
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl TryFrom<String> for Email {
    type Error = String;
    fn try_from(s: String) -> Result<Self, String> {
        Self::parse(&s)
    }
}

/// A display name: 1 to 80 characters after trimming, none of them a control character (a
/// line break in a name would end up in mail headers and log lines).
pub fn parse_display_name(s: &str) -> Result<String, String> {
    let s = s.trim();
    if s.chars().any(char::is_control) {
        return Err(
            "a display name can't hold line breaks, tabs or other control characters".into(),
        );
    }
    match s.chars().count() {
        1..=80 => Ok(s.to_owned()),
        _ => Err("a display name is 1 to 80 characters".into()),
    }
}

/// A new password, before hashing. Never printed: `Debug` is redacted.
#[derive(Clone)]
pub struct Password(String);

/// What a new password must be: the site's rule (`accounts.min_password_length`,
/// `accounts.refuse_common_passwords`), the one every front door parses with.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
pub struct PasswordPolicy {
    pub min_length: usize,
    pub refuse_common: bool,
}

impl Default for PasswordPolicy {
    /// Quire's own: 10 characters, common ones refused.
    fn default() -> Self {
        Self {
            min_length: 10,
            refuse_common: true,
        }
    }
}

impl Password {
    pub const MAX_LEN: usize = 256;

    pub fn parse(s: &str, policy: &PasswordPolicy) -> Result<Self, String> {
        let n = s.chars().count();
        if n < policy.min_length {
            Err(format!(
                "a password needs at least {} characters",
                policy.min_length
            ))
        } else if n > Self::MAX_LEN {
            Err(format!(
                "a password can be at most {} characters",
                Self::MAX_LEN
            ))
        } else if policy.refuse_common && is_common(s) {
            Err("that password is among the most common ones; choose another".into())
        } else {
            Ok(Self(s.to_owned()))
        }
    }

    /// The password itself, for hashing.
    pub fn expose(&self) -> &str {
        &self.0
    }

    /// A real argon2id hash of a throwaway string: checking a login for an account that does
    /// not exist against it costs what a real check costs.
    pub fn dummy_hash() -> &'static str {
        static HASH: std::sync::LazyLock<String> = std::sync::LazyLock::new(|| {
            Password("no account has this password".into())
                .hash()
                .unwrap_or_default()
        });
        &HASH
    }

    /// Check `candidate` against a stored PHC hash. Slow on purpose (argon2).
    pub fn verify(candidate: &str, phc: &str) -> bool {
        use argon2::{Argon2, PasswordVerifier, password_hash::phc::PasswordHash};
        PasswordHash::new(phc).is_ok_and(|h| {
            Argon2::default()
                .verify_password(candidate.as_bytes(), &h)
                .is_ok()
        })
    }

    /// An argon2id PHC string with a fresh salt.
    pub fn hash(&self) -> anyhow::Result<String> {
        use argon2::{Argon2, PasswordHasher};
        Argon2::default()
            .hash_password(self.0.as_bytes())
            .map(|h| h.to_string())
            .map_err(|e| anyhow::anyhow!("hashing a password: {e}"))
    }
}

impl fmt::Debug for Password {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Password(<redacted>)")
    }
}

/// Passwords of 10+ characters that top the breach lists; refused outright.
const COMMON_PASSWORDS: &[&str] = &[
    "1234567890",
    "12345678910",
    "123456789a",
    "1q2w3e4r5t",
    "1qaz2wsx3edc",
    "a123456789",
    "abcdefghij",
    "administrator",
    "asdfghjkl;",
    "asdfghjkl1",
    "baseball123",
    "football123",
    "iloveyou123",
    "letmein123",
    "password01",
    "password12",
    "password123",
    "password1234",
    "passw0rd123",
    "qwerty1234",
    "qwerty12345",
    "qwertyuiop",
    "qwertyuiop1",
    "sunshine123",
    "welcome123",
    "0987654321",
    "1111111111",
    "0000000000",
    "1234512345",
    "changeme123",
    "trustno1234",
    "superman123",
    "dragon12345",
    "monkey12345",
    "princess123",
    "master12345",
];

fn is_common(s: &str) -> bool {
    let lower = s.to_lowercase();
    COMMON_PASSWORDS.contains(&lower.as_str())
        || lower
            .chars()
            .all(|c| c == lower.chars().next().unwrap_or(' '))
}

#[derive(
    Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, sqlx::Type, serde::Serialize, Deserialize,
)]
#[sqlx(type_name = "user_role", rename_all = "lowercase")]
#[serde(rename_all = "lowercase")]
pub enum Role {
    Reader,
    Author,
    Editor,
    Admin,
}

impl Role {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Reader => "reader",
            Self::Author => "author",
            Self::Editor => "editor",
            Self::Admin => "admin",
        }
    }
}

impl FromStr for Role {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, String> {
        match s.trim().to_ascii_lowercase().as_str() {
            "reader" => Ok(Self::Reader),
            "author" => Ok(Self::Author),
            "editor" => Ok(Self::Editor),
            "admin" => Ok(Self::Admin),
            _ => Err("a role is one of reader, author, editor, admin".into()),
        }
    }
}

/// A site people can log in with instead of a password. Stored as its slug.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Provider {
    GitHub,
    Google,
}

impl Provider {
    pub const ALL: [Self; 2] = [Self::GitHub, Self::Google];

    /// In URLs (`/auth/github`) and in the database.
    pub fn slug(self) -> &'static str {
        match self {
            Self::GitHub => "github",
            Self::Google => "google",
        }
    }

    /// For people: "Continue with GitHub".
    pub fn label(self) -> &'static str {
        match self {
            Self::GitHub => "GitHub",
            Self::Google => "Google",
        }
    }
}

impl FromStr for Provider {
    type Err = ();
    fn from_str(s: &str) -> Result<Self, ()> {
        Self::ALL.into_iter().find(|p| p.slug() == s).ok_or(())
    }
}

/// Who a provider says has just logged in. `id` is the provider's stable id; `login` and
/// `email` can change there. Only a verified email is ever matched against accounts.
#[derive(Debug, Clone)]
pub struct ProviderAccount {
    pub id: String,
    pub login: String,
    pub name: String,
    pub email: Option<String>,
    pub email_verified: bool,
    pub avatar_url: Option<String>,
}

impl ProviderAccount {
    /// The email, if the provider vouches for it and it is well formed.
    pub fn verified_email(&self) -> Option<Email> {
        let email = self.email.as_deref().filter(|_| self.email_verified)?;
        Email::parse(email).ok()
    }

    /// A display name for a new account: their name there, else their login.
    pub fn display_name(&self) -> String {
        let name = match self.name.trim() {
            "" => self.login.trim(),
            name => name,
        };
        // A provider's name is not ours to refuse: control characters become spaces.
        name.chars()
            .map(|c| if c.is_control() { ' ' } else { c })
            .take(80)
            .collect()
    }

    /// Their avatar, if it is an https URL short enough to keep (as /account requires).
    pub fn avatar(&self) -> Option<&str> {
        self.avatar_url
            .as_deref()
            .filter(|u| u.starts_with("https://") && u.len() <= 500)
    }
}

/// A person as readers see them on author pages: no email, no password hash.
#[derive(Debug, Clone, sqlx::FromRow)]
pub struct Author {
    pub id: UserId,
    pub username: String,
    pub display_name: String,
    pub bio: String,
    pub avatar_url: Option<String>,
}

/// The logged-in person, as every request sees them: enough to greet and to authorise.
#[derive(Debug, Clone, sqlx::FromRow)]
pub struct CurrentUser {
    pub id: UserId,
    pub username: String,
    pub display_name: String,
    pub role: Role,
    /// Sessions started under an older epoch are over (see `session::AuthSession`).
    pub session_epoch: i32,
}

/// Only for checking a password: the one row type that carries the hash.
#[derive(sqlx::FromRow)]
pub struct UserForLogin {
    pub id: UserId,
    pub password_hash: Option<String>,
    pub disabled: bool,
    pub session_epoch: i32,
}

/// What creating an account needs.
#[derive(Debug)]
pub struct NewUser {
    pub username: Username,
    pub email: Email,
    pub display_name: String,
    pub bio: String,
    pub password: Option<Password>,
    pub role: Role,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn display_names_refuse_control_characters() {
        assert_eq!(
            parse_display_name("  Ada Lovelace "),
            Ok("Ada Lovelace".into())
        );
        for bad in [
            "Eve\r\nBcc: x@evil.test",
            "a\tb",
            "a\0b",
            "a\u{85}b",
            "",
            "   ",
        ] {
            assert!(parse_display_name(bad).is_err(), "{bad:?}");
        }
    }

    #[test]
    fn usernames_are_lowercased_and_checked() {
        assert_eq!(Username::parse("Ada_L").map(|u| u.0), Ok("ada_l".into()));
        for bad in ["a", "-ada", "ada lovelace", "ädä", &"a".repeat(33)] {
            assert!(Username::parse(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn suggested_usernames_are_always_valid() {
        for (from, want) in [
            ("Octo-Cat", "octo-cat"),
            ("jane.doe+blog", "jane-doe-blog"),
            ("--x", "user"),
            ("_Ada__L", "ada__l"),
            ("名前", "user"),
            (
                "a very long login that goes on and on",
                "a-very-long-login-that-goes",
            ),
        ] {
            assert_eq!(Username::suggest(from).as_str(), want, "{from}");
        }
    }

    #[test]
    fn only_verified_emails_count() {
        let mut account = ProviderAccount {
            id: "1".into(),
            login: "ada".into(),
            name: " ".into(),
            email: Some("ada@example.com".into()),
            email_verified: false,
            avatar_url: Some("http://insecure.example/a.png".into()),
        };
        assert!(account.verified_email().is_none());
        account.email_verified = true;
        assert_eq!(
            account.verified_email().map(|e| e.as_str().to_owned()),
            Some("ada@example.com".into())
        );
        assert_eq!(account.display_name(), "ada");
        assert!(account.avatar().is_none());
    }

    #[test]
    fn emails_need_one_at_and_no_spaces() {
        assert!(Email::parse("a@b.co").is_ok());
        for bad in ["", "ab.co", "@b.co", "a@", "a b@c.d", "a@b@c"] {
            assert!(Email::parse(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn passwords_have_a_length_range_and_hide_in_debug() {
        let quire = PasswordPolicy::default();
        assert!(Password::parse("short", &quire).is_err());
        assert!(Password::parse(&"x".repeat(257), &quire).is_err());
        let p = Password::parse("correct horse battery", &quire).expect("long enough");
        assert!(!format!("{p:?}").contains("horse"));
    }

    #[test]
    fn password_hashes_are_argon2id_and_verify() {
        let p = Password::parse("correct horse battery", &PasswordPolicy::default())
            .expect("long enough");
        let hash = p.hash().expect("hashes");
        assert!(hash.starts_with("$argon2id$"), "{hash}");
        assert!(Password::verify("correct horse battery", &hash));
        assert!(!Password::verify("correct horse batterx", &hash));
        assert!(!Password::verify("anything", "not a hash"));
    }

    #[test]
    fn common_passwords_are_refused() {
        for common in ["password123", "Qwertyuiop", "aaaaaaaaaaaa"] {
            assert!(
                Password::parse(common, &PasswordPolicy::default()).is_err(),
                "{common}"
            );
        }
    }

    #[test]
    fn a_relaxed_policy_takes_what_realworld_suites_send() {
        let relaxed = PasswordPolicy {
            min_length: 8,
            refuse_common: false,
        };
        for p in ["password123", "bonjour1", &"a".repeat(64)] {
            assert!(Password::parse(p, &relaxed).is_ok(), "{p}");
        }
        assert!(Password::parse("bonjour", &relaxed).is_err());
        assert!(Password::parse(&"a".repeat(257), &relaxed).is_err());
    }

    #[test]
    fn roles_parse_from_their_names() {
        assert_eq!("Editor".parse::<Role>(), Ok(Role::Editor));
        assert!("owner".parse::<Role>().is_err());
    }
}
