//! Extractors shared by many handlers: who is asking (`Viewer`), from where (`ClientIp`),
//! and forms that must carry the session's CSRF token (`CsrfForm`), read within their limits.

use std::{future::Future, net::IpAddr, pin::Pin};

use actix_web::{FromRequest, HttpRequest, dev::Payload, http::header, web};
use serde::de::DeserializeOwned;

use crate::{
    accounts::{model::CurrentUser, repo, session::AuthSession},
    authz::{self, Action},
    config::Settings,
    error::Error,
    middleware::mark_personal,
    render::{page::Header, text::strip_xml_forbidden},
    state::AppState,
};

type LocalBoxFuture<T> = Pin<Box<dyn Future<Output = T>>>;

/// The logged-in user, if any, loaded fresh on each request: a disabled account or a changed
/// role takes effect at once, and a session whose account is gone is ended.
pub struct Viewer(pub Option<CurrentUser>);

impl FromRequest for Viewer {
    type Error = Error;
    type Future = LocalBoxFuture<Result<Self, Error>>;

    fn from_request(req: &HttpRequest, payload: &mut Payload) -> Self::Future {
        // While Redis is away the session can't be read: the page is served anonymously.
        let session = AuthSession::from_request(req, payload).into_inner();
        let state = req.app_data::<web::Data<AppState>>().cloned();
        let req = req.clone();
        Box::pin(async move {
            let (Ok(session), Some(state)) = (session, state) else {
                return Ok(Viewer(None));
            };
            let Some(id) = session.user_id() else {
                return Ok(Viewer(None));
            };
            let user = repo::find_current(&state.db, id)
                .await?
                // A password change or "log out everywhere" since this session began ends it.
                .filter(|u| u.session_epoch == session.epoch());
            if user.is_none() {
                session.log_out();
            } else {
                mark_personal(&req);
            }
            Ok(Viewer(user))
        })
    }
}

/// The signed-in part of the page header for `user`.
pub fn header(user: &CurrentUser, session: &AuthSession) -> Header {
    Header {
        display_name: user.display_name.clone(),
        menu: authz::Menu::for_user(user),
        csrf_token: session.csrf_token(),
    }
}

/// Who is reading a page, and what its header shows them: what reading pages extract. While
/// the session store is away this is an anonymous visitor.
pub struct Visitor {
    pub user: Option<CurrentUser>,
    pub header: Option<Header>,
}

impl FromRequest for Visitor {
    type Error = Error;
    type Future = LocalBoxFuture<Result<Self, Error>>;

