//! licensectl: Microsoft 365 license assignment as code.
//!
//! The pipeline: config files → [`config`] (parse, validate) → desired state; Graph or a
//! snapshot file → [`snapshot`] (live state); desired + live → [`plan`] (pure) →
//! [`render`] or [`apply`]. Only the edges do I/O: config loading, the Graph client
//! ([`graph`], [`auth`]), snapshot fetch, apply and the emulator (its own crate,
//! `graph-emulator`). The planner, renderers, diagnostics and exporter take data and return
//! data; `clippy.toml` keeps them free of clock, environment, filesystem and network calls.
//! The command-line interface is private to the `licensectl` binary.

pub mod apply;
pub mod auth;
pub mod config;
pub mod diagnostic;
pub mod export;
pub mod gitops;
pub mod graph;
pub mod ops;
pub mod plan;
pub mod render;

pub use licensectl_model::{ids, snapshot};
