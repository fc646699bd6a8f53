//! One socket's life, whatever it watches: the handshake's checks, then a loop that passes
//! events on, answers the client's messages, pings, and cuts off what misbehaves.

use std::time::{Duration, Instant};

use actix_web::{FromRequest, HttpRequest, HttpResponse, web};
use actix_ws::{CloseCode, CloseReason, Message, MessageStream, ProtocolError, Session};
use bytestring::ByteString;
use serde::de::DeserializeOwned;
use tokio::sync::broadcast::error::RecvError;

use super::{
    frames::{self, Oversized},
    hub::{Event, Hub, Ticket, Topic, Watch},
};
use crate::{error::Error, state::AppState};

/// What one kind of socket does; `run` does the rest.
#[expect(
    async_fn_in_trait,
    reason = "a socket runs on its worker's own thread: its futures need not be Send"
)]
pub trait Channel {
    /// The messages a client may send (JSON with a `type`); anything else closes the socket.
    type Message: DeserializeOwned;

    /// The socket is open.
    async fn opened(&mut self, _out: &mut Session) -> Result<(), actix_ws::Closed> {
        Ok(())
    }

    /// The client sent `message`.
    async fn message(
        &mut self,
        message: Self::Message,
        out: &mut Session,
    ) -> Result<(), actix_ws::Closed>;

    /// What to send the client for `event`, if anything.
    fn event(&self, event: &Event) -> Option<ByteString>;

    /// Whether this socket may still hear what it hears: rights can be lost while it is open
    /// (an account disabled, signed out everywhere, a role taken away). Asked before each
    /// event is passed on and at each ping; `Err` closes the socket with 1008 (after which
    /// pages don't reconnect) and the reason. What a topic's sockets share, such as their
    /// post's visibility, the hub checks once for all of them (`Event::End`).
    async fn allowed(&mut self) -> Result<(), String> {
        Ok(())
    }

    /// Each ping.
    async fn tick(&mut self) {}

    /// The socket is closing (for any reason).
    async fn closed(self)
    where
        Self: Sized,
    {
    }
}

/// A handshake that passed its checks: the 101 answer and the socket behind it.
pub struct Accepted {
    response: HttpResponse,
    session: Session,
    stream: MessageStream,
    oversized: Oversized,
    ticket: Ticket,
    hub: Hub,
}

/// Check a handshake: a WebSocket upgrade, from a page of this site (`Origin` against
/// `http.base_url`: no cross-site WebSocket hijacking), within the connection limits.
pub fn accept(
    req: &HttpRequest,
    body: web::Payload,
    state: &AppState,
    hub: &Hub,
) -> Result<Accepted, Error> {
    let upgrade = req
        .headers()
        .get(actix_web::http::header::UPGRADE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.eq_ignore_ascii_case("websocket"));
    if !upgrade {
        return Err(Error::BadRequest(
            "This address takes WebSocket connections only; the page opens one by itself.".into(),
        ));
    }
    let origin = req
        .headers()
        .get(actix_web::http::header::ORIGIN)
        .and_then(|v| v.to_str().ok());
    let ours = state.settings.http.base_url.origin().ascii_serialization();
    if origin != Some(ours.as_str()) {
        return Err(Error::CrossSite);
    }
    let ticket = hub.admit(crate::extract::client_ip(req))?;
    // Frames over the limit are refused from their header, before actix-ws buffers them.
    let limit = state.settings.ws.max_frame_bytes;
    let (mut guarded, oversized) = frames::guard(body.into_inner(), limit);
    let body = web::Payload::from_request(req, &mut guarded)
        .into_inner()
        .map_err(|e| Error::BadRequest(format!("the connection can't be read: {e}")))?;
    let (response, session, stream) = actix_ws::handle(req, body)
        .map_err(|e| Error::BadRequest(format!("not a WebSocket handshake: {e}")))?;
    Ok(Accepted {
        response,
        session,
        stream,
        oversized,
        ticket,
        hub: hub.clone(),
    })
}

