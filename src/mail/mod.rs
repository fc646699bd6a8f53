//! Email over SMTP (lettre). Messages are made from askama templates, text and HTML, in the
//! site's style, and sent by the job runner, never inside a request: a job that sends keeps
//! its own record of what went (so a retry after a crash sends nothing twice that it knows
//! went), and an SMTP refusal (5xx) fails the job at once while anything else is retried.

use std::time::Duration;

use anyhow::Context;
use askama::Template;
use lettre::{
    AsyncSmtpTransport, AsyncTransport, Message, Tokio1Executor,
    message::{
        Mailbox, MultiPart,
        header::{HeaderName, HeaderValue},
    },
    transport::smtp::authentication::Credentials,
};
use secrecy::ExposeSecret;

use crate::{
    config::{MailSettings, MailTls},
    jobs::Permanent,
};

/// One message to send.
#[derive(Debug, Clone)]
pub struct Email {
    pub to: Mailbox,
    pub subject: String,
    pub text: String,
    pub html: String,
    /// One-click unsubscribe (RFC 8058): the URL a mail client POSTs to.
    pub unsubscribe: Option<String>,
    /// A stable id (`<…@host>`), so a message sent twice after a crash is recognisably one.
    pub message_id: Option<String>,
}

impl Email {
    /// An email from a pair of templates: `text` (plain, `.txt`) and `html`.
    pub fn render(
        to: Mailbox,
        subject: impl Into<String>,
        text: &impl Template,
        html: &impl Template,
    ) -> anyhow::Result<Self> {
        Ok(Self {
            to,
            subject: subject.into(),
            text: text.render()?,
            html: html.render()?,
            unsubscribe: None,
            message_id: None,
        })
    }
}

/// The SMTP connection pool, or nothing when `mail.smtp_host` is empty.
pub struct Mailer {
    transport: Option<AsyncSmtpTransport<Tokio1Executor>>,
    from: Mailbox,
}

impl Mailer {
    pub fn new(settings: &MailSettings) -> anyhow::Result<Self> {
        let from: Mailbox = settings
            .from
            .parse()
            .with_context(|| format!("mail.from: {:?} is not an address", settings.from))?;
        if !settings.is_configured() {
            return Ok(Self {
                transport: None,
                from,
            });
        }
        let host = settings.smtp_host.trim();
        let builder = match settings.tls {
            MailTls::None => AsyncSmtpTransport::<Tokio1Executor>::builder_dangerous(host),
            MailTls::Starttls => AsyncSmtpTransport::<Tokio1Executor>::starttls_relay(host)?,
            MailTls::Tls => AsyncSmtpTransport::<Tokio1Executor>::relay(host)?,
        };
        let mut builder = builder
            .port(settings.smtp_port)
            .timeout(Some(Duration::from_secs(settings.timeout_secs)));
        if !settings.username.is_empty() {
            builder = builder.credentials(Credentials::new(
                settings.username.clone(),
                settings.password.expose_secret().to_owned(),
            ));
        }
        Ok(Self {
            transport: Some(builder.build()),
            from,
        })
    }

    pub fn is_configured(&self) -> bool {
        self.transport.is_some()
    }

    /// Send `email`. A refusal by the server (5xx: no such mailbox, not allowed) is
    /// `Permanent`; an unreachable or busy server is an error worth retrying.
    pub async fn send(&self, email: Email) -> anyhow::Result<()> {
        let transport = self
            .transport
            .as_ref()
            .ok_or_else(|| Permanent("no SMTP server is configured (mail.smtp_host)".into()))?;
        let message = self.message(email)?;
        match transport.send(message).await {
            Ok(_) => Ok(()),
            Err(e) if e.is_permanent() => {
                Err(Permanent(format!("the mail server refused it: {e}")).into())
            }
            Err(e) => Err(anyhow::Error::new(e).context("sending through SMTP")),
        }
    }

    fn message(&self, email: Email) -> anyhow::Result<Message> {
        // Whoever made the mailbox, its name goes out clean: lettre panics on a line break in
        // a display name (issue 24), and a name is never worth failing a message for.
        let to = Mailbox::new(
            email.to.name.as_deref().and_then(display_name),
            email.to.email,
        );
        let mut builder = Message::builder()
            .from(self.from.clone())
            .to(to)
            .subject(email.subject)
            .message_id(email.message_id);
        if let Some(url) = email.unsubscribe {
            builder = builder
                .raw_header(HeaderValue::new(
                    HeaderName::new_from_ascii_str("List-Unsubscribe"),
                    format!("<{url}>"),
                ))
                .raw_header(HeaderValue::new(
                    HeaderName::new_from_ascii_str("List-Unsubscribe-Post"),
                    "List-Unsubscribe=One-Click".into(),
                ));
        }
        builder
            .multipart(MultiPart::alternative_plain_html(email.text, email.html))
            .map_err(|e| Permanent(format!("the message could not be made: {e}")).into())
    }
}

/// How a form that mails an address (a reset link, a subscription) was answered: the same
/// whether or not anything was sent, so nobody learns which addresses are known.
pub enum Asked {
    Done,
    TooMany { wait_secs: u64 },
}

