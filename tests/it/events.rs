//! Quire's events on message brokers (issue 30, README "Events"), against the real servers
//! on this machine: RabbitMQ at 127.0.0.1:5672 and NATS with JetStream at 127.0.0.1:4222
//! (`.ci/run` starts them), and a NATS server of the test's own where one is restarted.
//! Every event reaches both with the JSON a webhook gets, in order per post; a broker
//! restarted mid-stream loses nothing, and the events waiting show meanwhile; without a
//! broker nothing is recorded for one.
//!
//! Each test reads only its own app's messages: a queue of its own bound to `quire.events`,
//! and NATS messages whose URLs are its app's. They run one at a time (nextest's `brokers`
//! group): one stops RabbitMQ's application for a while.

use std::{
    collections::{BTreeSet, HashMap},
    sync::{Arc, Mutex},
    time::Duration,
};

use async_nats::jetstream::{
    self,
    consumer::{AckPolicy, DeliverPolicy, pull},
};
use futures_util::StreamExt;
use lapin::{
    Connection, ConnectionProperties, ExchangeKind,
    options::{
        BasicAckOptions, BasicConsumeOptions, ExchangeDeclareOptions, QueueBindOptions,
        QueueDeclareOptions, QueueDeleteOptions,
    },
    types::{AMQPValue, FieldTable},
};
use quire::accounts::model::Role;
use reqwest::StatusCode;
use time::OffsetDateTime;

use crate::{
    harness::{PostSpec, TestApp, eventually, spawn_app_with},
    webhooks::{Receiver, register},
};

const AMQP: &str = "amqp://guest:guest@127.0.0.1:5672/%2f";
const NATS: &str = "nats://127.0.0.1:4222";

/// An app publishing to the brokers given, quick to retry.
async fn app_with(amqp: Option<&str>, nats: Option<&str>) -> TestApp {
    let (amqp, nats) = (amqp.unwrap_or("").to_owned(), nats.unwrap_or("").to_owned());
    spawn_app_with(move |s| {
        s.events.amqp_url = amqp.into();
        s.events.nats_url = nats.into();
        s.events.timeout_secs = 2;
        s.webhooks.allow_private = true;
        s.webhooks.timeout_secs = 1;
        s.jobs.backoff_base_ms = 20;
        s.jobs.backoff_max_secs = 1;
    })
    .await
}

/// A message as a consumer got it, from either broker.
#[derive(Debug, Clone)]
struct Message {
    /// The routing key, or the subject.
    key: String,
    /// The `message_id` property, or the `Nats-Msg-Id` header.
    id: String,
    body: serde_json::Value,
    /// AMQP's properties: content type, delivery mode, type, timestamp.
    amqp: Option<(String, u8, String, u64)>,
}

impl Message {
    fn event(&self) -> &str {
        self.body["event"].as_str().unwrap_or_default()
    }

    /// Whether `app` sent it: every event's data has a URL on its site.
    fn from(&self, app: &TestApp) -> bool {
        self.body["data"]["url"]
            .as_str()
            .is_some_and(|u| u.starts_with(&format!("{}/", app.base)))
    }
}

/// A durable queue of the test's own, bound to `quire.events` for every event before the app
/// publishes, and a consumer that records what it gets (reconnecting after a broker restart;
/// what it got but had not acknowledged then comes again).
struct AmqpQueue {
    name: String,
    got: Arc<Mutex<Vec<Message>>>,
    consumer: tokio::task::JoinHandle<()>,
}

impl AmqpQueue {
    async fn bind() -> Self {
        let name = format!("quire-test-{}", uuid::Uuid::new_v4().simple());
        let (_connection, _channel) = open_queue(&name).await.expect("the test queue");
        let got = Arc::new(Mutex::new(Vec::new()));
        let consumer = tokio::spawn(consume(name.clone(), got.clone()));
        Self {
            name,
            got,
            consumer,
        }
    }

    /// What `app` sent that the queue got, in the order it came.
    fn of(&self, app: &TestApp) -> Vec<Message> {
        let got = self.got.lock().unwrap();
        got.iter().filter(|m| m.from(app)).cloned().collect()
    }

