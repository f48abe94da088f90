//! The emulator's integration tests, one binary: conformance of its Graph endpoints
//! (`api`), authentication, throttling and faults (`auth_limits`), and fidelity to
//! Microsoft's documented samples (`fidelity`), eventual consistency and the license
//! history (`consistency`), service-plan dependencies and exclusions (`plan_rules`), permissions per endpoint and
//! delegated tokens (`permissions`), reprocessing, license error listings and subscriptions
//! (`endpoints`), the directory audit log (`audits`), seats in grace and suspended subscriptions (`seats`), and the server's own limits
//! (`hardening`). `common` holds the shared tenant fixture
//! and HTTP helpers.

mod api;
mod audits;
mod auth_limits;
mod common;
mod consistency;
mod endpoints;
mod fidelity;
mod hardening;
mod permissions;
mod plan_rules;
mod seats;
