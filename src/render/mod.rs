//! Rendering: a [`Plan`](crate::plan::Plan) as terminal text, a Markdown pull-request comment,
//! JSON or a self-contained HTML page; the reports of `licensectl reprocess` and
//! `licensectl seats` likewise.
//!
//! Pure functions, data in and `String` out: no I/O, clock or environment, so the same
//! plan always renders byte-identically (PR comments are updated only when the plan
//! really changed). Rendering must not decide anything; the plan already holds it. The text
//! and Markdown renderings format one shared view of the plan (`view`), which decides
//! what each section holds.

// Pure: no clock, environment, filesystem, network or process (clippy.toml).
#![deny(clippy::disallowed_methods, clippy::disallowed_types)]

#[cfg(licensectl_purity_probe)]
#[path = "../purity_probe.rs"]
mod purity_probe;

pub(crate) mod escape;
pub mod explain;
pub mod html;
pub mod json;
pub mod markdown;
pub(crate) mod operations;
pub mod reprocess;
pub mod seats;
pub mod style;
pub mod text;
pub(crate) mod view;

pub use style::Palette;

/// Whether a plan is shown for applying or as a drift report (no apply framing).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Mode {
    /// `licensectl plan`.
    Plan,
    /// `licensectl drift`.
    Drift,
}