impl Accepted {
    /// Run `channel` on this socket, watching `topic`, until either side ends it; the 101
    /// answer to send now.
    pub fn run<C: Channel + 'static>(self, channel: C, topic: Topic) -> HttpResponse {
        let Accepted {
            response,
            session,
            stream,
            oversized,
            ticket,
            hub,
        } = self;
        let events = hub.watch(topic);
        // On this worker's own thread: the socket's stream is the request's payload.
        actix_web::rt::spawn(async move {
            let _ticket = ticket;
            life(channel, session, stream, oversized, events, hub).await;
        });
        response
    }
}

/// What a relayed protocol (`Accepted::relay`) sends the client.
pub enum Relayed {
    Text(String),
    /// Close with this code and reason.
    Close(u16, String),
}

/// Client messages a relayed protocol may fall behind on before the socket is closed.
const RELAY_BACKLOG: usize = 64;

impl Accepted {
    /// Run a protocol of its own on this socket (GraphQL's `graphql-transport-ws`): the
    /// client's text messages go to `protocol`, whose stream says what to send back. Pings,
    /// idle clients, frame sizes, message rates and shutdown are handled as for every
    /// socket. `name` is the `Sec-WebSocket-Protocol` agreed on.
    pub fn relay<S>(
        self,
        name: &'static str,
        protocol: impl FnOnce(futures_util::stream::BoxStream<'static, String>) -> S,
    ) -> HttpResponse
    where
        S: futures_util::Stream<Item = Relayed> + Unpin + 'static,
    {
        let Accepted {
            mut response,
            session,
            stream,
            oversized,
            ticket,
            hub,
        } = self;
        response.headers_mut().insert(
            actix_web::http::header::SEC_WEBSOCKET_PROTOCOL,
            actix_web::http::header::HeaderValue::from_static(name),
        );
        let (to_protocol, from_client) = tokio::sync::mpsc::channel::<String>(RELAY_BACKLOG);
        let incoming = futures_util::stream::unfold(from_client, |mut rx| async move {
            rx.recv().await.map(|m| (m, rx))
        });
        let outgoing = protocol(Box::pin(incoming));
        actix_web::rt::spawn(async move {
            let _ticket = ticket;
            relay_life(session, stream, oversized, to_protocol, outgoing, hub).await;
        });
        response
    }
}

async fn relay_life<S>(
    mut out: Session,
    stream: MessageStream,
    oversized: Oversized,
    to_protocol: tokio::sync::mpsc::Sender<String>,
    mut outgoing: S,
    hub: Hub,
) where
    S: futures_util::Stream<Item = Relayed> + Unpin,
{
    use futures_util::StreamExt;
    let settings = hub.settings().clone();
    let mut stream = stream.max_frame_size(settings.max_frame_bytes);
    let mut closing = hub.closing();
    let ping_every = Duration::from_millis(settings.ping_ms);
    let idle = Duration::from_millis(settings.idle_ms);
    let mut ping = tokio::time::interval_at(tokio::time::Instant::now() + ping_every, ping_every);
    let mut heard = Instant::now();
    let mut allowance = Allowance::new(settings.messages_per_second);
    let close = |code: CloseCode, why: String| Some(CloseReason::from((code, why)));
    let ending: Option<Option<CloseReason>> = loop {
        tokio::select! {
            biased;
            _ = closing.wait_for(|stopping| *stopping) => {
                break Some(close(CloseCode::Away, "the server is restarting".into()));
            }
            frame = stream.recv() => {
                heard = Instant::now();
                let frame = match admit(frame, &oversized, &settings, &mut allowance) {
                    Ok(frame) => frame,
                    Err(ending) => break ending,
                };
                let answered = match frame {
                    Message::Ping(bytes) => out.pong(&bytes).await,
                    Message::Pong(_) | Message::Nop => Ok(()),
                    Message::Close(reason) => break Some(reason),
                    Message::Text(text) => match to_protocol.try_send(text.to_string()) {
                        Ok(()) => Ok(()),
                        Err(_) => break Some(close(
                            CloseCode::Policy,
                            "too many messages waiting".into(),
                        )),
                    },
                    Message::Binary(_) | Message::Continuation(_) => break Some(close(
                        CloseCode::Unsupported,
                        "this socket takes single text messages only".into(),
                    )),
                };
                if answered.is_err() {
                    break None;
                }
            }
            sent = outgoing.next() => match sent {
                Some(Relayed::Text(text)) => {
                    if send(&mut out, text).await.is_err() {
                        break None;
                    }
                }
                Some(Relayed::Close(code, why)) => {
                    break Some(close(CloseCode::from(code), truncate(why)));
                }
                None => break Some(close(CloseCode::Normal, String::new())),
            },
            _ = ping.tick() => {
                if heard.elapsed() > idle {
                    break Some(close(CloseCode::Policy, "no answer to pings".into()));
                }
                if out.ping(b"").await.is_err() {
                    break None;
                }
            }
        }
    };
    drop(outgoing);
    if let Some(reason) = ending {
        let _ = tokio::time::timeout(SEND_WITHIN, out.close(reason)).await;
    }
}

/// How long a send may wait for a client that doesn't read before it is dropped.
const SEND_WITHIN: Duration = Duration::from_secs(5);

/// Send `text`, or fail when the socket is gone or the client has stopped reading.
pub async fn send(out: &mut Session, text: impl Into<ByteString>) -> Result<(), actix_ws::Closed> {
    match tokio::time::timeout(SEND_WITHIN, out.text(text)).await {
        Ok(sent) => sent,
        Err(_) => Err(actix_ws::Closed),
    }
}

async fn life<C: Channel>(
    mut channel: C,
    mut out: Session,
    stream: MessageStream,
    oversized: Oversized,
    mut events: Watch,
    hub: Hub,
) {
    let settings = hub.settings().clone();
    let mut stream = stream.max_frame_size(settings.max_frame_bytes);
    let mut closing = hub.closing();
    let ping_every = Duration::from_millis(settings.ping_ms);
    let idle = Duration::from_millis(settings.idle_ms);
    let mut ping = tokio::time::interval_at(tokio::time::Instant::now() + ping_every, ping_every);
    let mut heard = Instant::now();
    let mut allowance = Allowance::new(settings.messages_per_second);
    let close = |code: CloseCode, why: String| Some(CloseReason::from((code, why)));
    let ending: Option<Option<CloseReason>> = 'life: {
        if channel.opened(&mut out).await.is_err() {
            break 'life None;
        }
        loop {
            tokio::select! {
                biased;
                _ = closing.wait_for(|stopping| *stopping) => {
                    break 'life Some(close(CloseCode::Away, "the server is restarting".into()));
                }
                frame = stream.recv() => {
                    heard = Instant::now();
                    let frame = match admit(frame, &oversized, &settings, &mut allowance) {
                        Ok(frame) => frame,
                        Err(ending) => break 'life ending,
                    };
                    let answered = match frame {
                        Message::Ping(bytes) => out.pong(&bytes).await,
                        Message::Pong(_) | Message::Nop => Ok(()),
                        // Their close, answered in kind.
                        Message::Close(reason) => break 'life Some(reason),
                        Message::Text(text) => match serde_json::from_str::<C::Message>(&text) {
                            Ok(message) => channel.message(message, &mut out).await,
                            Err(e) => break 'life Some(close(
                                CloseCode::Unsupported,
                                truncate(format!("not a message this socket takes: {e}")),
                            )),
                        },
                        Message::Binary(_) | Message::Continuation(_) => break 'life Some(close(
                            CloseCode::Unsupported,
                            "this socket takes single JSON text messages only".into(),
                        )),
                    };
                    if answered.is_err() {
                        break 'life None;
                    }
                }
                event = events.recv() => match event {
                    Ok(event) => {
                        if let Event::End(why) = *event {
                            break 'life Some(close(CloseCode::Policy, why.into()));
                        }
                        let Some(text) = channel.event(&event) else {
                            continue;
                        };
                        if let Err(why) = channel.allowed().await {
                            break 'life Some(close(CloseCode::Policy, truncate(why)));
                        }
                        if send(&mut out, text).await.is_err() {
                            break 'life None;
                        }
                    }
                    Err(RecvError::Lagged(_)) => break 'life Some(close(
                        CloseCode::Again,
                        "too far behind: reload the page".into(),
                    )),
                    Err(RecvError::Closed) => break 'life None,
                },
                _ = ping.tick() => {
                    if heard.elapsed() > idle {
                        break 'life Some(close(CloseCode::Policy, "no answer to pings".into()));
                    }
                    if let Err(why) = channel.allowed().await {
                        break 'life Some(close(CloseCode::Policy, truncate(why)));
                    }
                    if out.ping(b"").await.is_err() {
                        break 'life None;
                    }
                    channel.tick().await;
                }
            }
        }
    };
    channel.closed().await;
    drop(events);
    if let Some(reason) = ending {
        let _ = tokio::time::timeout(SEND_WITHIN, out.close(reason)).await;
    }
}

