//! Saved plans (`plan --out plan.json`): the changes as data for a later `apply`.
//!
//! A saved plan records the tool version, the tenant, a digest of the config it came
//! from, and for every principal it changes a fingerprint of that principal's live
//! license state. `apply` recomputes the fingerprints from the tenant and refuses a stale
//! plan ([`SavedPlan::check_fresh`]). This module converts and checks data; reading and
//! writing files is left to the caller (the CLI).

use std::collections::HashMap;
use std::fmt::Write;
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

use crate::ids::{GroupId, TenantId, UserId};
use crate::snapshot::{Group, TenantSnapshot, User};

use super::model::{AssignLicenseRequest, Change, Plan, Principal};

/// The `format` marker of a saved plan file.
pub const SAVED_PLAN_FORMAT: &str = "licensectl-saved-plan";
/// The saved plan format version this build reads and writes.
pub const SAVED_PLAN_VERSION: u32 = 1;

/// Errors reading or checking a saved plan.
#[derive(Debug, thiserror::Error)]
pub enum SavedPlanError {
    /// Not a saved plan, or corrupt. The JSON error is the message (after the position
    /// it names), so it is kept as data, not as a second cause.
    #[error(
        "{path}:{}:{}: not a licensectl saved plan: {}",
        .error.line(),
        .error.column(),
        crate::snapshot::json_error_message(&.error.to_string())
    )]
    Parse {
        /// The file.
        path: PathBuf,
        /// The JSON error (its `line()` and `column()` are 1-based).
        error: serde_json::Error,
    },
    /// Written by an incompatible version.
    #[error(
        "{path}: saved plan format {format} version {found} is not supported (this licensectl reads {SAVED_PLAN_FORMAT} version {SAVED_PLAN_VERSION}); run `licensectl plan --out` again"
    )]
    Version {
        /// The file.
        path: PathBuf,
        /// The `format` found.
        format: String,
        /// The version found.
        found: u32,
    },
    /// The plan is for another tenant.
    #[error(
        "the saved plan is for tenant {planned} but the tenant is {live}; run `licensectl plan --out` against the right tenant"
    )]
    WrongTenant {
        /// Tenant in the plan.
        planned: TenantId,
        /// Tenant being applied to.
        live: TenantId,
    },
    /// The live state moved since the plan was made.
    #[error(
        "the saved plan is stale: {} principal(s) changed since it was made ({}); run `licensectl plan --out` again and review the new plan",
        .stale.len(), .stale.join(", ")
    )]
    Stale {
        /// `kind name` of each principal whose license state changed or vanished.
        stale: Vec<String>,
    },
}

/// One change with the fingerprint of the principal's live state it was planned from.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SavedChange {
    /// The change.
    pub change: Change,
    /// The exact `assignLicense` body to send (absent when only the usage location changes).
    pub request: Option<AssignLicenseRequest>,
    /// `sha256:` of the principal's live license state when planned.
    pub live_fingerprint: String,
}

/// A saved plan file.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SavedPlan {
    /// Always [`SAVED_PLAN_FORMAT`].
    pub format: String,
    /// [`SAVED_PLAN_VERSION`].
    pub format_version: u32,
    /// licensectl version that made the plan.
    pub tool_version: String,
    /// Tenant planned against.
    pub tenant_id: TenantId,
    /// Its domain, when known.
    pub tenant_domain: Option<String>,
    /// `sha256:` digest of the config directory (from the config loader).
    pub config_digest: String,
    /// The changes, in plan order.
    pub changes: Vec<SavedChange>,
}

impl SavedPlan {
    /// Captures `plan`, made from `live` and a config with digest `config_digest`.
    pub fn new(plan: &Plan, live: &TenantSnapshot, config_digest: &str) -> Self {
        let users: HashMap<UserId, &User> = live.users.iter().map(|u| (u.id, u)).collect();
        let groups: HashMap<GroupId, &Group> = live.groups.iter().map(|g| (g.id, g)).collect();
        let changes = plan
            .changes
            .iter()
            .map(|change| SavedChange {
                live_fingerprint: fingerprint_of(&change.principal, &users, &groups)
                    .unwrap_or_default(),
                request: change
                    .has_license_call()
                    .then(|| change.assign_license_request()),
                change: change.clone(),
            })
            .collect();
        SavedPlan {
            format: SAVED_PLAN_FORMAT.to_owned(),
            format_version: SAVED_PLAN_VERSION,
            tool_version: env!("CARGO_PKG_VERSION").to_owned(),
            tenant_id: plan.tenant_id,
            tenant_domain: plan.tenant_domain.clone(),
            config_digest: config_digest.to_owned(),
            changes,
        }
    }

