//! Integration tests: each starts the real app on a free port against a database of its own
//! and talks HTTP to it. One binary, one module per area.
#![allow(clippy::unwrap_used, reason = "a failed unwrap is a failed test")]

mod account;
mod accounts;
mod admin;
mod api;
mod authz;
mod bad_input;
mod bulk;
mod cache;
mod cli;
mod cluster;
mod comments;
mod demo;
mod e2e;
mod edge;
mod editor;
mod email;
mod events;
mod export;
mod feeds;
mod follows;
mod graphql;
mod guest_comments;
mod harness;
mod health;
mod jobs;
mod limits;
mod live;
mod media_library;
mod media_pipeline;
mod media_render;
mod media_store;
mod moving;
mod newsletter;
mod oauth;
mod oauth_provider;
mod openapi;
mod outages;
mod pages;
mod parity;
mod pgpair;
mod queries;
mod reading;
mod realworld;
mod redirects;
mod releases;
mod replica;
mod reset;
mod schemathesis;
mod search;
mod settings;
mod smtp;
mod stats;
mod tags;
mod upload_api;
mod uploads;
mod webhooks;

/// The role column of `username`, as text.
pub async fn accounts_role(app: &harness::TestApp, username: &str) -> String {
    sqlx::query_scalar("SELECT role::text FROM users WHERE username = $1")
        .bind(username)
        .fetch_one(&app.db)
        .await
        .unwrap()
}
