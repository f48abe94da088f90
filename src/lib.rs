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

/// The source this licensectl was built from: the git commit (12 hex digits) and that
/// commit's date, `d9df61c3c32c 2026-12-01`, or `unknown` (with a date when the build
/// had one) for a build outside a git checkout; set by `build.rs`.
pub const BUILD: &str = env!("LICENSECTL_BUILD");

/// The version as `licensectl --version` shows it and the apply journal records it:
/// `0.1.0 (d9df61c3c32c 2026-12-01)`.
pub const VERSION: &str = concat!(
    env!("CARGO_PKG_VERSION"),
    " (",
    env!("LICENSECTL_BUILD"),
    ")"
);
