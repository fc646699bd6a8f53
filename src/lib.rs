//! Quire: a multi-role blogging platform. The binary is a shell around this library, so
//! tests and benchmarks run exactly the code `quire serve` runs.

pub mod accounts;
pub mod api;
pub mod app;
pub mod assets;
pub mod authz;
pub mod cache;
pub mod cli;
pub mod comments;
pub mod config;
pub mod db;
pub mod error;
pub mod extract;
pub mod health;
pub mod input;
pub mod jobs;
pub mod kv;
pub mod mail;
pub mod metrics;
pub mod middleware;
pub mod newsletter;
pub mod pages;
pub mod posts;
pub mod ratelimit;
pub mod render;
pub mod search;
pub mod seed;
pub mod settings;
pub mod slug;
pub mod state;
pub mod stats;
pub mod tags;
pub mod telemetry;
pub mod uploads;
pub mod webhooks;
pub mod ws;
