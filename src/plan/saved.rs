//! Saved plans (`plan --out plan.json`): the changes as data for a later `apply`.
//!
//! A saved plan records the tool version, the tenant, a digest of the config it came
//! from, and for every principal it changes a fingerprint of that principal's live
//! license state. The file is review information, never an instruction: `apply`
//! recomputes the fingerprints from the tenant and refuses a stale plan
//! ([`SavedPlan::check_fresh`]), then recomputes the plan from the config and the tenant
//! and refuses unless the saved changes are exactly the recomputed ones
//! ([`SavedPlan::check_changes`]); what it sends is always the recomputed plan. (The
//! fingerprints are plain SHA-256 that anyone can recompute: they detect a tenant that
//! moved, not an edited file.) This module converts and checks data; reading and writing
//! files is left to the caller (the CLI).

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::fmt::Write;
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

use crate::ids::{GroupId, ServicePlanId, SkuId, TenantId, UserId};
use crate::snapshot::{Group, TenantSnapshot, User};

use super::model::{Change, Plan, Principal};

/// The `format` marker of a saved plan file.
pub const SAVED_PLAN_FORMAT: &str = "licensectl-saved-plan";
/// The saved plan format version this build reads and writes. Version 2 dropped the
/// `request` field of each change (apply never sent it: it recomputes the plan).
pub const SAVED_PLAN_VERSION: u32 = 2;

/// Most principals named in a "changes differ" refusal (the rest are counted).
const NAMED_DIFFERENCES: usize = 10;

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
    /// Written by an incompatible version (or not a saved plan).
    #[error(
        "{path}: saved plan format {format} version {found} is not supported (this licensectl reads {SAVED_PLAN_FORMAT} version {SAVED_PLAN_VERSION}{}); run `licensectl plan --out` again",
        if .format == SAVED_PLAN_FORMAT && *.found < SAVED_PLAN_VERSION { "; the file was made by an older licensectl" } else { "" }
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
    /// The saved changes are not the ones the config gives against the live tenant: the
    /// file was edited (or the tenant moved for a principal the plan did not change).
    #[error(
        "the saved plan's changes differ from what the config gives: {}{}; nothing was applied: run `licensectl plan --out` again and review the new plan (an unedited plan differs only when the tenant changed since it was made)",
        .differences.iter().take(NAMED_DIFFERENCES).cloned().collect::<Vec<_>>().join("; "),
        if .differences.len() > NAMED_DIFFERENCES { format!("; and {} more", .differences.len() - NAMED_DIFFERENCES) } else { String::new() }
    )]
    Differs {
        /// `kind name (what differs)` for each principal whose change differs.
        differences: Vec<String>,
    },
}

/// One change with the fingerprint of the principal's live state it was planned from.
/// The change is what the reviewed plan showed; apply compares it with the recomputed
/// change and never sends it as it is.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SavedChange {
    /// The change.
    pub change: Change,
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

    /// Refuses the plan unless its changes are exactly `current`, the changes the config
    /// gives against `live` now (compared per principal, in any order). Each differing
    /// principal is named as the tenant names it, with what differs; SKU names come from
    /// the tenant too, never from the file.
    pub fn check_changes(
        &self,
        live: &TenantSnapshot,
        current: &[Change],
    ) -> Result<(), SavedPlanError> {
        let names = Names::new(live);
        let mut saved: BTreeMap<(u8, String), Vec<&Change>> = BTreeMap::new();
        for c in &self.changes {
            saved
                .entry(principal_key(&c.change.principal))
                .or_default()
                .push(&c.change);
        }
        let recomputed: BTreeMap<(u8, String), &Change> = current
            .iter()
            .map(|c| (principal_key(&c.principal), c))
            .collect();
        let keys: BTreeSet<&(u8, String)> = saved.keys().chain(recomputed.keys()).collect();
        let mut differences = Vec::new();
        for key in keys {
            let ours = recomputed.get(key).copied();
            let theirs = saved.get(key).map(Vec::as_slice).unwrap_or_default();
            let principal = ours
                .map(|c| &c.principal)
                .or_else(|| theirs.first().map(|c| &c.principal));
            let Some(principal) = principal else {
                continue;
            };
            let what = match (theirs, ours) {
                ([], Some(_)) => Some("missing from the saved plan".to_owned()),
                ([one], mine) => describe_difference(one, mine, &names),
                (many, _) => Some(format!("listed {} times in the saved plan", many.len())),
            };
            if let Some(what) = what {
                differences.push((key.0, names.principal(principal), what));
            }
        }
        // Groups first, then users, each by name (as plans list them).
        differences.sort();
        let differences: Vec<String> = differences
            .into_iter()
            .map(|(_, who, what)| format!("{who} ({what})"))
            .collect();
        if differences.is_empty() {
            Ok(())
        } else {
            Err(SavedPlanError::Differs { differences })
        }
    }
}

