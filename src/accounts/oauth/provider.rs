//! The OAuth 2.0 side of "Continue with GitHub/Google": the authorization URL (PKCE S256 and
//! a random state), the code exchange, and reading who logged in. No database, no session:
//! the access token is used for the user lookups and then dropped, never stored.

use oauth2::{
    AuthType, AuthUrl, AuthorizationCode, ClientId, ClientSecret, CsrfToken, EndpointNotSet,
    EndpointSet, HttpClientError, PkceCodeChallenge, PkceCodeVerifier, RedirectUrl,
    RequestTokenError, Scope, TokenResponse, TokenUrl,
    basic::{BasicClient, BasicErrorResponse},
};
use reqwest::header;
use secrecy::{ExposeSecret, SecretString};
use serde::{Deserialize, de::DeserializeOwned};
use url::Url;

use crate::{
    accounts::model::{Provider, ProviderAccount},
    config::Settings,
};

type OAuthClient =
    BasicClient<EndpointSet, EndpointNotSet, EndpointNotSet, EndpointNotSet, EndpointSet>;

/// One enabled provider: its OAuth client and where to read the user.
struct Client {
    provider: Provider,
    oauth: OAuthClient,
    scopes: &'static [&'static str],
    /// GitHub: `/user`. Google: OpenID Connect userinfo.
    user_url: Url,
    /// GitHub only: `/user/emails`, which says which address is primary and verified.
    emails_url: Option<Url>,
}

/// The providers this site has credentials for, and one HTTP client for talking to them.
pub struct Providers {
    http: reqwest::Client,
    clients: Vec<Client>,
}

/// Where a login goes first, and what its callback must find again.
pub struct Authorization {
    pub url: Url,
    pub state: String,
    pub verifier: String,
}

/// Why a call to a provider failed, worded for the log and the page (no codes or tokens).
#[derive(Debug, thiserror::Error)]
pub enum Upstream {
    #[error("did not answer in time")]
    TimedOut,
    #[error("could not be reached")]
    Unreachable,
    #[error("answered with HTTP status {0}")]
    Status(u16),
    #[error("refused the sign-in ({0})")]
    Refused(String),
    #[error("sent a response we could not read")]
    Unreadable,
}

impl From<reqwest::Error> for Upstream {
    fn from(e: reqwest::Error) -> Self {
        if e.is_timeout() {
            Self::TimedOut
        } else if let Some(status) = e.status() {
            Self::Status(status.as_u16())
        } else if e.is_decode() {
            Self::Unreadable
        } else {
            Self::Unreachable
        }
    }
}

type TokenError = RequestTokenError<HttpClientError<reqwest::Error>, BasicErrorResponse>;

impl From<TokenError> for Upstream {
    fn from(e: TokenError) -> Self {
        match e {
            RequestTokenError::ServerResponse(r) => {
                Self::Refused(r.error().as_ref().chars().take(64).collect())
            }
            RequestTokenError::Request(HttpClientError::Reqwest(e)) => (*e).into(),
            RequestTokenError::Request(_) => Self::Unreachable,
            // The body may hold anything, even a token: never logged, never shown.
            RequestTokenError::Parse(..) | RequestTokenError::Other(_) => Self::Unreadable,
        }
    }
}

fn oauth_client(
    id: &str,
    secret: &SecretString,
    authorize: &Url,
    token: &Url,
    redirect: String,
) -> anyhow::Result<OAuthClient> {
    Ok(BasicClient::new(ClientId::new(id.to_owned()))
        .set_client_secret(ClientSecret::new(secret.expose_secret().to_owned()))
        .set_auth_uri(AuthUrl::from_url(authorize.clone()))
        .set_token_uri(TokenUrl::from_url(token.clone()))
        .set_redirect_uri(RedirectUrl::new(redirect)?)
        // client_secret_post: what GitHub documents, and Google accepts.
        .set_auth_type(AuthType::RequestBody))
}

/// The providers this site has credentials for, in a fixed order (GitHub, then Google):
/// what the pages offer. Read from the configuration, as `Providers::new` does.
pub fn enabled(settings: &Settings) -> Vec<Provider> {
    let github = matches!(settings.oauth.github.credentials(), Ok(Some(_)));
    let google = matches!(settings.oauth.google.credentials(), Ok(Some(_)));
    [(github, Provider::GitHub), (google, Provider::Google)]
        .into_iter()
        .filter_map(|(on, p)| on.then_some(p))
        .collect()
}

