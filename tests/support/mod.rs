//! What the integration tests share, one concern a file: the local stack and the binary's CLI
//! ([`stack`]), the cluster scenarios the local Redshift runs the real SQL over ([`cluster`]),
//! the Lambda harness ([`lambda`]), and reading what Slack received ([`slack`]).
#![allow(dead_code, unused_imports)] // each test file uses a different part of this module

pub mod cluster;
pub mod lambda;
pub mod slack;
pub mod stack;
pub mod thread;

pub use cluster::{at, query, NOW};
pub use slack::{block_texts, pids_in};
pub use stack::{assert_no_secret, event_file, Stack, BIN, DB_USER, WEBHOOK_TOKEN};