    /// Pretty JSON with a trailing newline.
    pub fn to_json(&self) -> String {
        // Plain data with string keys: serialization cannot fail.
        let mut text = serde_json::to_string_pretty(self).unwrap_or_default();
        text.push('\n');
        text
    }

    /// Parses a saved plan; `path` names the source in errors.
    pub fn from_json(text: &str, path: &Path) -> Result<Self, SavedPlanError> {
        #[derive(Deserialize)]
        struct Header {
            format: String,
            format_version: u32,
        }
        let parse_error = |error| SavedPlanError::Parse {
            path: path.to_owned(),
            error,
        };
        let header: Header = serde_json::from_str(text).map_err(parse_error)?;
        if header.format != SAVED_PLAN_FORMAT || header.format_version != SAVED_PLAN_VERSION {
            return Err(SavedPlanError::Version {
                path: path.to_owned(),
                format: header.format,
                found: header.format_version,
            });
        }
        serde_json::from_str(text).map_err(parse_error)
    }

    /// Refuses the plan when the tenant differs or any changed principal's live license
    /// state no longer matches its fingerprint.
    pub fn check_fresh(&self, live: &TenantSnapshot) -> Result<(), SavedPlanError> {
        if live.tenant_id != self.tenant_id {
            return Err(SavedPlanError::WrongTenant {
                planned: self.tenant_id,
                live: live.tenant_id,
            });
        }
        let users: HashMap<UserId, &User> = live.users.iter().map(|u| (u.id, u)).collect();
        let groups: HashMap<GroupId, &Group> = live.groups.iter().map(|g| (g.id, g)).collect();
        let stale: Vec<String> = self
            .changes
            .iter()
            .filter(|c| {
                fingerprint_of(&c.change.principal, &users, &groups).as_deref()
                    != Some(c.live_fingerprint.as_str())
            })
            .map(|c| {
                format!(
                    "{} {}",
                    c.change.principal.kind(),
                    c.change.principal.name()
                )
            })
            .collect();
        if stale.is_empty() {
            Ok(())
        } else {
            Err(SavedPlanError::Stale { stale })
        }
    }
}

fn fingerprint_of(
    principal: &Principal,
    users: &HashMap<UserId, &User>,
    groups: &HashMap<GroupId, &Group>,
) -> Option<String> {
    match principal {
        Principal::User { id, .. } => users.get(id).map(|u| user_fingerprint(u)),
        Principal::Group { id, .. } => groups.get(id).map(|g| group_fingerprint(g)),
    }
}

fn license_lines<'a>(
    licenses: impl Iterator<Item = (&'a crate::ids::SkuId, &'a [crate::ids::ServicePlanId])>,
    prefix: &str,
) -> Vec<String> {
    let mut lines: Vec<String> = licenses
        .map(|(sku, disabled)| {
            let mut plans: Vec<String> = disabled.iter().map(ToString::to_string).collect();
            plans.sort();
            format!("{prefix} {sku} {}", plans.join(","))
        })
        .collect();
    lines.sort();
    lines
}

fn digest(lines: &[String]) -> String {
    let mut hasher = Sha256::new();
    for line in lines {
        hasher.update(line.as_bytes());
        hasher.update(b"\n");
    }
    let mut out = String::from("sha256:");
    for byte in hasher.finalize() {
        let _ = write!(out, "{byte:02x}");
    }
    out
}

