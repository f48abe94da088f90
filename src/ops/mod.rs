//! License operations beyond a plan of the config: which users to reprocess and what
//! reprocessing did ([`reprocess`]), and the tenant's seats with their lifecycle, idle
//! holders and cost ([`seats`]).
//!
//! Pure, like the planner: each function takes the tenant state (and "now" as data) and
//! returns data; the Graph calls are made by `crate::apply::reprocess`, the rendering by
//! `crate::render`, the printing by the CLI. Nothing here may read a clock, the
//! environment, a file or the network.

// Pure: no clock, environment, filesystem, network or process (clippy.toml).
#![deny(clippy::disallowed_methods, clippy::disallowed_types)]

#[cfg(licensectl_purity_probe)]
#[path = "../purity_probe.rs"]
mod purity_probe;

pub mod reprocess;
pub mod seats;
