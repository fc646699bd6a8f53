//! An OAuth 2.0 / OpenID Connect provider served over real HTTP by the test process, shaped
//! like GitHub (`/github/user`, `/github/user/emails`) and Google (`/google/userinfo`) and
//! strict where the protocol is: it checks the client id and secret, the redirect URI, that
//! the code is used once, and the PKCE S256 verifier against the challenge. A test picks who
//! approves at `/authorize`, and can make any step fail or hang.

use std::{
    collections::HashMap,
    sync::{Arc, Mutex},
    time::Duration,
};

use actix_web::{HttpRequest, HttpResponse, web};
use base64::{Engine, engine::general_purpose::URL_SAFE_NO_PAD};
use quire::config::Settings;
use serde::Deserialize;
use serde_json::json;
use sha2::{Digest, Sha256};

pub const CLIENT_ID: &str = "quire-test-client";
pub const CLIENT_SECRET: &str = "quire-test-secret-3f9a1c";

/// Someone with an account at the provider.
#[derive(Debug, Clone)]
pub struct Person {
    /// GitHub's numeric id, or Google's `sub`.
    pub id: &'static str,
    pub login: &'static str,
    pub name: &'static str,
    pub email: &'static str,
    pub verified: bool,
}

/// What goes wrong next, if anything.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Fault {
    None,
    /// The person clicks "Cancel" at the provider.
    Deny,
    /// The endpoint answers 5xx (the token endpoint with an HTML page, as proxies do).
    Fails(Endpoint),
    /// The endpoint answers only after `HANG`.
    Hangs(Endpoint),
    /// The token endpoint refuses the code as OAuth says to (400 `invalid_grant`), as for an
    /// expired code.
    RejectsCode,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Endpoint {
    Token,
    /// GitHub's `/user` or Google's userinfo.
    User,
    /// GitHub's `/user/emails`.
    Emails,
}

#[derive(Default)]
struct Inner {
    person: Option<Person>,
    fault: Option<Fault>,
    codes: HashMap<String, Grant>,
    tokens: HashMap<String, Person>,
    events: Vec<String>,
    /// Everything secret the provider handed out or received, for the log-leak test.
    secrets: Vec<String>,
}

struct Grant {
    redirect_uri: String,
    challenge: String,
    person: Person,
}

pub struct TestProvider {
    pub base: String,
    inner: Arc<Mutex<Inner>>,
    server: actix_web::dev::ServerHandle,
}

impl Drop for TestProvider {
    fn drop(&mut self) {
        drop(self.server.stop(false));
    }
}

/// How long a hanging endpoint hangs: longer than the app's `oauth.timeout_secs` in tests.
const HANG: Duration = Duration::from_secs(4);

impl TestProvider {
    pub async fn start() -> Self {
        let inner = Arc::new(Mutex::new(Inner::default()));
        let data = web::Data::from(inner.clone());
        let listener = std::net::TcpListener::bind("127.0.0.1:0").expect("bind provider");
        let port = listener.local_addr().expect("addr").port();
        let server = actix_web::HttpServer::new(move || {
            actix_web::App::new()
                .app_data(data.clone())
                .route("/authorize", web::get().to(authorize))
                .route("/token", web::post().to(token))
                .route("/github/user", web::get().to(github_user))
                .route("/github/user/emails", web::get().to(github_emails))
                .route("/google/userinfo", web::get().to(google_userinfo))
        })
        .workers(1)
        .listen(listener)
        .expect("listen")
        .run();
        let handle = server.handle();
        tokio::spawn(server);
        Self {
            base: format!("http://127.0.0.1:{port}"),
            inner,
            server: handle,
        }
    }

    /// Point both of the app's providers at this one, with a 1-second timeout.
    pub fn configure(&self, s: &mut Settings) {
        let url = |path: &str| format!("{}{path}", self.base).parse().expect("url");
        s.oauth.timeout_secs = 1;
        let gh = &mut s.oauth.github;
        gh.client_id = CLIENT_ID.into();
        gh.client_secret = CLIENT_SECRET.into();
        gh.authorize_url = url("/authorize");
        gh.token_url = url("/token");
        gh.user_url = url("/github/user");
        gh.emails_url = url("/github/user/emails");
        let google = &mut s.oauth.google;
        google.client_id = CLIENT_ID.into();
        google.client_secret = CLIENT_SECRET.into();
        google.authorize_url = url("/authorize");
        google.token_url = url("/token");
        google.userinfo_url = url("/google/userinfo");
    }

