//! Planning: desired state + live tenant → a [`Plan`] of license changes.
//!
//! [`resolve`] turns config names into tenant GUIDs, [`rules`] finds which users attribute
//! rules govern and what they give them, [`planner`] computes the changes (pure: no I/O,
//! clock or environment), [`effect`] derives the tenant the changes leave,
//! [`dependencies`] checks service plan dependencies on it, [`observe`] reports stacked
//! plans and licenses kept through groups, [`seats`] does the seat arithmetic, [`safety`]
//! applies the blast-radius limits, and [`saved`] writes and checks plan files for a later
//! apply. Rendering lives in `crate::render`; this module returns data only.

// Pure: no clock, environment, filesystem, network or process (clippy.toml).
#![deny(clippy::disallowed_methods, clippy::disallowed_types)]

#[cfg(licensectl_purity_probe)]
#[path = "../purity_probe.rs"]
mod purity_probe;

pub(crate) mod activity;
pub(crate) mod dependencies;
pub(crate) mod effect;
pub(crate) mod expiry;
#[cfg(test)]
pub(crate) mod fixture;
pub(crate) mod migrate;
pub(crate) mod model;
pub(crate) mod observe;
pub(crate) mod planner;
pub(crate) mod prices;
pub(crate) mod resolve;
pub(crate) mod rules;
pub(crate) mod safety;
pub mod saved;
pub(crate) mod seats;

pub use migrate::MigrationReport;
pub use model::*;
pub use planner::{PlanOptions, plan, plan_indexed};
pub use prices::{Money, SeatValue, totals};
pub use resolve::tenant_pin_problem;
pub use rules::explain::{
    ConditionResult, ExplainError, Explanation, GroupGrant, Held, RuleResult, explain,
};
pub use rules::{RuleNeeds, rule_needs, user_fields};

#[cfg(test)]
mod tests;
