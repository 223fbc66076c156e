//! Finds Amazon Redshift queries that have been running too long and tells a Slack channel.
//!
//! One run: resolve the settings (environment, then event or flags), read the secret (cached
//! for a few minutes in a warm process), submit one statement through the Redshift Data API,
//! poll it within the deadline, read every page of the result, build Block Kit messages within
//! Slack's limits and post them, then return a JSON summary.
//!
//! # Layout
//! Arrows point inward: entry points wire adapters and checks; checks and adapters speak the
//! vocabulary; the vocabulary imports nothing from the crate.
//!
//! | module | what lives there |
//! | --- | --- |
//! | [`model`] | the vocabulary: `Minutes`, `Window`, `Zone`, `Target`, `Connection`, `Mention`, `SecretUrl`, `Masker` |
//! | [`deadline`] | the run's deadline and the only arithmetic on it |
//! | [`input`] | one key-naming reader for every JSON object (event, secret, rules) |
//! | [`settings`] | layers as given (env, event, flags) → resolved `Settings`; `ConfigError` |
//! | [`rules`] | who is told: mentions, exclusions, per-user thresholds |
//! | [`secret`] | the secret's contract, its fetch within the deadline, the warm cache |
//! | [`aws`] | SDK configuration and safe reduction of SDK errors |
//! | [`redshift`] | Data API adapter: submit, poll, cancel, pages → a generic result set |
//! | [`long_queries`] | the check: SQL, text stitching, row reading, selection, message layout |
//! | [`copy`] | every user-visible phrase, one table per language |
//! | [`slack`] | typed Block Kit, safe mrkdwn, delivery with retries, the transports |
//! | [`run`] | one check end to end; [`summary`] its result; [`error`] the error types |
//! | [`lambda`], [`cli`] | the two entry points; [`logging`] and [`metrics`] for each |
//!
//! `src/main.rs` only picks the entry point. The local test stack lives in `devstack/`.

// The Lambda service future (runtime, handler, concurrent targets, SDK calls) nests deeper than
// the compiler's default limit when it computes its layout.
#![recursion_limit = "256"]

pub mod aws;
pub mod blocking;
pub mod cli;
pub mod copy;
pub mod deadline;
pub mod error;
pub mod idle_transactions;
pub mod input;
pub mod interaction;
pub mod lambda;
pub mod logging;
pub mod long_queries;
pub mod metrics;
pub mod model;
pub mod redshift;
pub mod rules;
pub mod run;
pub mod secret;
pub mod settings;
pub mod slack;
pub mod state;
pub mod summary;

pub use error::Error;
pub use run::App;
pub use summary::Summary;
