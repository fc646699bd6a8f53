//! Live updates over WebSocket, the machinery: the hub (which sockets watch what, and the
//! channel every instance hears changes on), one socket's life, and the frame guard. It
//! names no feature: each live feature is a `Feed` the wiring registers with the hub, and a
//! `Channel` its sockets run (the post page's comments, `comments::live`; who is editing a
//! post, `posts::live`). Without JavaScript (or without a socket), every page works as
//! before.
//!
//! - What changed is announced on one PostgreSQL channel (`quire_live`) that every instance
//!   LISTENs to (`hub`): mostly by triggers as rows are written, so no write path can forget,
//!   and by `Hub::announce` for news that is no write (someone opened the editor).
//!   Announcements name what changed, never what a reader sees: each instance reads it once
//!   per announcement and renders it as every reader sees it.
//! - Sockets (`socket`): the handshake checks the `Origin` against `http.base_url`;
//!   connections per client and messages per second are limited, frames are small
//!   (`frames`), silent clients are cut off, and every socket gets a close frame when the
//!   server stops (`Hub::close_all`).
//! - Rights can be lost while a socket is open, so they are asked again as it runs, and a
//!   socket that lost them is closed with 1008 (pages don't reconnect after it): what all of
//!   a topic's sockets share, its feed checks once (`Event::End`); one person's right, each
//!   socket before each event and each ping (`Channel::allowed`).

mod frames;
mod hub;
pub mod socket;

pub use hub::{Announcement, CHANNEL, Event, Feed, Hub, Topic, Watch};