    /// The next visit to /authorize is `person`, who approves.
    pub fn approve_as(&self, person: Person) {
        let mut inner = self.inner.lock().expect("lock");
        inner.person = Some(person);
        inner.fault = None;
    }

    pub fn fail_with(&self, fault: Fault) {
        self.inner.lock().expect("lock").fault = Some(fault);
    }

    /// What the provider saw, in order ("authorize github-scopes", "token pkce-ok", …).
    pub fn events(&self) -> Vec<String> {
        self.inner.lock().expect("lock").events.clone()
    }

    /// Codes, tokens, verifiers and the client secret: none may appear in the app's logs.
    pub fn secrets(&self) -> Vec<String> {
        let inner = self.inner.lock().expect("lock");
        let mut all = inner.secrets.clone();
        all.push(CLIENT_SECRET.into());
        all
    }
}

fn fault(inner: &web::Data<Mutex<Inner>>) -> Fault {
    inner.lock().expect("lock").fault.unwrap_or(Fault::None)
}

/// Misbehave as the test asked, if it asked for `endpoint`: an error response, or a delay.
async fn misbehave(inner: &web::Data<Mutex<Inner>>, endpoint: Endpoint) -> Option<HttpResponse> {
    match fault(inner) {
        Fault::Fails(e) if e == endpoint => Some(match endpoint {
            Endpoint::Token => HttpResponse::InternalServerError().body("<h1>oops</h1>"),
            Endpoint::User => HttpResponse::BadGateway().body("upstream trouble"),
            Endpoint::Emails => HttpResponse::InternalServerError().finish(),
        }),
        Fault::Hangs(e) if e == endpoint => {
            tokio::time::sleep(HANG).await;
            None
        }
        _ => None,
    }
}

fn random() -> String {
    uuid::Uuid::new_v4().simple().to_string()
}

#[derive(Deserialize)]
struct AuthorizeQuery {
    response_type: String,
    client_id: String,
    redirect_uri: String,
    scope: String,
    state: String,
    code_challenge: String,
    code_challenge_method: String,
}

async fn authorize(
    inner: web::Data<Mutex<Inner>>,
    q: Result<web::Query<AuthorizeQuery>, actix_web::Error>,
) -> HttpResponse {
    let Ok(q) = q else {
        return HttpResponse::BadRequest().body("missing authorize parameters");
    };
    if q.response_type != "code" || q.client_id != CLIENT_ID || q.state.is_empty() {
        return HttpResponse::BadRequest().body("bad client_id, response_type or state");
    }
    if q.code_challenge_method != "S256" || q.code_challenge.len() != 43 {
        return HttpResponse::BadRequest().body("PKCE S256 is required");
    }
    let mut inner = inner.lock().expect("lock");
    inner.events.push(format!("authorize scope={}", q.scope));
    let back = |params: &[(&str, &str)]| {
        let mut url = url::Url::parse(&q.redirect_uri).expect("redirect_uri is a URL");
        url.query_pairs_mut().extend_pairs(params);
        HttpResponse::Found()
            .insert_header(("Location", url.to_string()))
            .finish()
    };
    if inner.fault == Some(Fault::Deny) {
        return back(&[("error", "access_denied"), ("state", &q.state)]);
    }
    let Some(person) = inner.person.clone() else {
        return HttpResponse::BadRequest().body("no one is logged in at the provider");
    };
    let code = random();
    inner.secrets.push(code.clone());
    inner.codes.insert(
        code.clone(),
        Grant {
            redirect_uri: q.redirect_uri.clone(),
            challenge: q.code_challenge.clone(),
            person,
        },
    );
    back(&[("code", &code), ("state", &q.state)])
}

#[derive(Deserialize)]
struct TokenForm {
    grant_type: String,
    code: String,
    redirect_uri: String,
    code_verifier: String,
    client_id: String,
    client_secret: String,
}

fn token_error(status: u16, error: &str) -> HttpResponse {
    HttpResponse::build(actix_web::http::StatusCode::from_u16(status).expect("status"))
        .json(json!({ "error": error }))
}

