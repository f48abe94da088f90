//! Microsoft Graph: endpoints per cloud, the HTTP client (retries, throttling-aware
//! concurrency, paging, `$batch`), Graph's error bodies, and reading a tenant's live
//! license state into a [`crate::snapshot::TenantSnapshot`].
//!
//! This module does network I/O and nothing else: it must not plan, render, print or read
//! the environment (the CLI passes settings in). Tokens come from [`crate::auth`] and are
//! never logged; errors carry Graph's `code` and `request-id`, never a token.

pub(crate) mod client;
pub(crate) mod cloud;
pub(crate) mod error;
pub mod ops_read;
pub(crate) mod ranges;
pub(crate) mod read;
pub(crate) mod retry;

pub use client::{
    BATCH_MAX, ClientOptions, ClientStats, GraphClient, MAX_PAGES, MAX_RESPONSE_BYTES, PAGE_SIZE,
};
pub use cloud::{Cloud, Endpoints};
pub use error::{ApiError, GraphError, GraphErrorCode};
pub use read::{
    IN_FILTER_MAX, LicensedUsersStrategy, NoProgress, RANGES_MIN_PAGES, ReadEvent, ReadProgress,
    ReadScope, RulesRead, per_sku_rounds, read_tenant, tenant_domains, tenant_domains_if_allowed,
    users_by_upn,
};
pub use retry::{AdaptiveLimiter, RetryPolicy};