    /// The consumer stopped and the queue deleted.
    async fn delete(self) {
        self.consumer.abort();
        let (_connection, channel) = open_queue(&self.name).await.expect("the test queue");
        channel
            .queue_delete(self.name.as_str().into(), QueueDeleteOptions::default())
            .await
            .expect("queue deleted");
    }
}

/// Connect, and declare the exchange (as Quire does) and the test's queue, bound to it.
async fn open_queue(name: &str) -> lapin::Result<(Connection, lapin::Channel)> {
    let connection = Connection::connect(AMQP, ConnectionProperties::default()).await?;
    let channel = connection.create_channel().await?;
    channel
        .exchange_declare(
            quire::events::amqp::EXCHANGE.into(),
            ExchangeKind::Topic,
            ExchangeDeclareOptions {
                durable: true,
                ..ExchangeDeclareOptions::default()
            },
            FieldTable::default(),
        )
        .await?;
    // Durable, so it outlives a broker restart; gone ten minutes after its last use should
    // the test die before deleting it.
    let mut arguments = FieldTable::default();
    arguments.insert("x-expires".into(), AMQPValue::LongInt(600_000));
    channel
        .queue_declare(
            name.into(),
            QueueDeclareOptions {
                durable: true,
                ..QueueDeclareOptions::default()
            },
            arguments,
        )
        .await?;
    channel
        .queue_bind(
            name.into(),
            quire::events::amqp::EXCHANGE.into(),
            "#".into(),
            QueueBindOptions::default(),
            FieldTable::default(),
        )
        .await?;
    Ok((connection, channel))
}