/// A client's frame as every socket takes it: the frame, or how the socket ends (`None`:
/// the client is simply gone). Frames over the size limit, broken ones, and more messages
/// a second than `ws.messages_per_second` allows end it.
fn admit(
    frame: Option<Result<Message, ProtocolError>>,
    oversized: &Oversized,
    settings: &crate::config::WsSettings,
    allowance: &mut Allowance,
) -> Result<Message, Option<Option<CloseReason>>> {
    // As the loops end: `Some(reason)` to send a close frame, `None` when there is no one to
    // send it to.
    let close = |code: CloseCode, why: String| Some(Some(CloseReason::from((code, why))));
    let too_large = || {
        close(
            CloseCode::Size,
            format!("frames are limited to {} bytes", settings.max_frame_bytes),
        )
    };
    let frame = match frame {
        // A header announced more than the limit (`frames`): the stream ended there, its
        // payload unread.
        Some(Err(_)) | None if oversized.announced() => return Err(too_large()),
        None => return Err(None),
        Some(Err(ProtocolError::Overflow)) => return Err(too_large()),
        Some(Err(e)) => return Err(close(CloseCode::Protocol, e.to_string())),
        Some(Ok(frame)) => frame,
    };
    if matches!(
        frame,
        Message::Text(_) | Message::Binary(_) | Message::Ping(_)
    ) && !allowance.take()
    {
        return Err(close(
            CloseCode::Policy,
            format!(
                "more than {} messages a second",
                settings.messages_per_second
            ),
        ));
    }
    Ok(frame)
}