impl Providers {
    pub fn new(settings: &Settings) -> anyhow::Result<Self> {
        let http = reqwest::Client::builder()
            // oauth2's advice: following redirects from a token endpoint invites SSRF.
            .redirect(reqwest::redirect::Policy::none())
            .timeout(settings.oauth.timeout())
            // GitHub's API refuses requests without a User-Agent.
            .user_agent(concat!("Quire/", env!("CARGO_PKG_VERSION")))
            .build()?;
        let base = settings.http.base();
        let callback = |p: Provider| format!("{base}/auth/{}/callback", p.slug());
        let mut clients = Vec::new();
        let github = &settings.oauth.github;
        if let Some((id, secret)) = github.credentials()? {
            clients.push(Client {
                provider: Provider::GitHub,
                oauth: oauth_client(
                    id,
                    secret,
                    &github.authorize_url,
                    &github.token_url,
                    callback(Provider::GitHub),
                )?,
                scopes: &["read:user", "user:email"],
                user_url: github.user_url.clone(),
                emails_url: Some(github.emails_url.clone()),
            });
        }
        let google = &settings.oauth.google;
        if let Some((id, secret)) = google.credentials()? {
            clients.push(Client {
                provider: Provider::Google,
                oauth: oauth_client(
                    id,
                    secret,
                    &google.authorize_url,
                    &google.token_url,
                    callback(Provider::Google),
                )?,
                scopes: &["openid", "email", "profile"],
                user_url: google.userinfo_url.clone(),
                emails_url: None,
            });
        }
        Ok(Self { http, clients })
    }

    /// The providers with credentials, in a fixed order (GitHub, then Google).
    pub fn enabled(&self) -> Vec<Provider> {
        self.clients.iter().map(|c| c.provider).collect()
    }

    fn client(&self, provider: Provider) -> Option<&Client> {
        self.clients.iter().find(|c| c.provider == provider)
    }

    /// Start a login: the provider's authorize URL with a fresh state and PKCE challenge.
    /// `None` if the provider is not enabled.
    pub fn authorize(&self, provider: Provider) -> Option<Authorization> {
        let client = self.client(provider)?;
        let (challenge, verifier) = PkceCodeChallenge::new_random_sha256();
        let (url, state) = client
            .oauth
            .authorize_url(CsrfToken::new_random)
            .add_scopes(client.scopes.iter().map(|s| Scope::new((*s).to_owned())))
            .set_pkce_challenge(challenge)
            .url();
        Some(Authorization {
            url,
            state: state.secret().clone(),
            verifier: verifier.secret().clone(),
        })
    }

    /// Finish a login: exchange `code` (proving the PKCE `verifier`), then read the account.
    pub async fn account(
        &self,
        provider: Provider,
        code: String,
        verifier: String,
    ) -> Result<ProviderAccount, Upstream> {
        let client = self.client(provider).ok_or(Upstream::Unreachable)?;
        let token = client
            .oauth
            .exchange_code(AuthorizationCode::new(code))
            .set_pkce_verifier(PkceCodeVerifier::new(verifier))
            .request_async(&self.http)
            .await?;
        let token = token.access_token().secret();
        match client.emails_url.as_ref() {
            Some(emails_url) => self.github_account(client, emails_url, token).await,
            None => self.google_account(client, token).await,
        }
    }

    async fn get_json<T: DeserializeOwned>(&self, url: &Url, token: &str) -> Result<T, Upstream> {
        let res = self
            .http
            .get(url.clone())
            .bearer_auth(token)
            .header(header::ACCEPT, "application/json")
            .send()
            .await?
            .error_for_status()?;
        res.json().await.map_err(|_| Upstream::Unreadable)
    }

    /// GitHub: `/user` for the id and login, `/user/emails` for the primary address and
    /// whether GitHub has verified it.
    async fn github_account(
        &self,
        client: &Client,
        emails_url: &Url,
        token: &str,
    ) -> Result<ProviderAccount, Upstream> {
        #[derive(Deserialize)]
        struct User {
            id: u64,
            login: String,
            #[serde(default)]
            name: Option<String>,
            #[serde(default)]
            avatar_url: Option<String>,
        }
        #[derive(Deserialize)]
        struct GithubEmail {
            email: String,
            #[serde(default)]
            primary: bool,
            #[serde(default)]
            verified: bool,
        }
        let user: User = self.get_json(&client.user_url, token).await?;
        let emails: Vec<GithubEmail> = self.get_json(emails_url, token).await?;
        let primary = emails.into_iter().find(|e| e.primary);
        Ok(ProviderAccount {
            id: user.id.to_string(),
            login: user.login,
            name: user.name.unwrap_or_default(),
            email_verified: primary.as_ref().is_some_and(|e| e.verified),
            email: primary.map(|e| e.email),
            avatar_url: user.avatar_url,
        })
    }

    /// Google (OpenID Connect): the userinfo endpoint's `sub`, `email` and `email_verified`.
    async fn google_account(
        &self,
        client: &Client,
        token: &str,
    ) -> Result<ProviderAccount, Upstream> {
        #[derive(Deserialize)]
        struct UserInfo {
            sub: String,
            #[serde(default)]
            email: Option<String>,
            #[serde(default)]
            email_verified: bool,
            #[serde(default)]
            name: Option<String>,
            #[serde(default)]
            picture: Option<String>,
        }
        let info: UserInfo = self.get_json(&client.user_url, token).await?;
        if info.sub.is_empty() || info.sub.len() > 255 {
            return Err(Upstream::Unreadable);
        }
        // Google has no usernames: the email's local part suggests one.
        let login = info
            .email
            .as_deref()
            .and_then(|e| e.split('@').next())
            .unwrap_or_default()
            .to_owned();
        Ok(ProviderAccount {
            id: info.sub,
            login,
            name: info.name.unwrap_or_default(),
            email: info.email,
            email_verified: info.email_verified,
            avatar_url: info.picture,
        })
    }
}