    fn from_request(req: &HttpRequest, payload: &mut Payload) -> Self::Future {
        let viewer = Viewer::from_request(req, payload);
        let session = AuthSession::from_request(req, payload).into_inner();
        Box::pin(async move {
            let user = viewer.await?.0;
            let header = match (&user, &session) {
                (Some(user), Ok(session)) => Some(header(user, session)),
                _ => None,
            };
            Ok(Visitor { user, header })
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
        let sessions_down = req
            .app_data::<web::Data<AppState>>()
            .is_some_and(|s| s.redis.is_down());
        Box::pin(async move {
            match viewer.await?.0 {
                Some(user) => Ok(SignedIn(user)),
                // Not "log in": nobody can while the session store is away.
                None if sessions_down => Err(Error::SessionsUnavailable),
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
    let Some(state) = req.app_data::<web::Data<AppState>>() else {
        return Some(peer);
    };
    let proxies = &state.settings.http.trusted_proxies;
    let headers = req.headers();
    Some(client_behind(
        peer,
        headers
            .get_all("x-forwarded-for")
            .filter_map(|v| v.to_str().ok()),
        headers.get("x-real-ip").and_then(|v| v.to_str().ok()),
        |ip| proxies.iter().any(|n| n.contains(ip)),
    ))
}

/// The client's address, from the TCP `peer` and, when the peer is one of our proxies, what
/// the proxies said. Each proxy appends the address it saw: walked from the right, the first
/// address that is not one of our proxies is the client (an edge cache in front of nginx adds
/// a hop); anything to its left the client could have forged.
fn client_behind<'a>(
    peer: IpAddr,
    forwarded_for: impl Iterator<Item = &'a str>,
    real_ip: Option<&str>,
    trusted: impl Fn(&IpAddr) -> bool,
) -> IpAddr {
    if !trusted(&peer) {
        return peer;
    }
    let hops: Vec<Option<IpAddr>> = forwarded_for
        .flat_map(|v| v.split(','))
        .map(|hop| hop.trim().parse().ok())
        .collect();
    let mut client = None;
    for hop in hops.into_iter().rev() {
        match hop {
            // Not an address: nothing to its left can be believed.
            None => break,
            Some(ip) if trusted(&ip) => client = Some(ip),
            Some(ip) => {
                client = Some(ip);
                break;
            }
        }
    }
    client
        .or_else(|| real_ip.and_then(|v| v.trim().parse().ok()))
        .unwrap_or(peer)
}

/// How large a form body may be, set per resource with `.app_data(FormLimit::…)`; forms
/// without one get `Standard`. Limits count the body as sent: percent-encoding can triple
/// each byte of UTF-8.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FormLimit {
    /// Every form but the editor. The largest is a comment: 5,000 characters of up to 4
    /// bytes each, percent-encoded, plus room for the other fields.
    Standard,
    /// The post editor: `posts.max_body_bytes` of Markdown, percent-encoded, plus 64 KiB
    /// for the title, excerpt, tags and the rest.
    Editor,
}

impl FormLimit {
    pub fn bytes(self, settings: &Settings) -> usize {
        match self {
            Self::Standard => crate::comments::MAX_CHARS * 4 * 3 + 16 * 1024,
            Self::Editor => settings.posts.max_body_bytes.saturating_mul(3) + 64 * 1024,
        }
    }

    fn too_large(self, settings: &Settings) -> Error {
        match self {
            Self::Standard => Error::TooLarge(format!(
                "This form can send at most {} KB.",
                self.bytes(settings) / 1024
            )),
            Self::Editor => Error::TooLarge(format!(
                "A post can be at most {} of Markdown.",
                human_bytes(settings.posts.max_body_bytes)
            )),
        }
    }
}

/// Sizes in messages are said one way everywhere (`input::human_bytes`).
pub use crate::input::human_bytes;

/// A urlencoded form whose `csrf_token` field matches the session's token. Checked in this
/// order, so each failure has one answer:
/// 1. the body is over its `FormLimit`: 413, saying the limit (too slow to arrive: 408);
/// 2. the token is missing or wrong: 403, before anything else is looked at, so a forged
///    cross-site POST changes nothing;
/// 3. a field holds a NUL: 400 naming the field (other characters XML forbids are dropped);
/// 4. a field doesn't parse into `T`: 400 naming the field.
///
/// `T` never sees the token: form structs hold only their own fields.
pub struct CsrfForm<T>(pub T);

impl<T: DeserializeOwned + 'static> FromRequest for CsrfForm<T> {
    type Error = Error;
    type Future = LocalBoxFuture<Result<Self, Error>>;

    fn from_request(req: &HttpRequest, payload: &mut Payload) -> Self::Future {
        let session = AuthSession::from_request(req, payload).into_inner();
        let state = req.app_data::<web::Data<AppState>>().cloned();
        let limit = req
            .app_data::<FormLimit>()
            .copied()
            .unwrap_or(FormLimit::Standard);
        let urlencoded = req
            .headers()
            .get(header::CONTENT_TYPE)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.split(';').next())
            .is_some_and(|v| {
                v.trim()
                    .eq_ignore_ascii_case("application/x-www-form-urlencoded")
            });
        let announced = announced_length(req);
        let payload = payload.take();
        Box::pin(async move {
            let state = state.ok_or_else(|| Error::Internal(anyhow::anyhow!("no app state")))?;
            let max = limit.bytes(&state.settings);
            if announced.is_some_and(|n| n > max as u64) {
                return Err(limit.too_large(&state.settings));
            }
            let session = session?;
            let body = match read_body(payload, max).await {
                Ok(body) => body,
                Err(BodyError::TooLarge) => return Err(limit.too_large(&state.settings)),
                Err(BodyError::TimedOut) => return Err(Error::RequestTimeout),
                Err(BodyError::Broken(e)) => {
                    return Err(Error::BadRequest(format!(
                        "the form could not be read: {e}"
                    )));
                }
            };
            // A body that isn't a urlencoded form carries no token we could read.
            if !urlencoded {
                return Err(Error::CsrfRejected);
            }
            let fields: Vec<(String, String)> =
                url::form_urlencoded::parse(&body).into_owned().collect();
            let token = fields
                .iter()
                .find(|(k, _)| k == "csrf_token")
                .map_or("", |(_, v)| v.as_str());
            if !session.csrf_matches(token) {
                return Err(Error::CsrfRejected);
            }
            parse_fields(&fields).map(CsrfForm)
        })
    }
}

/// Turn decoded form fields (the token among them) into `T`; see `CsrfForm` for the rules.
fn parse_fields<T: DeserializeOwned>(fields: &[(String, String)]) -> Result<T, Error> {
    let mut clean = url::form_urlencoded::Serializer::new(String::new());
    for (name, value) in fields {
        if name == "csrf_token" {
            continue;
        }
        if name.contains('\0') || value.contains('\0') {
            return Err(Error::BadRequest(format!(
                "the field “{}” contains a NUL character, which no field may hold",
                strip_xml_forbidden(name)
            )));
        }
        clean.append_pair(name, &strip_xml_forbidden(value));
    }
    let clean = clean.finish();
    let de = serde_urlencoded::Deserializer::new(url::form_urlencoded::parse(clean.as_bytes()));
    serde_path_to_error::deserialize(de).map_err(|e| {
        let field = e.path().to_string();
        let inner = e.into_inner();
        if field == "." {
            Error::BadRequest(format!("the form is not valid: {inner}"))
        } else {
            Error::BadRequest(format!("the field “{field}” is not valid: {inner}"))
        }
    })
}

/// The body's length as its `Content-Length` announces it. A body announced over a limit is
/// refused before any of it is read (issue 24): waiting for it would hold the connection
/// until the body deadline for a body that will be refused anyway.
pub(crate) fn announced_length(req: &HttpRequest) -> Option<u64> {
    req.headers()
        .get(header::CONTENT_LENGTH)?
        .to_str()
        .ok()?
        .trim()
        .parse()
        .ok()
}

pub(crate) enum BodyError {
    TooLarge,
    TimedOut,
    Broken(actix_web::error::PayloadError),
}

/// Read a request body of at most `max` bytes. Stops reading at the limit: a huge body is
/// never held in memory.
pub(crate) async fn read_body(
    mut payload: Payload,
    max: usize,
) -> Result<web::BytesMut, BodyError> {
    use futures_util::StreamExt;
    let mut body = web::BytesMut::new();
    while let Some(chunk) = payload.next().await {
        let chunk = chunk.map_err(|e| match e {
            actix_web::error::PayloadError::Io(io) if io.kind() == std::io::ErrorKind::TimedOut => {
                BodyError::TimedOut
            }
            actix_web::error::PayloadError::Overflow => BodyError::TooLarge,
            other => BodyError::Broken(other),
        })?;
        if body.len() + chunk.len() > max {
            return Err(BodyError::TooLarge);
        }
        body.extend_from_slice(&chunk);
    }
    Ok(body)
}

/// A form that carries nothing but its CSRF token (delete, restore, hide, log out…).
#[derive(Debug, serde::Deserialize)]
pub struct TokenOnly {}

#[cfg(test)]
mod tests {
    use super::*;

    #[derive(Debug, serde::Deserialize)]
    struct Sample {
        #[serde(default)]
        title: String,
        #[serde(default)]
        version: i32,
    }

    fn fields(pairs: &[(&str, &str)]) -> Vec<(String, String)> {
        pairs
            .iter()
            .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
            .collect()
    }

    #[test]
    fn the_client_is_the_first_address_from_the_right_that_is_not_our_proxy() {
        let ip = |s: &str| s.parse::<IpAddr>().expect("an address");
        let ours = |a: &IpAddr| a.to_string().starts_with("10.");
        let client = |peer: &str, xff: &[&str], real: Option<&str>| {
            client_behind(ip(peer), xff.iter().copied(), real, ours)
        };
        // Straight from the internet: headers mean nothing.
        assert_eq!(client("8.8.8.8", &["1.1.1.1"], None), ip("8.8.8.8"));
        // nginx alone, and an edge cache in front of nginx (one header or two).
        assert_eq!(client("10.0.0.2", &["1.2.3.4"], None), ip("1.2.3.4"));
        assert_eq!(
            client("10.0.0.2", &["1.2.3.4, 10.0.0.9"], None),
            ip("1.2.3.4")
        );
        assert_eq!(
            client("10.0.0.2", &["1.2.3.4", "10.0.0.9"], None),
            ip("1.2.3.4")
        );
        // What the client wrote itself, to the left, is not believed.
        assert_eq!(
            client("10.0.0.2", &["6.6.6.6, 1.2.3.4, 10.0.0.9"], None),
            ip("1.2.3.4")
        );
        assert_eq!(
            client("10.0.0.2", &["garbage, 10.0.0.9"], None),
            ip("10.0.0.9")
        );
        // No header: X-Real-IP, then the peer.
        assert_eq!(client("10.0.0.2", &[], Some("5.6.7.8")), ip("5.6.7.8"));
        assert_eq!(client("10.0.0.2", &[], None), ip("10.0.0.2"));
    }

    #[test]
    fn the_token_is_not_part_of_the_form_and_controls_are_dropped() {
        let form: Sample = parse_fields(&fields(&[
            ("csrf_token", "abc"),
            ("title", "a\u{b}b\u{1b}c\td"),
        ]))
        .expect("parses");
        assert_eq!((form.title.as_str(), form.version), ("abc\td", 0));
    }

    #[test]
    fn a_nul_or_a_bad_number_names_the_field() {
        let err = parse_fields::<Sample>(&fields(&[("title", "a\0b")])).expect_err("NUL");
        assert!(err.to_string().contains("“title”"), "{err}");
        let err = parse_fields::<Sample>(&fields(&[("version", "x")])).expect_err("number");
        assert!(err.to_string().contains("“version”"), "{err}");
    }

    #[test]
    fn limits_are_written_for_people() {
        assert_eq!(human_bytes(1 << 20), "1 MiB");
        assert_eq!(human_bytes(10 * 1024), "10 KiB");
        assert_eq!(human_bytes(3 << 19), "1.5 MiB");
    }
}
