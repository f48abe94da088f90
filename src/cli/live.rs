//! Glue between a config directory and the tenant state: which users and groups the
//! config manages (and what its rules need read), which tenant it pins, reading a snapshot file, and the warnings every
//! tenant read gives.

use std::path::Path;

use licensectl::config::{DesiredState, GroupKey};
use licensectl::diagnostic::escape_value;
use licensectl::graph::RulesRead;
use licensectl::snapshot::TenantSnapshot;

use super::snapshot::ConfigScope;

/// The read scope of a desired state.
pub(crate) fn scope_of(desired: &DesiredState) -> ConfigScope {
    let mut out = ConfigScope {
        pinned_tenant: desired.settings.tenant.as_ref().map(|t| t.value.clone()),
        ..ConfigScope::default()
    };
    out.scope.managed_upns = desired.users.iter().map(|u| u.upn.clone()).collect();
    for g in &desired.groups {
        match &g.key {
            GroupKey::Id(id) => out.scope.managed_group_ids.push(*id),
            GroupKey::Name(name) => out.scope.managed_group_names.push(name.clone()),
        }
    }
    if let Some(needs) = licensectl::plan::rule_needs(desired) {
        out.scope.managed_group_ids.extend(needs.group_ids);
        out.scope.managed_group_names.extend(needs.group_names);
        out.scope.rules = Some(RulesRead {
            attributes: needs.attributes,
            filter: needs.filter,
            all_groups: needs.all_groups,
        });
    }
    out
}

/// Reads the snapshot file `path` (within `LICENSECTL_MAX_SNAPSHOT_BYTES`) and warns about
/// the values in it this licensectl does not know.
pub(crate) fn read_snapshot(path: &Path) -> anyhow::Result<TenantSnapshot> {
    let snapshot = read_snapshot_quietly(path)?;
    warn_unknown_values(&snapshot);
    Ok(snapshot)
}

/// [`read_snapshot`] without the warnings (the caller prints them when it is its turn).
pub(crate) fn read_snapshot_quietly(path: &Path) -> anyhow::Result<TenantSnapshot> {
    Ok(TenantSnapshot::read_limited(
        path,
        super::limits::snapshot_limit()?,
    )?)
}

/// One warning on stderr (unless `--quiet`) per string value Graph sent that this licensectl does not know
/// (a new `state`, `capabilityStatus`, `appliesTo` or `error`): how many objects carry it
/// and one of them. Such values are kept as they are and never fail a read.
pub(crate) fn warn_unknown_values(snapshot: &TenantSnapshot) {
    let unknown = snapshot.unknown_values();
    if unknown.is_empty() {
        return;
    }
    for value in unknown {
        super::ui::note(&format!(
            "warning: {} '{}' is a value this licensectl does not know ({} {}, e.g. {}); it is kept as Graph sent it",
            value.property,
            escape_value(&value.value),
            value.count,
            if value.count == 1 {
                "object"
            } else {
                "objects"
            },
            escape_value(&value.example),
        ));
    }
}