/// A principal's identity for comparing changes: its kind and object id (never its name,
/// which the file may misstate).
fn principal_key(principal: &Principal) -> (u8, String) {
    let kind = match principal {
        Principal::User { .. } => 1,
        Principal::Group { .. } => 0,
    };
    (kind, principal.id_string())
}

/// Names as the tenant gives them, for refusal messages.
struct Names<'a> {
    skus: HashMap<SkuId, &'a str>,
    users: HashMap<UserId, &'a str>,
    groups: HashMap<GroupId, &'a str>,
}

impl<'a> Names<'a> {
    fn new(live: &'a TenantSnapshot) -> Self {
        Self {
            skus: live
                .subscribed_skus
                .iter()
                .map(|s| (s.sku_id, s.sku_part_number.as_str()))
                .collect(),
            users: live
                .users
                .iter()
                .map(|u| (u.id, u.user_principal_name.as_str()))
                .collect(),
            groups: live
                .groups
                .iter()
                .map(|g| (g.id, g.display_name.as_str()))
                .collect(),
        }
    }

    fn sku(&self, id: SkuId) -> String {
        self.skus
            .get(&id)
            .map_or_else(|| id.to_string(), |s| (*s).to_owned())
    }

    /// `user UPN` or `group NAME` from the tenant, else the id.
    fn principal(&self, principal: &Principal) -> String {
        let name = match principal {
            Principal::User { id, .. } => self.users.get(id).map(|n| (*n).to_owned()),
            Principal::Group { id, .. } => self.groups.get(id).map(|n| (*n).to_owned()),
        };
        format!(
            "{} {}",
            principal.kind(),
            name.unwrap_or_else(|| principal.id_string())
        )
    }
}

/// The writes a change makes: the usage location it sets, the licenses it adds or
/// updates (with their sorted `disabledPlans`) and the SKUs it removes.
#[derive(PartialEq, Eq)]
struct Writes {
    usage_location: Option<String>,
    assign: BTreeMap<SkuId, Vec<ServicePlanId>>,
    remove: BTreeSet<SkuId>,
}

impl Writes {
    fn of(change: &Change) -> Self {
        let request = change.assign_license_request();
        Writes {
            usage_location: change.usage_location.as_ref().map(|u| u.to.clone()),
            assign: request
                .add_licenses
                .into_iter()
                .map(|l| {
                    let mut plans = l.disabled_plans;
                    plans.sort();
                    plans.dedup();
                    (l.sku_id, plans)
                })
                .collect(),
            remove: request.remove_licenses.into_iter().collect(),
        }
    }
}

