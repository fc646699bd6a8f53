//! A typed wrapper over actix-session: who is logged in, and the session's CSRF token; and
//! the store that keeps session state in Redis (the cookie holds only a signed, encrypted
//! key).

use std::{
    collections::HashMap,
    future::{Ready, ready},
};

use actix_session::{
    Session, SessionExt,
    storage::{LoadError, SaveError, SessionKey, SessionStore, UpdateError, generate_session_key},
};
use actix_web::{
    FromRequest, HttpRequest,
    body::{BoxBody, EitherBody, MessageBody},
    cookie::time::Duration,
    dev::{Payload, ServiceRequest, ServiceResponse},
    middleware::Next,
    web,
};
use rand::RngExt;

use super::model::{UserId, constant_time_eq};
use crate::{error::Error, kv::Kv, middleware::mark_personal, state::AppState};

const USER_ID: &str = "user_id";
/// The account's `session_epoch` when this session logged in.
const EPOCH: &str = "epoch";
const CSRF: &str = "csrf";
const OAUTH_FLOW: &str = "oauth_flow";
/// One message for the next page this person opens (what a POST did, after its redirect).
const FLASH: &str = "flash";

pub struct AuthSession {
    session: Session,
    req: HttpRequest,
}

impl AuthSession {
    pub fn user_id(&self) -> Option<UserId> {
        self.session.get::<i64>(USER_ID).ok().flatten().map(UserId)
    }

    /// The account epoch this session started under (0 for sessions older than epochs).
    pub fn epoch(&self) -> i32 {
        self.session.get::<i32>(EPOCH).ok().flatten().unwrap_or(0)
    }

    /// Log `user` in under the account's current `epoch`. The session id is renewed, so an
    /// id planted before login is worthless.
    pub fn log_in(&self, user: UserId, epoch: i32) -> Result<(), Error> {
        self.session.renew();
        let inserted = self
            .session
            .insert(USER_ID, user.0)
            .and_then(|()| self.session.insert(EPOCH, epoch))
            // A fresh token too: the anonymous one may have been seen by someone else.
            .and_then(|()| self.session.insert(CSRF, new_token()));
        Ok(inserted?)
    }

    /// Remember a provider login in progress (state, PKCE verifier): kept in Redis, never in
    /// the cookie. One at a time; a newer one replaces it.
    pub fn begin_oauth<T: serde::Serialize>(&self, flow: &T) -> Result<(), Error> {
        Ok(self.session.insert(OAUTH_FLOW, flow)?)
    }

    /// The provider login in progress, removed: each one can finish once.
    pub fn take_oauth<T: serde::de::DeserializeOwned>(&self) -> Option<T> {
        self.session.remove_as::<T>(OAUTH_FLOW).and_then(Result::ok)
    }

    /// Say `message` on the next page that asks (`take_flash`): a POST that redirects tells
    /// what it did on the page it lands on. Best effort: if Redis refuses, nothing is said.
    pub fn flash(&self, message: &str) {
        let _ = self.session.insert(FLASH, message);
    }

    /// The message a POST left for this page, removed: it is said once.
    pub fn take_flash(&self) -> Option<String> {
        self.session.remove_as::<String>(FLASH).and_then(Result::ok)
    }

    /// End the session: its state is deleted from Redis and the cookie cleared.
    pub fn log_out(&self) {
        self.session.purge();
    }

    /// The session's CSRF token, creating one (and so the session) if there is none yet.
    /// The page that shows it is for this person only (see `middleware::personal_pages`).
    pub fn csrf_token(&self) -> String {
        mark_personal(&self.req);
        if let Ok(Some(token)) = self.session.get::<String>(CSRF) {
            return token;
        }
        let token = new_token();
        // If Redis refuses, the form still renders; its POST will then be refused with 403.
        let _ = self.session.insert(CSRF, &token);
        token
    }

    /// Does `submitted` match this session's token? Compared in constant time.
    pub fn csrf_matches(&self, submitted: &str) -> bool {
        match self.session.get::<String>(CSRF) {
            Ok(Some(token)) => constant_time_eq(token.as_bytes(), submitted.as_bytes()),
            _ => false,
        }
    }
}