/// The two limits on a form that mails an address (a reset link, a subscription), per hour
/// and shared by every instance: one client, and one address (however it is capitalised).
pub struct AddressLimits {
    pub client: &'static str,
    pub address: &'static str,
    pub per_client: u32,
    pub per_address: u32,
}

impl AddressLimits {
    /// Count this request against both; `Some(seconds to wait)` if it is over either.
    pub async fn over(
        &self,
        state: &crate::state::AppState,
        ip: std::net::IpAddr,
        address: &str,
    ) -> redis::RedisResult<Option<u64>> {
        let hour = Duration::from_secs(3600);
        let client = state.limiter(self.client, self.per_client, hour);
        let mailbox = state.limiter(self.address, self.per_address, hour);
        let address = address.trim().to_lowercase();
        Ok(client
            .over(&ip.to_string())
            .await?
            .max(mailbox.over(&address).await?))
    }
}

/// `name <address>`: the name without control characters or line breaks (`display_name`), so
/// it can't add a header or stop the message; an address that doesn't parse is refused.
pub fn mailbox(name: &str, address: &str) -> anyhow::Result<Mailbox> {
    let address = address
        .trim()
        .parse()
        .map_err(|e| Permanent(format!("{address:?} is not an address: {e}")))?;
    Ok(Mailbox::new(display_name(name), address))
}

/// A display name fit for a header: control characters (CR and LF among them) and Unicode
/// line breaks become spaces, runs of spaces one; `None` when nothing is left. Input refuses
/// such names, but rows saved before it did, or changed by SQL, may still hold them.
fn display_name(name: &str) -> Option<String> {
    let clean = name
        .split(|c: char| c.is_control() || c.is_whitespace())
        .filter(|word| !word.is_empty())
        .collect::<Vec<_>>()
        .join(" ");
    (!clean.is_empty()).then_some(clean)
}

/// What every email's layout shows: the site it is from.
#[derive(Debug, Clone)]
pub struct Site {
    pub title: String,
    pub base_url: String,
    pub accent: String,
}

impl Site {
    /// The site's title and accent as saved now (the worker may be another process).
    pub async fn load(db: &sqlx::PgPool, base_url: &str) -> anyhow::Result<Self> {
        let saved = crate::settings::repo::load(db).await?;
        let (title, accent) = saved
            .map(|s| (s.title, s.accent_color))
            .unwrap_or_else(|| ("Quire".into(), String::new()));
        Ok(Self {
            title,
            base_url: base_url.trim_end_matches('/').to_owned(),
            accent: if accent.is_empty() {
                "#b5442c".into()
            } else {
                accent
            },
        })
    }

    pub fn url(&self, path: &str) -> String {
        format!("{}{path}", self.base_url)
    }
}

/// `quire mail test ADDRESS`: one message, sent now (not queued), to check the settings.
#[derive(Template)]
#[template(path = "mail/test.txt")]
struct TestText<'a> {
    site: &'a Site,
}

#[derive(Template)]
#[template(path = "mail/test.html")]
struct TestHtml<'a> {
    site: &'a Site,
}

pub async fn send_test(mailer: &Mailer, site: &Site, to: &str) -> anyhow::Result<()> {
    let to: Mailbox = to
        .parse()
        .with_context(|| format!("{to:?} is not an email address"))?;
    let email = Email::render(
        to,
        format!("A test message from {}", site.title),
        &TestText { site },
        &TestHtml { site },
    )?;
    mailer.send(email).await
}

#[cfg(test)]
mod tests {
    use super::*;

    fn mailer() -> Mailer {
        Mailer {
            transport: None,
            from: "Quire <blog@quire.test>".parse().expect("a test address"),
        }
    }

    fn email(to: Mailbox) -> Email {
        Email {
            to,
            subject: "Hello".into(),
            text: "text".into(),
            html: "<p>html</p>".into(),
            unsubscribe: None,
            message_id: None,
        }
    }

    #[test]
    fn a_line_break_in_a_display_name_adds_no_header_and_does_not_panic() {
        for name in [
            "Eve\r\nBcc: x@evil.test",
            "Eve\nBcc: x@evil.test",
            "Eve\rBcc: x@evil.test",
            "Eve\0\u{7}\u{85}\u{2028}",
            "\r\n",
        ] {
            let to = mailbox(name, "eve@example.com").expect("a good address");
            let message = mailer().message(email(to)).expect("a message");
            let formatted = String::from_utf8(message.formatted()).expect("utf-8");
            let headers = formatted.split("\r\n\r\n").next().unwrap_or_default();
            // A header line, not the letters: a random Message-ID or boundary may hold "Bcc"
            // (one did, once, in CI).
            assert!(
                !headers
                    .lines()
                    .any(|l| l.to_ascii_lowercase().starts_with("bcc:")),
                "{name:?}: {headers}"
            );
            assert!(
                headers
                    .lines()
                    .any(|l| l.starts_with("To: ") && l.contains("<eve@example.com>")
                        || l == "To: eve@example.com"),
                "{name:?}: {headers}"
            );
        }
        // A mailbox made elsewhere, with the name as it came.
        let raw = Mailbox::new(
            Some("Eve\r\nBcc: x@evil.test".into()),
            "eve@example.com".parse().expect("an address"),
        );
        assert!(mailer().message(email(raw)).is_ok());
    }
}
