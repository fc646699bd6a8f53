//! RabbitMQ over AMQP 0-9-1 (lapin): events go to the durable topic exchange `quire.events`,
//! the event as the routing key (`post.published`), as persistent JSON messages, each one
//! confirmed by the broker (publisher confirms) before it counts as sent.
//!
//! One connection and channel per instance, kept between jobs and made again when broken:
//! the exchange is declared (durable, so it outlives broker restarts) and confirms are turned
//! on each time one is made.

use std::time::Duration;

use anyhow::Context as _;
use lapin::{
    BasicProperties, Channel, Connection, ConnectionProperties, ExchangeKind,
    options::{BasicPublishOptions, ConfirmSelectOptions, ExchangeDeclareOptions},
    types::FieldTable,
};
use secrecy::{ExposeSecret, SecretString};
use tokio::sync::Mutex;

use super::{Publisher, repo::Waiting};
use crate::config::EventsSettings;

/// The exchange events are published to.
pub const EXCHANGE: &str = "quire.events";

/// RabbitMQ, as the publishing job reaches it.
pub struct Amqp {
    url: SecretString,
    timeout: Duration,
    link: Mutex<Option<Link>>,
}

/// A connection and its channel, confirms on.
struct Link {
    // Kept: dropping it closes the connection.
    _connection: Connection,
    channel: Channel,
}

impl Amqp {
    /// The client `settings` configure; `None` without `events.amqp_url`. Connects when first
    /// used.
    pub fn new(settings: &EventsSettings) -> Option<Self> {
        Some(Self {
            url: settings.amqp()?.clone(),
            timeout: Duration::from_secs(settings.timeout_secs),
            link: Mutex::new(None),
        })
    }

    async fn connect(&self) -> anyhow::Result<Link> {
        let properties = ConnectionProperties::default().with_connection_name("quire".into());
        // lapin's errors name the host, never the URL's password.
        let connection = Connection::connect(self.url.expose_secret().trim(), properties)
            .await
            .context("could not connect to RabbitMQ")?;
        let channel = connection.create_channel().await?;
        channel
            .exchange_declare(
                EXCHANGE.into(),
                ExchangeKind::Topic,
                ExchangeDeclareOptions {
                    durable: true,
                    ..ExchangeDeclareOptions::default()
                },
                FieldTable::default(),
            )
            .await
            .with_context(|| format!("could not declare the exchange {EXCHANGE}"))?;
        channel
            .confirm_select(ConfirmSelectOptions::default())
            .await?;
        Ok(Link {
            _connection: connection,
            channel,
        })
    }

    async fn send(&self, channel: &Channel, message: &Waiting) -> anyhow::Result<()> {
        let body = serde_json::to_vec(&message.payload)?;
        let properties = BasicProperties::default()
            .with_delivery_mode(2) // persistent: written to disk by durable queues
            .with_content_type("application/json".into())
            .with_message_id(message.message_id.as_str().into())
            .with_type(message.event.as_str().into())
            .with_timestamp(u64::try_from(message.created_at.unix_timestamp()).unwrap_or(0))
            .with_app_id("quire".into());
        let confirmation = channel
            .basic_publish(
                EXCHANGE.into(),
                message.event.as_str().into(),
                BasicPublishOptions::default(),
                &body,
                properties,
            )
            .await?
            .await?;
        anyhow::ensure!(
            confirmation.is_ack(),
            "RabbitMQ refused the message (a negative confirm)"
        );
        Ok(())
    }
}

impl Publisher for Amqp {
    async fn publish(&self, message: &Waiting) -> anyhow::Result<()> {
        let mut link = self.link.lock().await;
        if !link
            .as_ref()
            .is_some_and(|l| l.channel.status().connected())
        {
            // A broken link is dropped (closing what is left of it) before another is made.
            *link = None;
            let made = tokio::time::timeout(self.timeout, self.connect())
                .await
                .map_err(|_| {
                    anyhow::anyhow!("RabbitMQ did not answer within {:?}", self.timeout)
                })??;
            *link = Some(made);
        }
        let Some(Link { channel, .. }) = link.as_ref() else {
            unreachable!("a link was just made");
        };
        let sent = tokio::time::timeout(self.timeout, self.send(channel, message)).await;
        let result = match sent {
            Ok(result) => result,
            Err(_) => Err(anyhow::anyhow!(
                "RabbitMQ did not confirm within {:?}",
                self.timeout
            )),
        };
        if result.is_err() {
            // Whatever became of that message, the next attempt starts on a fresh channel.
            *link = None;
        }
        result
    }
}
