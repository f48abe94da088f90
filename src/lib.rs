//! licensectl: Microsoft 365 license assignment as code.
//!
//! The pipeline: config files → [`config`] (parse, validate) → desired state; Graph or a
//! snapshot file → [`snapshot`] (live state); desired + live → plan (pure) → render or
//! apply. Only the edges do I/O: the CLI, config loading, the Graph client, snapshot
//! fetch, apply and the emulator. The planner and renderers take data and return data.

pub mod apply;
pub mod auth;
pub mod cli;
pub mod config;
pub mod diagnostic;
pub mod emulator;
pub mod export;
pub mod graph;
pub mod ids;
pub mod plan;
pub mod render;
pub mod snapshot;
