//! Extractors shared by many handlers: who is asking (`Viewer`), from where (`ClientIp`),
//! and forms that must carry the session's CSRF token (`CsrfForm`).

use std::{future::Future, net::IpAddr, pin::Pin};

use actix_web::{FromRequest, HttpRequest, dev::Payload, web};
use serde::de::DeserializeOwned;

use crate::{
    accounts::{model::CurrentUser, repo, session::AuthSession},
    app::AppState,
    authz::{self, Action},
    error::Error,
};

type LocalBoxFuture<T> = Pin<Box<dyn Future<Output = T>>>;

/// The logged-in user, if any, loaded fresh on each request: a disabled account or a changed
/// role takes effect at once, and a session whose account is gone is ended.
pub struct Viewer(pub Option<CurrentUser>);

impl FromRequest for Viewer {
    type Error = Error;
    type Future = LocalBoxFuture<Result<Self, Error>>;

    fn from_request(req: &HttpRequest, payload: &mut Payload) -> Self::Future {
        let session = AuthSession::from_request(req, payload).into_inner();
        let state = req.app_data::<web::Data<AppState>>().cloned();
        Box::pin(async move {
            let (Ok(session), Some(state)) = (session, state) else {
                return Ok(Viewer(None));
            };
            let Some(id) = session.user_id() else {
                return Ok(Viewer(None));
            };
            let user = repo::find_current(&state.db, id).await?;
            if user.is_none() {
                session.log_out();
            }
            Ok(Viewer(user))
        })
    }
}

/// A logged-in user; anonymous visitors are sent to the login page and back.
pub struct SignedIn(pub CurrentUser);

impl FromRequest for SignedIn {
    type Error = Error;
    type Future = LocalBoxFuture<Result<Self, Error>>;

    fn from_request(req: &HttpRequest, payload: &mut Payload) -> Self::Future {
        let viewer = Viewer::from_request(req, payload);
        let here = match req.query_string() {
            "" => req.path().to_owned(),
            q => format!("{}?{q}", req.path()),
        };
        Box::pin(async move {
            match viewer.await?.0 {
                Some(user) => Ok(SignedIn(user)),
                None => Err(Error::LoginRequired(here)),
            }
        })
    }
}

/// Someone who may write (author, editor, admin); readers get 403.
pub struct Writer(pub CurrentUser);

impl FromRequest for Writer {
    type Error = Error;
    type Future = LocalBoxFuture<Result<Self, Error>>;

    fn from_request(req: &HttpRequest, payload: &mut Payload) -> Self::Future {
        let signed_in = SignedIn::from_request(req, payload);
        Box::pin(async move {
            let SignedIn(user) = signed_in.await?;
            if authz::can(&user, Action::Write) {
                Ok(Writer(user))
            } else {
                Err(Error::Forbidden)
            }
        })
    }
}

/// The client's address: the TCP peer, or what a trusted proxy says it forwarded for.
pub struct ClientIp(pub IpAddr);

impl FromRequest for ClientIp {
    type Error = Error;
    type Future = std::future::Ready<Result<Self, Error>>;

    fn from_request(req: &HttpRequest, _: &mut Payload) -> Self::Future {
        std::future::ready(
            client_ip(req)
                .map(ClientIp)
                .ok_or(Error::BadRequest("the client address is unknown".into())),
        )
    }
}

pub fn client_ip(req: &HttpRequest) -> Option<IpAddr> {
    let peer = req.peer_addr()?.ip();
    let trusted = req.app_data::<web::Data<AppState>>().is_some_and(|s| {
        s.settings
            .http
            .trusted_proxies
            .iter()
            .any(|n| n.contains(&peer))
    });
    if !trusted {
        return Some(peer);
    }
    // The proxy appends the address it saw last; anything before it the client could forge.
    let forwarded = req
        .headers()
        .get("x-forwarded-for")
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.rsplit(',').next())
        .or_else(|| req.headers().get("x-real-ip").and_then(|v| v.to_str().ok()))
        .and_then(|v| v.trim().parse().ok());
    Some(forwarded.unwrap_or(peer))
}

/// A form that carries `csrf_token`; implemented by every state-changing form.
pub trait CsrfProtected {
    fn csrf_token(&self) -> &str;
}

/// A urlencoded form whose `csrf_token` matches the session's, or a 403 before the handler
/// runs: a forged cross-site POST changes nothing.
pub struct CsrfForm<T>(pub T);

impl<T: DeserializeOwned + CsrfProtected + 'static> FromRequest for CsrfForm<T> {
    type Error = actix_web::Error;
    type Future = LocalBoxFuture<Result<Self, actix_web::Error>>;

    fn from_request(req: &HttpRequest, payload: &mut Payload) -> Self::Future {
        let session = AuthSession::from_request(req, payload).into_inner();
        let form = web::Form::<T>::from_request(req, payload);
        Box::pin(async move {
            let session = session?;
            // A body that isn't a urlencoded form can't carry a valid token either.
            let form = form.await.map_err(|_| Error::CsrfRejected)?.into_inner();
            if session.csrf_matches(form.csrf_token()) {
                Ok(CsrfForm(form))
            } else {
                Err(Error::CsrfRejected.into())
            }
        })
    }
}

/// A form that carries nothing but its CSRF token (delete, restore, hide, log out…).
#[derive(Debug, serde::Deserialize)]
pub struct TokenOnly {
    #[serde(default)]
    pub csrf_token: String,
}

impl CsrfProtected for TokenOnly {
    fn csrf_token(&self) -> &str {
        &self.csrf_token
    }
}
