//! Glue between a config directory and the tenant state: which users and groups the
//! config manages (and what its rules need read), which tenant it pins, reading a snapshot file, and the warnings every
//! tenant read gives.

use std::io::Write;
use std::path::Path;

use licensectl::config::{DesiredState, GroupKey};
use licensectl::diagnostic::escape_value;
use licensectl::graph::RulesRead;
use licensectl::graph::ops_read::{self, Extras, enrich};
use licensectl::snapshot::{ReadOptions, TenantSnapshot, UserFields, UserIndex};

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
        out.extras.sign_ins |= needs.sign_ins;
        out.extras.audits |= needs.audits;
        out.scope.rules = Some(RulesRead {
            attributes: needs.attributes,
            filter: needs.filter,
            all_groups: needs.all_groups,
        });
    }
    out
}

/// Reads the tenant's subscriptions (always; when the command did not ask for them, a
/// failed read only leaves them out) and the `extras` the command asked for into `snapshot`, with a warning on stderr
/// for each asked-for read Graph refused and what it means.
pub(crate) async fn read_extras(
    client: &licensectl::graph::GraphClient,
    snapshot: &mut TenantSnapshot,
    extras: Extras,
) -> anyhow::Result<()> {
    if !extras.subscriptions {
        // Best effort: the plan's lifecycle warnings need them, nothing else does.
        match ops_read::subscriptions(client).await {
            Ok(ops_read::Readable::Read(list)) => snapshot.subscriptions = list,
            Ok(ops_read::Readable::Unavailable { code, .. }) => {
                tracing::debug!(%code, "subscriptions not readable; no lifecycle warnings");
            }
            Err(error) => {
                tracing::debug!(%error, "subscriptions not read; no lifecycle warnings");
            }
        }
    }
    let missing = enrich(client, snapshot, extras).await?;
    let mut stderr = std::io::stderr().lock();
    for m in missing {
        let asked = match m.what {
            "signInActivity" => extras.sign_ins,
            "directoryAudits" => extras.audits,
            _ => extras.subscriptions,
        };
        if !asked {
            continue;
        }
        let why = match m.what {
            "signInActivity" if ops_read::is_non_premium(&m.code) => {
                "the tenant has no Microsoft Entra ID P1 or P2, which sign-in activity needs"
            }
            "signInActivity" => {
                "the app lacks AuditLog.Read.All (and User.Read.All), which sign-in activity needs"
            }
            "directoryAudits" => {
                "the app lacks AuditLog.Read.All and Directory.Read.All (both), which the directory audit log needs"
            }
            _ => {
                "the app lacks Organization.Read.All (or Directory.Read.All), which subscriptions need"
            }
        };
        let _ = writeln!(
            stderr,
            "warning: cannot read {}: {why} (Graph answered {}: {}); the plan reports what that leaves undecided",
            m.what,
            escape_value(&m.code),
            escape_value(&m.message),
        );
    }
    Ok(())
}

/// Reads the snapshot file `path` (within `LICENSECTL_MAX_SNAPSHOT_BYTES`) and warns about
/// the values in it this licensectl does not know.
pub(crate) fn read_snapshot(path: &Path) -> anyhow::Result<TenantSnapshot> {
    let snapshot = read_snapshot_quietly(path, UserFields::All)?;
    warn_unknown_values(&snapshot);
    Ok(snapshot)
}

/// [`read_snapshot`] keeping `fields` of each user, without the warnings (the caller
/// prints them when it is its turn).
pub(crate) fn read_snapshot_quietly(
    path: &Path,
    fields: UserFields,
) -> anyhow::Result<TenantSnapshot> {
    Ok(read_snapshot_indexed(path, fields)?.0)
}

/// [`read_snapshot_quietly`], and the index of its users its check built (for the
/// planner: [`licensectl::plan::plan_indexed`]).
pub(crate) fn read_snapshot_indexed(
    path: &Path,
    fields: UserFields,
) -> anyhow::Result<(TenantSnapshot, UserIndex)> {
    let options = ReadOptions {
        limit: super::limits::snapshot_limit()?,
        users: fields,
        ..ReadOptions::default()
    };
    Ok(TenantSnapshot::read_indexed(path, &options)?)
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
