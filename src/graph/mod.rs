//! Microsoft Graph: endpoints per cloud, the HTTP client (retries, throttling-aware
//! concurrency, paging, `$batch`), Graph's error bodies, and reading a tenant's live
//! license state into a [`crate::snapshot::TenantSnapshot`].
//!
//! This module does network I/O and nothing else: it must not plan, render, print or read
//! the environment (the CLI passes settings in). Tokens come from [`crate::auth`] and are
//! never logged; errors carry Graph's `code` and `request-id`, never a token.

pub mod client;
pub mod cloud;
pub mod error;
pub mod read;
pub mod retry;

pub use client::{ClientOptions, GraphClient};
pub use cloud::{Cloud, Endpoints};
pub use error::{ApiError, GraphError, GraphErrorCode};
pub use retry::{AdaptiveLimiter, RetryPolicy};
