//! NATS JetStream (async-nats): events go to the subject `quire.events.<event>`
//! (`quire.events.post.published`), kept by the stream `QUIRE_EVENTS`, each one acknowledged
//! by JetStream (a PubAck: stored) before it counts as sent. Each message carries its id in
//! `Nats-Msg-Id`, so the stream drops a repeat that comes within its duplicate window.
//!
//! The stream is made when missing (file storage, the subjects `quire.events.>`, kept a week,
//! a two-minute duplicate window); one that exists is left as its operator set it. One client
//! per instance, kept between jobs (it reconnects by itself) and made again after a failure.

use std::time::Duration;

use anyhow::Context as _;
use async_nats::jetstream::{self, message::PublishMessage, stream};
use secrecy::{ExposeSecret, SecretString};
use tokio::sync::Mutex;

use super::{Publisher, repo::Waiting};
use crate::config::EventsSettings;

/// The stream events are kept in, and its subjects.
pub const STREAM: &str = "QUIRE_EVENTS";
pub const SUBJECTS: &str = "quire.events.>";

/// The subject of `event`.
pub fn subject(event: &str) -> String {
    format!("quire.events.{event}")
}

/// The stream Quire makes when it is missing: on disk, every event's subject, each message
/// kept a week, repeats dropped within two minutes (NATS's default window).
pub fn stream_config() -> stream::Config {
    stream::Config {
        name: STREAM.to_owned(),
        subjects: vec![SUBJECTS.to_owned()],
        storage: stream::StorageType::File,
        max_age: Duration::from_secs(7 * 24 * 3600),
        duplicate_window: Duration::from_secs(120),
        ..stream::Config::default()
    }
}

/// NATS, as the publishing job reaches it.
pub struct Nats {
    url: SecretString,
    timeout: Duration,
    link: Mutex<Option<jetstream::Context>>,
}

impl Nats {
    /// The client `settings` configure; `None` without `events.nats_url`. Connects when first
    /// used.
    pub fn new(settings: &EventsSettings) -> Option<Self> {
        Some(Self {
            url: settings.nats()?.clone(),
            timeout: Duration::from_secs(settings.timeout_secs),
            link: Mutex::new(None),
        })
    }

    async fn connect(&self) -> anyhow::Result<jetstream::Context> {
        // A user and password in the URL are used to log in; its errors never show them.
        let client = async_nats::ConnectOptions::new()
            .name("quire")
            .connection_timeout(self.timeout)
            .connect(self.url.expose_secret().trim())
            .await
            .context("could not connect to NATS")?;
        let js = jetstream::ContextBuilder::new()
            .timeout(self.timeout)
            .build(client);
        js.get_or_create_stream(stream_config())
            .await
            .with_context(|| format!("could not find or make the JetStream stream {STREAM}"))?;
        Ok(js)
    }

    async fn send(&self, js: &jetstream::Context, message: &Waiting) -> anyhow::Result<()> {
        let body = serde_json::to_vec(&message.payload)?;
        let ack = js
            .send_publish(
                subject(&message.event),
                PublishMessage::build()
                    .payload(body.into())
                    .message_id(&message.message_id),
            )
            .await?
            .await?;
        if ack.duplicate {
            tracing::debug!(id = message.message_id, "NATS had this event already");
        }
        Ok(())
    }
}

impl Publisher for Nats {
    async fn publish(&self, message: &Waiting) -> anyhow::Result<()> {
        let mut link = self.link.lock().await;
        let js = match link.as_ref() {
            Some(js) => js.clone(),
            None => {
                let made = tokio::time::timeout(self.timeout * 2, self.connect())
                    .await
                    .map_err(|_| {
                        anyhow::anyhow!("NATS did not answer within {:?}", self.timeout)
                    })??;
                *link = Some(made.clone());
                made
            }
        };
        let result = self.send(&js, message).await;
        if result.is_err() {
            // The next attempt starts with a new client (this one may be reconnecting to a
            // server that moved, or holding a stream that went).
            *link = None;
        }
        result
    }
}
