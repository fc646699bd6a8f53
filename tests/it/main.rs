//! Integration tests: each starts the real app on a free port against a database of its own
//! and talks HTTP to it. One binary, one module per area.
#![allow(clippy::unwrap_used, reason = "a failed unwrap is a failed test")]

mod accounts;
mod admin;
mod bad_input;
mod cli;
mod feeds;
mod harness;
mod health;
mod queries;
mod reading;
