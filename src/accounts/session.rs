//! A typed wrapper over actix-session: who is logged in, and the session's CSRF token.
//! Session state lives in Redis; the cookie holds only a signed, encrypted key.

use actix_session::{Session, SessionExt};
use actix_web::{FromRequest, HttpRequest, dev::Payload};
use rand::RngExt;
use std::future::{Ready, ready};

use super::model::UserId;

const USER_ID: &str = "user_id";
const CSRF: &str = "csrf";
const OAUTH_FLOW: &str = "oauth_flow";

pub struct AuthSession(Session);

impl AuthSession {
    pub fn user_id(&self) -> Option<UserId> {
        self.0.get::<i64>(USER_ID).ok().flatten().map(UserId)
    }

    /// Log `user` in. The session id is renewed, so an id planted before login is worthless.
    pub fn log_in(&self, user: UserId) -> Result<(), actix_session::SessionInsertError> {
        self.0.renew();
        self.0.insert(USER_ID, user.0)?;
        // A fresh token too: the anonymous one may have been seen by someone else.
        self.0.insert(CSRF, new_token())
    }

    /// Remember a provider login in progress (state, PKCE verifier): kept in Redis, never in
    /// the cookie. One at a time; a newer one replaces it.
    pub fn begin_oauth<T: serde::Serialize>(
        &self,
        flow: &T,
    ) -> Result<(), actix_session::SessionInsertError> {
        self.0.insert(OAUTH_FLOW, flow)
    }

    /// The provider login in progress, removed: each one can finish once.
    pub fn take_oauth<T: serde::de::DeserializeOwned>(&self) -> Option<T> {
        self.0.remove_as::<T>(OAUTH_FLOW).and_then(Result::ok)
    }

    /// End the session: its state is deleted from Redis and the cookie cleared.
    pub fn log_out(&self) {
        self.0.purge();
    }

    /// The session's CSRF token, creating one (and so the session) if there is none yet.
    pub fn csrf_token(&self) -> String {
        if let Ok(Some(token)) = self.0.get::<String>(CSRF) {
            return token;
        }
        let token = new_token();
        // If Redis refuses, the form still renders; its POST will then be refused with 403.
        let _ = self.0.insert(CSRF, &token);
        token
    }

    /// Does `submitted` match this session's token? Compared in constant time.
    pub fn csrf_matches(&self, submitted: &str) -> bool {
        match self.0.get::<String>(CSRF) {
            Ok(Some(token)) => constant_time_eq(token.as_bytes(), submitted.as_bytes()),
            _ => false,
        }
    }
}

fn new_token() -> String {
    let bytes: [u8; 32] = rand::rng().random();
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

pub fn constant_time_eq(a: &[u8], b: &[u8]) -> bool {
    a.len() == b.len() && a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
}

impl FromRequest for AuthSession {
    type Error = actix_web::Error;
    type Future = Ready<Result<Self, Self::Error>>;

    fn from_request(req: &HttpRequest, _: &mut Payload) -> Self::Future {
        ready(Ok(Self(req.get_session())))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tokens_are_long_random_hex() {
        let (a, b) = (new_token(), new_token());
        assert_eq!(a.len(), 64);
        assert_ne!(a, b);
        assert!(a.bytes().all(|c| c.is_ascii_hexdigit()));
    }

    #[test]
    fn comparison_needs_equal_length_and_bytes() {
        assert!(constant_time_eq(b"abc", b"abc"));
        assert!(!constant_time_eq(b"abc", b"abd"));
        assert!(!constant_time_eq(b"abc", b"ab"));
    }
}