/// Fingerprint of a user's license state: usage location, `assignedLicenses` and
/// `licenseAssignmentStates` (sources and states), order-independent.
pub fn user_fingerprint(user: &User) -> String {
    let mut lines = vec![
        format!("user {}", user.id),
        format!(
            "usageLocation {}",
            user.usage_location.as_deref().unwrap_or("-")
        ),
    ];
    lines.extend(license_lines(
        user.assigned_licenses
            .iter()
            .map(|l| (&l.sku_id, l.disabled_plans.as_slice())),
        "assigned",
    ));
    let mut states: Vec<String> = user
        .license_assignment_states
        .iter()
        .map(|s| {
            let mut plans: Vec<String> = s.disabled_plans.iter().map(ToString::to_string).collect();
            plans.sort();
            format!(
                "state {} {} {:?} {}",
                s.sku_id,
                s.assigned_by_group
                    .map_or_else(|| "direct".to_owned(), |g| g.to_string()),
                s.state,
                plans.join(",")
            )
        })
        .collect();
    states.sort();
    lines.extend(states);
    digest(&lines)
}

/// Fingerprint of a group's own `assignedLicenses`, order-independent.
pub fn group_fingerprint(group: &Group) -> String {
    let mut lines = vec![format!("group {}", group.id)];
    lines.extend(license_lines(
        group
            .assigned_licenses
            .iter()
            .map(|l| (&l.sku_id, l.disabled_plans.as_slice())),
        "assigned",
    ));
    digest(&lines)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::plan::{PlanOptions, plan};
    use crate::snapshot::AssignedLicense;

    fn contoso() -> TenantSnapshot {
        let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("examples/contoso/tenant.json");
        TenantSnapshot::read(&path).expect("contoso snapshot")
    }

    fn saved_plan(live: &TenantSnapshot) -> SavedPlan {
        // A plan that removes carol's only license: one change.
        let mut desired = crate::config::DesiredState::default();
        desired.users.push(crate::config::DesiredUser {
            upn: "carol@contoso.com".into(),
            location: crate::diagnostic::Location {
                file: Path::new("licenses/sales.yaml").into(),
                line: 16,
                column: 3,
            },
            usage_location: None,
            licenses: Some(Vec::new()),
        });
        let plan = plan(&desired, live, &PlanOptions::default());
        assert_eq!(plan.changes.len(), 1);
        SavedPlan::new(&plan, live, "sha256:abc")
    }

    #[test]
    fn a_saved_plan_round_trips_and_is_fresh_against_its_own_tenant() {
        let live = contoso();
        let saved = saved_plan(&live);
        assert!(saved.changes[0].live_fingerprint.starts_with("sha256:"));
        let request = saved.changes[0].request.as_ref().expect("assignLicense");
        assert_eq!(request.remove_licenses.len(), 1);
        let text = saved.to_json();
        let back = SavedPlan::from_json(&text, Path::new("plan.json")).expect("parses");
        assert_eq!(back, saved);
        assert!(back.check_fresh(&live).is_ok());
    }

    #[test]
    fn a_stale_plan_is_refused_naming_the_principal() {
        let mut live = contoso();
        let saved = saved_plan(&live);
        let carol = live
            .users
            .iter_mut()
            .find(|u| u.user_principal_name == "carol@contoso.com")
            .expect("carol");
        carol.assigned_licenses.push(AssignedLicense {
            sku_id: "f8a1db68-be16-40ed-86d5-cb42ce701560"
                .parse()
                .expect("guid"),
            disabled_plans: Vec::new(),
        });
        let error = saved.check_fresh(&live).expect_err("stale");
        assert!(
            error.to_string().contains("user carol@contoso.com"),
            "{error}"
        );
        // Reordering does not make a plan stale.
        let mut live = contoso();
        for user in &mut live.users {
            user.assigned_licenses.reverse();
            user.license_assignment_states.reverse();
        }
        live.users.reverse();
        assert!(saved.check_fresh(&live).is_ok());
        live.tenant_id = "00000000-0000-0000-0000-000000000001"
            .parse()
            .expect("guid");
        assert!(matches!(
            saved.check_fresh(&live),
            Err(SavedPlanError::WrongTenant { .. })
        ));
    }

    #[test]
    fn foreign_files_are_refused_with_the_version_found() {
        let path = Path::new("plan.json");
        let error = SavedPlan::from_json(r#"{"format":"other","format_version":7}"#, path)
            .expect_err("refused");
        assert!(
            error.to_string().contains("format other version 7"),
            "{error}"
        );
        let error = SavedPlan::from_json("{\n  \"format\": 1\n}", path).expect_err("refused");
        assert!(error.to_string().starts_with("plan.json:2:"), "{error}");
    }
}