/// What differs between a saved change and the recomputed one (`None`: the config gives
/// no change for the principal), briefly; `None` when they are the same.
fn describe_difference(
    saved: &Change,
    current: Option<&Change>,
    names: &Names<'_>,
) -> Option<String> {
    if current == Some(saved) {
        return None;
    }
    let theirs = Writes::of(saved);
    let Some(current) = current else {
        let mut what: Vec<String> = Vec::new();
        if let Some(to) = &theirs.usage_location {
            what.push(format!("set usage location {to}"));
        }
        what.extend(
            theirs
                .assign
                .keys()
                .map(|s| format!("add {}", names.sku(*s))),
        );
        what.extend(
            theirs
                .remove
                .iter()
                .map(|s| format!("remove {}", names.sku(*s))),
        );
        return Some(if what.is_empty() {
            "the config gives no change".to_owned()
        } else {
            format!(
                "the config gives no change; the file would {}",
                what.join(", ")
            )
        });
    };
    let ours = Writes::of(current);
    if theirs == ours {
        return Some("same writes, but its description (names, flags) differs".to_owned());
    }
    let mut what: Vec<String> = Vec::new();
    match (&theirs.usage_location, &ours.usage_location) {
        (Some(a), Some(b)) if a != b => {
            what.push(format!("sets usage location {a}, the config gives {b}"));
        }
        (Some(a), None) => what.push(format!(
            "sets usage location {a}, which the config does not"
        )),
        (None, Some(b)) => what.push(format!("does not set usage location {b}")),
        _ => {}
    }
    for (sku, plans) in &theirs.assign {
        match ours.assign.get(sku) {
            None if ours.remove.contains(sku) => {
                what.push(format!(
                    "adds {}, which the config removes",
                    names.sku(*sku)
                ));
            }
            None => what.push(format!(
                "adds {}, which the config does not give",
                names.sku(*sku)
            )),
            Some(mine) if mine != plans => what.push(format!(
                "gives {} other disabled plans than the config",
                names.sku(*sku)
            )),
            Some(_) => {}
        }
    }
    for sku in ours
        .assign
        .keys()
        .filter(|s| !theirs.assign.contains_key(s))
    {
        what.push(format!(
            "does not add {}, which the config gives",
            names.sku(*sku)
        ));
    }
    for sku in theirs.remove.difference(&ours.remove) {
        what.push(format!(
            "removes {}, which the config keeps",
            names.sku(*sku)
        ));
    }
    for sku in ours.remove.difference(&theirs.remove) {
        what.push(format!(
            "does not remove {}, which the config removes",
            names.sku(*sku)
        ));
    }
    Some(what.join(", "))
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
        let text = saved.to_json();
        assert!(
            !text.contains("\"request\""),
            "no request body: apply never sends the file's changes as they are"
        );
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

    fn example_plan() -> (TenantSnapshot, Plan, SavedPlan) {
        let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("examples/contoso");
        let desired = crate::config::load(&dir).desired.expect("example config");
        let live = contoso();
        let plan = plan(&desired, &live, &PlanOptions::default());
        let saved = SavedPlan::new(&plan, &live, "sha256:abc");
        (live, plan, saved)
    }

    fn change_of<'a>(saved: &'a mut SavedPlan, name: &str) -> &'a mut Change {
        &mut saved
            .changes
            .iter_mut()
            .find(|c| c.change.principal.name() == name)
            .expect("a change for the principal")
            .change
    }

    fn differences(result: Result<(), SavedPlanError>) -> Vec<String> {
        match result {
            Err(SavedPlanError::Differs { differences }) => differences,
            other => panic!("expected a difference, got {other:?}"),
        }
    }

    #[test]
    fn a_saved_plan_applies_only_when_its_changes_are_the_recomputed_ones() {
        let (live, plan, saved) = example_plan();
        assert!(!plan.changes.is_empty());
        assert!(saved.check_changes(&live, &plan.changes).is_ok());
        // Order does not matter: the changes are compared per principal.
        let mut reordered = saved.clone();
        reordered.changes.reverse();
        assert!(reordered.check_changes(&live, &plan.changes).is_ok());
    }

    #[test]
    fn an_edited_saved_plan_is_refused_naming_each_principal_and_what_differs() {
        let (live, plan, saved) = example_plan();
        let ceo = live
            .users
            .iter()
            .find(|u| u.user_principal_name == "ceo@contoso.com")
            .expect("ceo");
        let e5 = live
            .subscribed_skus
            .iter()
            .find(|s| s.sku_part_number == "SPE_E5")
            .expect("E5");
        let power_bi = live
            .subscribed_skus
            .iter()
            .find(|s| s.sku_part_number == "POWER_BI_PRO")
            .expect("Power BI");
        let mut edited = saved.clone();
        // A change the config does not give, under a misleading name.
        edited.changes.push(SavedChange {
            change: Change {
                principal: Principal::User {
                    id: ceo.id,
                    name: "intern@contoso.com".into(),
                },
                usage_location: None,
                add: Vec::new(),
                update: Vec::new(),
                remove: vec![super::super::model::LicenseRemove {
                    sku: super::super::model::SkuName {
                        part_number: "NOT_E5".into(),
                        id: e5.sku_id,
                    },
                    destructive: false,
                    exchange_grace: false,
                    still_inherited_from: Vec::new(),
                    swapped_for: Vec::new(),
                }],
                rules: None,
            },
            live_fingerprint: user_fingerprint(ceo),
        });
        // A license the config does not give.
        change_of(&mut edited, "bob@contoso.com")
            .add
            .push(super::super::model::LicenseAdd {
                sku: super::super::model::SkuName {
                    part_number: "POWER_BI_PRO".into(),
                    id: power_bi.sku_id,
                },
                disabled_plans: Vec::new(),
                already_inherited: false,
            });
        // A removal left out, and a change dropped.
        change_of(&mut edited, "carol@contoso.com").remove.clear();
        edited
            .changes
            .retain(|c| c.change.principal.name() != "erin@contoso.com");
        // Only the description differs.
        change_of(&mut edited, "grace@contoso.com").remove[0].destructive ^= true;
        let found = differences(edited.check_changes(&live, &plan.changes));
        let carol_removes: Vec<&str> = plan
            .changes
            .iter()
            .find(|c| c.principal.name() == "carol@contoso.com")
            .expect("carol")
            .remove
            .iter()
            .map(|r| r.sku.part_number.as_str())
            .collect();
        assert_eq!(
            found,
            vec![
                "user bob@contoso.com (adds POWER_BI_PRO, which the config does not give)"
                    .to_owned(),
                format!(
                    "user carol@contoso.com ({})",
                    carol_removes
                        .iter()
                        .map(|s| format!("does not remove {s}, which the config removes"))
                        .collect::<Vec<_>>()
                        .join(", ")
                ),
                "user ceo@contoso.com (the config gives no change; the file would remove SPE_E5)"
                    .to_owned(),
                "user erin@contoso.com (missing from the saved plan)".to_owned(),
                "user grace@contoso.com (same writes, but its description (names, flags) differs)"
                    .to_owned(),
            ]
        );
        let message = SavedPlanError::Differs { differences: found }.to_string();
        assert!(
            message.starts_with(
                "the saved plan's changes differ from what the config gives: user bob@contoso.com"
            ),
            "{message}"
        );
        assert!(message.contains("nothing was applied"), "{message}");
    }

    #[test]
    fn a_principal_listed_twice_in_a_saved_plan_is_refused() {
        let (live, plan, saved) = example_plan();
        let mut edited = saved.clone();
        let twice = edited.changes[0].clone();
        let name = twice.change.principal.name().to_owned();
        edited.changes.push(twice);
        let found = differences(edited.check_changes(&live, &plan.changes));
        assert_eq!(found.len(), 1);
        assert!(
            found[0].ends_with(&format!("{name} (listed 2 times in the saved plan)")),
            "{found:?}"
        );
    }

    #[test]
    fn a_saved_plan_of_an_older_format_version_is_refused_as_made_by_an_older_licensectl() {
        let path = Path::new("plan.json");
        let old = format!(r#"{{"format":"{SAVED_PLAN_FORMAT}","format_version":1}}"#);
        let error = SavedPlan::from_json(&old, path).expect_err("refused");
        assert_eq!(
            error.to_string(),
            format!(
                "plan.json: saved plan format {SAVED_PLAN_FORMAT} version 1 is not supported (this licensectl reads {SAVED_PLAN_FORMAT} version 2; the file was made by an older licensectl); run `licensectl plan --out` again"
            )
        );
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