/// A close reason is at most 123 bytes on the wire.
fn truncate(mut why: String) -> String {
    if why.len() > 120 {
        let mut end = 120;
        while !why.is_char_boundary(end) {
            end -= 1;
        }
        why.truncate(end);
    }
    why
}

/// Messages a client may still send: `per_second` a second, with a burst of twice that.
struct Allowance {
    per_second: f64,
    left: f64,
    at: Instant,
}

impl Allowance {
    fn new(per_second: u32) -> Self {
        let per_second = f64::from(per_second);
        Self {
            per_second,
            left: per_second * 2.0,
            at: Instant::now(),
        }
    }

    fn take(&mut self) -> bool {
        let now = Instant::now();
        let refill = now.duration_since(self.at).as_secs_f64() * self.per_second;
        self.left = (self.left + refill).min(self.per_second * 2.0);
        self.at = now;
        if self.left >= 1.0 {
            self.left -= 1.0;
            true
        } else {
            false
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_burst_of_twice_the_rate_then_no_more() {
        let mut allowance = Allowance::new(5);
        assert!((0..10).all(|_| allowance.take()));
        assert!(!allowance.take());
    }

    #[test]
    fn close_reasons_fit_the_frame() {
        let long = "é".repeat(100);
        let cut = truncate(long);
        assert!(cut.len() <= 120 && cut.chars().all(|c| c == 'é'));
    }
}