async fn consume(name: String, got: Arc<Mutex<Vec<Message>>>) {
    loop {
        if let Ok((_connection, channel)) = open_queue(&name).await
            && let Ok(mut consumer) = channel
                .basic_consume(
                    name.as_str().into(),
                    "".into(),
                    BasicConsumeOptions::default(),
                    FieldTable::default(),
                )
                .await
        {
            while let Some(Ok(delivery)) = consumer.next().await {
                let p = &delivery.properties;
                let text = |v: &Option<lapin::types::ShortString>| {
                    v.as_ref()
                        .map(|s| s.as_str().to_owned())
                        .unwrap_or_default()
                };
                got.lock().unwrap().push(Message {
                    key: delivery.routing_key.as_str().to_owned(),
                    id: text(p.message_id()),
                    body: serde_json::from_slice(&delivery.data).unwrap_or_default(),
                    amqp: Some((
                        text(p.content_type()),
                        p.delivery_mode().unwrap_or(0),
                        text(p.kind()),
                        p.timestamp().unwrap_or(0),
                    )),
                });
                let _ = delivery.acker.ack(BasicAckOptions::default()).await;
            }
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
}

/// Every message the JetStream stream at `url` holds since `since` (all of them: `None`),
/// read by a consumer of its own, in the stream's order.
async fn nats_messages(url: &str, since: Option<OffsetDateTime>) -> Vec<Message> {
    let client = async_nats::connect(url).await.expect("NATS");
    let js = jetstream::new(client);
    let stream = js
        .get_or_create_stream(quire::events::nats::stream_config())
        .await
        .expect("the stream");
    let consumer = stream
        .create_consumer(pull::Config {
            deliver_policy: since.map_or(DeliverPolicy::All, |start_time| {
                DeliverPolicy::ByStartTime { start_time }
            }),
            ack_policy: AckPolicy::None,
            inactive_threshold: Duration::from_secs(5),
            ..pull::Config::default()
        })
        .await
        .expect("a consumer");
    let mut all = Vec::new();
    loop {
        let mut batch = consumer
            .fetch()
            .max_messages(500)
            .messages()
            .await
            .expect("a batch");
        let before = all.len();
        while let Some(Ok(m)) = batch.next().await {
            let id = m
                .headers
                .as_ref()
                .and_then(|h| h.get("Nats-Msg-Id"))
                .map(|v| v.as_str().to_owned())
                .unwrap_or_default();
            all.push(Message {
                key: m.subject.to_string(),
                id,
                body: serde_json::from_slice(&m.payload).unwrap_or_default(),
                amqp: None,
            });
        }
        if all.len() == before {
            return all;
        }
    }
}

/// `app`'s messages in the stream at `url` since `since`.
async fn nats_of(app: &TestApp, url: &str, since: Option<OffsetDateTime>) -> Vec<Message> {
    let all = nats_messages(url, since).await;
    all.into_iter().filter(|m| m.from(app)).collect()
}

/// The message ids the app recorded for the brokers.
async fn recorded(app: &TestApp) -> BTreeSet<String> {
    sqlx::query_scalar("SELECT message_id FROM broker_events")
        .fetch_all(&app.db)
        .await
        .unwrap()
        .into_iter()
        .collect()
}

/// Until every event the app recorded is in `got()` (repeats allowed), and the app has
/// stamped every one as confirmed by `broker`; then what was got.
async fn until_all_arrived<F, Fut>(
    app: &TestApp,
    broker: &str,
    within: Duration,
    got: F,
) -> Vec<Message>
where
    F: Fn() -> Fut,
    Fut: Future<Output = Vec<Message>>,
{
    let what = format!("every recorded event on {broker}");
    eventually(&what, within, || async {
        let want = recorded(app).await;
        let messages = got().await;
        let ids: BTreeSet<String> = messages.iter().map(|m| m.id.clone()).collect();
        let missing: Vec<&String> = want.difference(&ids).collect();
        let sql = format!("SELECT count(*) FROM broker_events WHERE {broker}_at IS NULL");
        let unconfirmed: i64 = sqlx::query_scalar(sqlx::AssertSqlSafe(sql))
            .fetch_one(&app.db)
            .await
            .unwrap();
        if !want.is_empty() && missing.is_empty() && unconfirmed == 0 {
            Ok(messages)
        } else {
            Err(format!(
                "{} recorded, {} missing, {unconfirmed} unconfirmed",
                want.len(),
                missing.len()
            ))
        }
    })
    .await
}

/// `quire_events_waiting{broker}` on `/metrics`, if it is there.
async fn waiting_on_metrics(app: &TestApp, broker: &str) -> Option<i64> {
    let body = app.get("/metrics").await.text().await.unwrap();
    let prefix = format!("quire_events_waiting{{broker=\"{broker}\"}} ");
    body.lines()
        .find_map(|l| l.strip_prefix(&prefix).map(|v| v.trim().parse().unwrap()))
}

/// The "Events waiting" line of `/admin/jobs`, as an admin sees it ("" when there is none).
async fn waiting_on_admin(admin: &TestApp) -> String {
    admin
        .page("/admin/jobs", StatusCode::OK)
        .await
        .text(".backlog")
}

/// A post's events among `messages`, in the order they came (repeats left out).
fn post_events(messages: &[Message], slug: &str) -> Vec<String> {
    let mut seen = BTreeSet::new();
    messages
        .iter()
        .filter(|m| m.body["data"]["slug"] == slug && seen.insert(m.id.clone()))
        .map(|m| m.event().to_owned())
        .collect()
}

#[tokio::test]
async fn every_event_reaches_both_brokers_as_webhooks_get_it_in_order_per_post() {
    let since = OffsetDateTime::now_utc() - Duration::from_secs(1);
    let queue = AmqpQueue::bind().await;
    let app = app_with(Some(AMQP), Some(NATS)).await;
    let admin = app.signed_in("boss", Role::Admin).await;
    // The admin's own user.created goes to the brokers only (no webhook yet).
    app.until_jobs_ran().await;
    let receiver = Receiver::start().await;
    let all: Vec<&str> = quire::webhooks::EVENTS.iter().map(|(e, _)| *e).collect();
    let res = register(&admin, &receiver.url(), &all).await;
    assert_eq!(res.status(), StatusCode::SEE_OTHER);

    let author = app.author("writer").await;
    let slug = app
        .post(
            author,
            PostSpec {
                title: "Brokered",
                ..Default::default()
            },
        )
        .await;
    let reader = app.signed_in("reader", Role::Reader).await;
    crate::comments::comment(&reader, &slug, "Nice").await;
    for sql in [
        "UPDATE posts SET version = version + 1, title = 'Brokered again' WHERE slug = $1",
        "UPDATE posts SET status = 'draft' WHERE slug = $1",
    ] {
        sqlx::query(sql).bind(&slug).execute(&app.db).await.unwrap();
    }
    assert_eq!(
        app.register("newcomer").await.status(),
        StatusCode::SEE_OTHER
    );

    // writer, reader and newcomer made; the post published, commented, updated, unpublished.
    let hooks = receiver.wait_for(7).await;
    let amqp = until_all_arrived(&app, "amqp", Duration::from_secs(20), || async {
        queue.of(&app)
    })
    .await;
    let nats = until_all_arrived(&app, "nats", Duration::from_secs(20), || async {
        nats_of(&app, NATS, Some(since)).await
    })
    .await;
    app.until_jobs_ran().await;

    // Each event once on each broker (the admin's too), under one id on both.
    let ids = recorded(&app).await;
    assert_eq!(ids.len(), 8, "{ids:?}");
    for (broker, got) in [("RabbitMQ", &amqp), ("NATS", &nats)] {
        let distinct: BTreeSet<String> = got.iter().map(|m| m.id.clone()).collect();
        assert_eq!(distinct, ids, "{broker}");
        assert_eq!(got.len(), 8, "{broker}: no repeats without a failure");
        for m in got.iter() {
            assert!(m.id.starts_with("quire-evt-"), "{broker}: {}", m.id);
            assert_eq!(
                m.body["id"], m.id,
                "{broker}: the body's id is the message id"
            );
        }
    }
    let by_id: HashMap<&str, &Message> = nats.iter().map(|m| (m.id.as_str(), m)).collect();
    for m in &amqp {
        assert_eq!(
            by_id[m.id.as_str()].body,
            m.body,
            "the same message on both"
        );
    }

    // RabbitMQ: the event is the routing key and the type; persistent JSON, timestamped.
    for m in &amqp {
        assert_eq!(m.key, m.event());
        let (content_type, mode, kind, timestamp) = m.amqp.clone().unwrap();
        assert_eq!(content_type, "application/json");
        assert_eq!(mode, 2, "persistent");
        assert_eq!(kind, m.event());
        assert_eq!(Some(timestamp), m.body["created_at"].as_u64());
    }
    // NATS: the event in the subject.
    for m in &nats {
        assert_eq!(m.key, format!("quire.events.{}", m.event()));
    }

    // What webhooks got, the brokers got: the same event, time and data.
    for hook in &hooks {
        let sent: serde_json::Value = serde_json::from_slice(&hook.body).unwrap();
        let same = |m: &&Message| {
            m.body["event"] == sent["event"]
                && m.body["created_at"] == sent["created_at"]
                && m.body["data"] == sent["data"]
        };
        assert!(amqp.iter().any(|m| same(&m)), "{} on RabbitMQ", hook.event);
        assert!(nats.iter().any(|m| same(&m)), "{} on NATS", hook.event);
    }
    let comment = amqp
        .iter()
        .find(|m| m.event() == "comment.created")
        .unwrap();
    assert_eq!(comment.body["data"]["body"], "Nice");
    assert_eq!(comment.body["data"]["post"]["slug"], slug);

    // The post's events, in the order they happened, on both.
    assert_eq!(post_events(&amqp, &slug), CHANGES);
    assert_eq!(post_events(&nats, &slug), CHANGES);

    // Nothing waits, and both say so.
    assert_eq!(waiting_on_metrics(&app, "amqp").await, Some(0));
    assert_eq!(waiting_on_metrics(&app, "nats").await, Some(0));
    assert_eq!(
        waiting_on_admin(&admin).await,
        "Events waiting: RabbitMQ 0, NATS 0"
    );
    queue.delete().await;
}

/// RabbitMQ's application stopped (`rabbitmqctl stop_app`: the server refuses connections,
/// durable queues and persistent messages kept) until `start` or the guard's drop.
struct RabbitStopped(bool);

impl RabbitStopped {
    fn now() -> Self {
        rabbitmqctl("stop_app");
        Self(true)
    }

    /// Started again, and answering.
    async fn start(mut self) {
        rabbitmqctl("start_app");
        self.0 = false;
        eventually("RabbitMQ to answer", Duration::from_secs(60), || async {
            Connection::connect(AMQP, ConnectionProperties::default())
                .await
                .map(drop)
                .map_err(|e| e.to_string())
        })
        .await;
    }
}

impl Drop for RabbitStopped {
    fn drop(&mut self) {
        if self.0 {
            rabbitmqctl("start_app");
        }
    }
}

fn rabbitmqctl(command: &str) {
    let out = std::process::Command::new("rabbitmqctl")
        .arg(command)
        .output()
        .expect("rabbitmqctl runs");
    assert!(
        out.status.success(),
        "rabbitmqctl {command}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
}

/// `n` posts by `author`, one every 150 ms, written in the background.
fn stream_of_posts(
    app: &TestApp,
    author: quire::accounts::model::UserId,
    n: usize,
) -> tokio::task::JoinHandle<()> {
    let writer = TestApp::sharing(app);
    tokio::spawn(async move {
        for i in 0..n {
            let title = format!("Streamed {i}");
            writer
                .post(
                    author,
                    PostSpec {
                        title: &title,
                        ..Default::default()
                    },
                )
                .await;
            tokio::time::sleep(Duration::from_millis(150)).await;
        }
    })
}

/// A post's events, in the order they happen.
const CHANGES: [&str; 3] = ["post.published", "post.updated", "post.unpublished"];

/// A post published, edited and taken back, one right after the other (while a broker is
/// away, so its three events wait together); its slug.
async fn changed_while_away(app: &TestApp, author: quire::accounts::model::UserId) -> String {
    let slug = app
        .post(
            author,
            PostSpec {
                title: "Changed while away",
                ..Default::default()
            },
        )
        .await;
    for sql in [
        "UPDATE posts SET version = version + 1, title = 'Changed again' WHERE slug = $1",
        "UPDATE posts SET status = 'draft' WHERE slug = $1",
    ] {
        sqlx::query(sql).bind(&slug).execute(&app.db).await.unwrap();
    }
    slug
}

#[tokio::test]
async fn rabbitmq_restarted_mid_stream_loses_no_event() {
    let queue = AmqpQueue::bind().await;
    let app = app_with(Some(AMQP), None).await;
    let admin = app.signed_in("boss", Role::Admin).await;
    let author = app.author("writer").await;
    let writing = stream_of_posts(&app, author, 16);
    eventually(
        "the first posts on RabbitMQ",
        Duration::from_secs(20),
        || async {
            let n = queue
                .of(&app)
                .iter()
                .filter(|m| m.event() == "post.published")
                .count();
            if n >= 2 { Ok(()) } else { Err(n) }
        },
    )
    .await;

    let stopped = RabbitStopped::now();
    writing.await.unwrap();
    // However far the stream got before the broker went, some events come while it is away,
    // a post's three among them.
    app.posts(author, 2, &[]).await;
    let changed = changed_while_away(&app, author).await;
    // The events written meanwhile wait, and the operator sees them.
    let waiting = eventually(
        "events waiting on /metrics",
        Duration::from_secs(20),
        || async {
            match waiting_on_metrics(&app, "amqp").await {
                Some(n) if n > 0 => Ok(n),
                seen => Err(seen),
            }
        },
    )
    .await;
    let line = waiting_on_admin(&admin).await;
    assert!(line.starts_with("Events waiting: RabbitMQ "), "{line}");
    let shown: i64 = line.rsplit(' ').next().unwrap().parse().unwrap();
    assert!(shown > 0, "{line} ({waiting} on /metrics)");
    let failed: i64 = sqlx::query_scalar("SELECT count(*) FROM jobs WHERE state = 'failed'")
        .fetch_one(&app.db)
        .await
        .unwrap();
    assert_eq!(failed, 0, "an outage parks nothing as failed");

    stopped.start().await;
    let got = until_all_arrived(&app, "amqp", Duration::from_secs(60), || async {
        queue.of(&app)
    })
    .await;
    // At least once: repeats may come, but every event is there, and each post's once in order
    // of first arrival.
    let ids: BTreeSet<String> = got.iter().map(|m| m.id.clone()).collect();
    assert_eq!(ids, recorded(&app).await);
    let published = got
        .iter()
        .filter(|m| m.event() == "post.published")
        .map(|m| m.id.clone())
        .collect::<BTreeSet<_>>();
    assert_eq!(published.len(), 19);
    assert_eq!(post_events(&got, &changed), CHANGES);
    assert_eq!(waiting_on_metrics(&app, "amqp").await, Some(0));
    queue.delete().await;
}

/// A NATS server with JetStream of the test's own, on a free port, its store in a temporary
/// folder that outlives restarts; stopped when dropped.
struct NatsServer {
    port: u16,
    store: tempfile::TempDir,
    child: Option<std::process::Child>,
}

impl NatsServer {
    async fn start() -> Self {
        let port = std::net::TcpListener::bind("127.0.0.1:0")
            .unwrap()
            .local_addr()
            .unwrap()
            .port();
        let mut server = Self {
            port,
            store: tempfile::tempdir().unwrap(),
            child: None,
        };
        server.run().await;
        server
    }

    fn url(&self) -> String {
        format!("nats://127.0.0.1:{}", self.port)
    }

    async fn run(&mut self) {
        let child = std::process::Command::new("nats-server")
            .args([
                "-a",
                "127.0.0.1",
                "-p",
                &self.port.to_string(),
                "-js",
                "-sd",
            ])
            .arg(self.store.path())
            .stdout(std::process::Stdio::null())
            .stderr(std::process::Stdio::null())
            .spawn()
            .expect("nats-server runs");
        self.child = Some(child);
        let url = self.url();
        eventually("our NATS to answer", Duration::from_secs(20), || async {
            async_nats::connect(url.as_str())
                .await
                .map(drop)
                .map_err(|e| e.to_string())
        })
        .await;
    }

    /// Stopped as a service manager stops it (SIGTERM), and waited for.
    fn stop(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = std::process::Command::new("kill")
                .args(["-TERM", &child.id().to_string()])
                .status();
            let _ = child.wait();
        }
    }
}

impl Drop for NatsServer {
    fn drop(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }
}

#[tokio::test]
async fn nats_restarted_mid_stream_keeps_every_event_once() {
    let mut server = NatsServer::start().await;
    let url = server.url();
    let app = app_with(None, Some(&url)).await;
    let author = app.author("writer").await;
    let writing = stream_of_posts(&app, author, 16);
    eventually(
        "the first posts on NATS",
        Duration::from_secs(20),
        || async {
            let n = nats_of(&app, &url, None)
                .await
                .iter()
                .filter(|m| m.event() == "post.published")
                .count();
            if n >= 2 { Ok(()) } else { Err(n) }
        },
    )
    .await;

    server.stop();
    writing.await.unwrap();
    app.posts(author, 2, &[]).await;
    let changed = changed_while_away(&app, author).await;
    eventually(
        "events waiting on /metrics",
        Duration::from_secs(20),
        || async {
            match waiting_on_metrics(&app, "nats").await {
                Some(n) if n > 0 => Ok(n),
                seen => Err(seen),
            }
        },
    )
    .await;

    server.run().await;
    let got = until_all_arrived(&app, "nats", Duration::from_secs(60), || async {
        nats_of(&app, &url, None).await
    })
    .await;
    // The stream kept what it had before the restart (its store is on disk), and holds each
    // event once: a message sent again is dropped by its id.
    let mut ids: Vec<String> = got.iter().map(|m| m.id.clone()).collect();
    ids.sort();
    let distinct: Vec<String> = recorded(&app).await.into_iter().collect();
    assert_eq!(ids, distinct, "every event, each once");
    assert_eq!(
        got.iter().filter(|m| m.event() == "post.published").count(),
        19
    );
    assert_eq!(post_events(&got, &changed), CHANGES);
    assert_eq!(waiting_on_metrics(&app, "nats").await, Some(0));
}

#[tokio::test]
async fn without_a_broker_nothing_is_recorded_for_one() {
    let app = app_with(None, None).await;
    let admin = app.signed_in("boss", Role::Admin).await;
    let receiver = Receiver::start().await;
    let res = register(&admin, &receiver.url(), &["post.published"]).await;
    assert_eq!(res.status(), StatusCode::SEE_OTHER);
    let author = app.author("writer").await;
    let slug = app.post(author, PostSpec::default()).await;
    let reader = app.signed_in("reader", Role::Reader).await;
    crate::comments::comment(&reader, &slug, "Nice").await;
    receiver.wait_for(1).await;
    app.until_jobs_ran().await;

    let (events, brokers): (i64, i64) = sqlx::query_as(
        "SELECT (SELECT count(*) FROM broker_events), (SELECT count(*) FROM event_brokers)",
    )
    .fetch_one(&app.db)
    .await
    .unwrap();
    assert_eq!((events, brokers), (0, 0));
    assert_eq!(waiting_on_metrics(&app, "amqp").await, None);
    assert_eq!(waiting_on_metrics(&app, "nats").await, None);
    assert_eq!(waiting_on_admin(&admin).await, "");
}

#[tokio::test]
async fn events_go_a_week_after_every_configured_broker_confirmed_them() {
    let queue = AmqpQueue::bind().await;
    let app = app_with(Some(AMQP), None).await;
    let author = app.author("writer").await;
    app.posts(author, 3, &[]).await;
    until_all_arrived(&app, "amqp", Duration::from_secs(20), || async {
        queue.of(&app)
    })
    .await;
    app.until_jobs_ran().await;
    // All confirmed by RabbitMQ, none by NATS (not configured: it holds nothing back). Two
    // of them a week and a day old, one of those never confirmed; the rest new.
    let ids: Vec<i64> = sqlx::query_scalar("SELECT id FROM broker_events ORDER BY id")
        .fetch_all(&app.db)
        .await
        .unwrap();
    assert_eq!(ids.len(), 4, "writer and three posts");
    sqlx::query(
        "UPDATE broker_events SET created_at = now() - interval '8 days' WHERE id = ANY ($1)",
    )
    .bind(&ids[..2])
    .execute(&app.db)
    .await
    .unwrap();
    sqlx::query("UPDATE broker_events SET amqp_at = NULL WHERE id = $1")
        .bind(ids[1])
        .execute(&app.db)
        .await
        .unwrap();

    quire::jobs::NewJob::of(&quire::events::Prune {})
        .enqueue(&app.db)
        .await
        .unwrap();
    app.until_jobs_ran().await;
    let left: Vec<i64> = sqlx::query_scalar("SELECT id FROM broker_events ORDER BY id")
        .fetch_all(&app.db)
        .await
        .unwrap();
    assert_eq!(
        left,
        ids[1..],
        "the old confirmed one went; the unconfirmed one waits"
    );
    queue.delete().await;
}

#[tokio::test]
async fn a_broker_out_of_reach_is_retried_and_its_password_never_shown() {
    // Ports where nothing listens (the OS just handed them out and took them back).
    let closed = || {
        let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        listener.local_addr().unwrap().port()
    };
    let (amqp, nats) = (closed(), closed());
    let app = app_with(
        Some(&format!("amqp://quire:hunter2@127.0.0.1:{amqp}/%2f")),
        Some(&format!("nats://quire:hunter2@127.0.0.1:{nats}")),
    )
    .await;
    app.author("writer").await;
    for kind in ["events.amqp", "events.nats"] {
        let what = format!("{kind} to note why it waits");
        let error = eventually(&what, Duration::from_secs(20), || async {
            let row: Option<(String, Option<String>)> = sqlx::query_as(
                "SELECT state, last_error FROM jobs WHERE kind = $1 AND last_error IS NOT NULL",
            )
            .bind(kind)
            .fetch_optional(&app.db)
            .await
            .unwrap();
            row.ok_or("no error yet")
        })
        .await;
        let (state, error) = (error.0, error.1.unwrap());
        assert_ne!(state, "failed", "{kind}: waiting is no failure");
        assert!(error.contains("could not connect"), "{kind}: {error}");
        assert!(!error.contains("hunter2"), "{kind}: {error}");
    }
    assert_eq!(waiting_on_metrics(&app, "amqp").await, Some(1));
    assert_eq!(waiting_on_metrics(&app, "nats").await, Some(1));
}
