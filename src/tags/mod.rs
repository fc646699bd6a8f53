//! Tags: the tag pages readers browse.

pub mod admin;
pub mod jobs;
pub mod model;
pub mod pages;
pub mod repo;
