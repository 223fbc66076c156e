//! Finds Amazon Redshift queries that have been running too long and tells a Slack channel.
//!
//! One run: resolve the settings (environment, then event or flags), read the secret (cached
//! for a few minutes in a warm process), submit one statement through the Redshift Data API,
//! poll it within the deadline, read every page of the result, build Block Kit messages within
//! Slack's limits and post them to the webhook, then return a JSON summary.
//!
//! # Layout
//! - [`config`]: settings from the environment and the event, validated before any call.
//! - [`secret`]: the secret's JSON contract, redacting types, the warm-container cache.
//! - [`sql`]: the statement, its parameters, and stitching the 200-character text chunks.
//! - [`redshift`]: Data API submit, deadline-bounded polling with cancel, paging, row mapping.
//! - [`slack`]: message building at Slack's limits and webhook delivery with retries.
//! - [`check`]: the run itself, shared by both entry points, and its summary.
//! - [`lambda`] and [`cli`]: the two entry points; [`logging`]: log set-up for each.
//! - [`error`]: the crate's error type.
//!
//! `src/main.rs` only picks the entry point. The local test stack lives in `devstack/`.

// The Lambda service future (runtime, handler, concurrent targets, SDK calls) nests deeper than
// the compiler's default limit when it computes its layout.
#![recursion_limit = "256"]

pub mod check;
pub mod cli;
pub mod config;
pub mod error;
pub mod lambda;
pub mod logging;
pub mod metrics;
pub mod redshift;
pub mod rules;
pub mod secret;
pub mod slack;
pub mod sql;

pub use check::{App, Summary};
pub use error::Error;