async fn token(
    inner: web::Data<Mutex<Inner>>,
    form: Result<web::Form<TokenForm>, actix_web::Error>,
) -> HttpResponse {
    if let Some(res) = misbehave(&inner, Endpoint::Token).await {
        return res;
    }
    if fault(&inner) == Fault::RejectsCode {
        return token_error(400, "invalid_grant");
    }
    let Ok(form) = form else {
        return token_error(400, "invalid_request");
    };
    let mut inner = inner.lock().expect("lock");
    inner.secrets.push(form.code_verifier.clone());
    if form.client_id != CLIENT_ID || form.client_secret != CLIENT_SECRET {
        return token_error(401, "invalid_client");
    }
    if form.grant_type != "authorization_code" {
        return token_error(400, "unsupported_grant_type");
    }
    // Single use: a replayed code finds nothing.
    let Some(grant) = inner.codes.remove(&form.code) else {
        return token_error(400, "invalid_grant");
    };
    if grant.redirect_uri != form.redirect_uri {
        return token_error(400, "invalid_grant");
    }
    let proof = URL_SAFE_NO_PAD.encode(Sha256::digest(form.code_verifier.as_bytes()));
    if proof != grant.challenge {
        inner.events.push("token pkce-mismatch".into());
        return token_error(400, "invalid_grant");
    }
    inner.events.push("token pkce-ok".into());
    let access = format!("at-{}", random());
    inner.secrets.push(access.clone());
    inner.tokens.insert(access.clone(), grant.person);
    HttpResponse::Ok().json(json!({
        "access_token": access,
        "token_type": "Bearer", // as Google writes it; GitHub sends "bearer"
        "expires_in": 3600,
    }))
}

/// Why a user endpoint refused a request.
enum Refusal {
    NoUserAgent,
    BadToken,
}

impl From<Refusal> for HttpResponse {
    fn from(r: Refusal) -> Self {
        match r {
            Refusal::NoUserAgent => HttpResponse::Forbidden().body("a User-Agent is required"),
            Refusal::BadToken => {
                HttpResponse::Unauthorized().json(json!({ "message": "Bad credentials" }))
            }
        }
    }
}

/// The person behind the request's bearer token; GitHub also insists on a User-Agent.
fn bearer(inner: &web::Data<Mutex<Inner>>, req: &HttpRequest) -> Result<Person, Refusal> {
    if req.headers().get("user-agent").is_none() {
        return Err(Refusal::NoUserAgent);
    }
    let token = req
        .headers()
        .get("authorization")
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.strip_prefix("Bearer "))
        .unwrap_or_default();
    let inner = inner.lock().expect("lock");
    inner.tokens.get(token).cloned().ok_or(Refusal::BadToken)
}

/// A user endpoint: the test's fault if any, then the bearer check, then `body` for the
/// person the token was issued to (noting `event`).
async fn user_endpoint(
    inner: web::Data<Mutex<Inner>>,
    req: HttpRequest,
    endpoint: Endpoint,
    event: &str,
    body: impl FnOnce(&Person) -> serde_json::Value,
) -> HttpResponse {
    if let Some(res) = misbehave(&inner, endpoint).await {
        return res;
    }
    match bearer(&inner, &req) {
        Ok(person) => {
            inner.lock().expect("lock").events.push(event.into());
            HttpResponse::Ok().json(body(&person))
        }
        Err(refusal) => refusal.into(),
    }
}

async fn github_user(inner: web::Data<Mutex<Inner>>, req: HttpRequest) -> HttpResponse {
    user_endpoint(inner, req, Endpoint::User, "github user", |p| {
        json!({
            "id": p.id.parse::<u64>().expect("GitHub ids are numbers"),
            "login": p.login,
            "name": p.name,
            "email": null,
            "avatar_url": format!("https://avatars.example.com/u/{}", p.id),
        })
    })
    .await
}

async fn github_emails(inner: web::Data<Mutex<Inner>>, req: HttpRequest) -> HttpResponse {
    // A verified secondary address first: only the primary one may be used.
    user_endpoint(inner, req, Endpoint::Emails, "github emails", |p| {
        json!([
            { "email": format!("old-{}@example.org", p.login), "primary": false, "verified": true, "visibility": null },
            { "email": p.email, "primary": true, "verified": p.verified, "visibility": "private" },
        ])
    })
    .await
}

async fn google_userinfo(inner: web::Data<Mutex<Inner>>, req: HttpRequest) -> HttpResponse {
    user_endpoint(inner, req, Endpoint::User, "google userinfo", |p| {
        json!({
            "sub": p.id,
            "email": p.email,
            "email_verified": p.verified,
            "name": p.name,
            "picture": format!("https://lh3.example.com/{}", p.id),
        })
    })
    .await
}