fn new_token() -> String {
    let bytes: [u8; 32] = rand::rng().random();
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

/// A handler that takes the session can't do its work while Redis is away: 503 at once.
impl FromRequest for AuthSession {
    type Error = Error;
    type Future = Ready<Result<Self, Error>>;

    fn from_request(req: &HttpRequest, _: &mut Payload) -> Self::Future {
        let down = req
            .app_data::<web::Data<AppState>>()
            .is_some_and(|s| s.redis.is_down());
        ready(if down {
            Err(Error::SessionsUnavailable)
        } else {
            Ok(Self {
                session: req.get_session(),
                req: req.clone(),
            })
        })
    }
}

tokio::task_local! {
    /// Set by `RedisSessions` when it could not store a session's state, for
    /// `store_failures` (whose request it is) to answer.
    static STORE_FAILED: std::cell::Cell<bool>;
}

/// A session whose state can't be stored (Redis away or hung) is our 503 page saying so, or
/// the API's 503 JSON. actix-session makes a failing store a bare 500 after the handler ran,
/// outside `error_pages` and with no request to render a page for: the first request to need
/// a new session while Redis hung (before the breaker opened) got one (issue 24). So under
/// this middleware the store reports its failure here and lets actix-session go on, and the
/// response, with its session cookie, is replaced. Wrapped just outside `SessionMiddleware`.
pub async fn store_failures(
    req: ServiceRequest,
    next: Next<impl MessageBody + 'static>,
) -> Result<ServiceResponse<EitherBody<impl MessageBody, BoxBody>>, actix_web::Error> {
    let (res, failed) = STORE_FAILED
        .scope(std::cell::Cell::new(false), async {
            let res = next.call(req).await;
            (res, STORE_FAILED.with(std::cell::Cell::get))
        })
        .await;
    let res = res?;
    if !failed {
        return Ok(res.map_into_left_body());
    }
    let (req, _) = res.into_parts();
    Ok(
        crate::error::respond_outside(req, Error::SessionsUnavailable)
            .map_into_boxed_body()
            .map_into_right_body(),
    )
}

/// Whether `store_failures` will answer for a failed store (so the store needn't fail).
fn report_store_failure(e: &anyhow::Error) -> bool {
    let reported = STORE_FAILED.try_with(|f| f.set(true)).is_ok();
    if reported {
        tracing::warn!(error = %e, "session state not stored: answering 503");
    }
    reported
}

/// Session state in Redis, through `Kv`: every call has a deadline. A load that fails
/// (Redis away) is an empty session, not an error, so anonymous pages are served as usual;
/// `AuthSession` then answers 503 for pages that need the session.
#[derive(Clone)]
pub struct RedisSessions {
    kv: Kv,
    prefix: String,
}

type State = HashMap<String, String>;

impl RedisSessions {
    pub fn new(kv: Kv, key_prefix: &str) -> Self {
        Self {
            kv,
            prefix: format!("{key_prefix}session:"),
        }
    }

    fn key(&self, key: &SessionKey) -> String {
        format!("{}{}", self.prefix, key.as_ref())
    }

    async fn set(
        &self,
        key: &SessionKey,
        state: &State,
        ttl: &Duration,
        only_if: &str,
    ) -> anyhow::Result<bool> {
        let body = serde_json::to_string(state)?;
        let mut cmd = redis::cmd("SET");
        cmd.arg(self.key(key))
            .arg(body)
            .arg("EX")
            .arg(ttl.whole_seconds().max(1))
            .arg(only_if);
        let reply: Option<String> = self.kv.cmd(&cmd).await?;
        Ok(reply.is_some())
    }
}

impl SessionStore for RedisSessions {
    async fn load(&self, key: &SessionKey) -> Result<Option<State>, LoadError> {
        let value: Option<String> = match self.kv.cmd(redis::cmd("GET").arg(self.key(key))).await {
            Ok(value) => value,
            Err(_) => return Ok(None),
        };
        match value {
            None => Ok(None),
            Some(v) => serde_json::from_str(&v)
                .map(Some)
                .map_err(|e| LoadError::Deserialization(e.into())),
        }
    }

    async fn save(&self, state: State, ttl: &Duration) -> Result<SessionKey, SaveError> {
        let key = generate_session_key();
        match self.set(&key, &state, ttl, "NX").await {
            Err(e) if !report_store_failure(&e) => Err(SaveError::Other(e)),
            _ => Ok(key),
        }
    }

    async fn update(
        &self,
        key: SessionKey,
        state: State,
        ttl: &Duration,
    ) -> Result<SessionKey, UpdateError> {
        let stored = match self.set(&key, &state, ttl, "XX").await {
            Ok(stored) => stored,
            Err(e) if report_store_failure(&e) => return Ok(key),
            Err(e) => return Err(UpdateError::Other(e)),
        };
        if stored {
            Ok(key)
        } else {
            // Expired in the meantime: store it under a new key.
            self.save(state, ttl)
                .await
                .map_err(|e| UpdateError::Other(e.into()))
        }
    }

    async fn update_ttl(&self, key: &SessionKey, ttl: &Duration) -> anyhow::Result<()> {
        let mut cmd = redis::cmd("EXPIRE");
        cmd.arg(self.key(key)).arg(ttl.whole_seconds().max(1));
        let _: i64 = self.kv.cmd(&cmd).await?;
        Ok(())
    }

    async fn delete(&self, key: &SessionKey) -> anyhow::Result<()> {
        match self
            .kv
            .cmd::<i64>(redis::cmd("DEL").arg(self.key(key)))
            .await
        {
            Ok(_) => Ok(()),
            Err(e) => {
                let e = anyhow::Error::from(e);
                if report_store_failure(&e) {
                    Ok(())
                } else {
                    Err(e)
                }
            }
        }
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
