//! The emulator's integration tests, one binary: conformance of its Graph endpoints
//! (`api`), authentication, throttling and faults (`auth_limits`), and fidelity to
//! Microsoft's documented samples (`fidelity`), eventual consistency and the license
//! history (`consistency`), service-plan dependencies and exclusions (`plan_rules`). `common` holds the shared tenant fixture
//! and HTTP helpers.

mod api;
mod auth_limits;
mod common;
mod consistency;
mod fidelity;
mod plan_rules;
