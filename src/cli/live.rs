//! Glue between a config directory and a live read: which users and groups the config
//! manages, and which tenant it pins.

use licensectl::config::{DesiredState, GroupKey};

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
    out
}
