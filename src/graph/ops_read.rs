//! Reads for license operations, beyond the license state `read` gives: the tenant's
//! commercial subscriptions, the users' sign-in activity, the directory audit log's
//! account entries, and the groups (and their members) with license errors.
//!
//! Each read that needs a permission or a licence the app or tenant may lack answers
//! [`Readable::Unavailable`] with Graph's reason instead of failing the whole read: the
//! caller decides whether that matters (the planner says so where a rule needs the data).
//! Network I/O only; nothing here decides or prints.

use std::collections::HashMap;

use serde::Deserialize;

use crate::ids::{GroupId, UserId};
use crate::snapshot::{CompanySubscription, DirectoryAudit, SignInActivity};

use super::client::{GraphClient, PAGE_SIZE};
use super::error::{GraphError, GraphErrorCode};

/// A read that may be refused for lack of a permission or a licence.
#[derive(Debug, Clone, PartialEq)]
pub enum Readable<T> {
    /// The data.
    Read(T),
    /// Graph refused it (403): the code and message it gave.
    Unavailable {
        /// Graph's error code, e.g. `Authorization_RequestDenied`.
        code: String,
        /// Graph's message.
        message: String,
    },
}

impl<T> Readable<T> {
    /// The data, when read.
    pub fn into_read(self) -> Option<T> {
        match self {
            Readable::Read(value) => Some(value),
            Readable::Unavailable { .. } => None,
        }
    }
}

/// `Ok(Unavailable)` for a 403, else the result as it is.
fn refused_is_unavailable<T>(result: Result<T, GraphError>) -> Result<Readable<T>, GraphError> {
    match result {
        Ok(value) => Ok(Readable::Read(value)),
        Err(GraphError::Api { error, .. }) if error.status == 403 => Ok(Readable::Unavailable {
            code: error.code.as_str().to_owned(),
            message: error.message.clone(),
        }),
        Err(error) => Err(error),
    }
}

/// The properties of `companySubscription` licensectl reads.
const SUBSCRIPTION_SELECT: &str = "id,commerceSubscriptionId,skuId,skuPartNumber,status,totalLicenses,isTrial,createdDateTime,nextLifecycleDateTime";

/// `GET /directory/subscriptions` (Organization.Read.All or Directory.Read.All,
/// https://learn.microsoft.com/en-us/graph/api/directory-list-subscriptions#permissions).
pub async fn subscriptions(
    client: &GraphClient,
) -> Result<Readable<Vec<CompanySubscription>>, GraphError> {
    let url = client.url(&format!(
        "directory/subscriptions?$select={SUBSCRIPTION_SELECT}"
    ))?;
    refused_is_unavailable(client.list_all(url, &[]).await)
}

#[derive(Deserialize)]
struct SignIns {
    id: UserId,
    #[serde(rename = "signInActivity", default)]
    sign_in_activity: Option<SignInActivity>,
}

/// Every user's `signInActivity`, by id; a user who never signed in gets an empty one
/// (Graph leaves the property out). Needs AuditLog.Read.All besides a users permission,
/// and Microsoft Entra ID P1 or P2: Graph answers 403
/// `Authentication_RequestFromNonPremiumTenantOrB2CTenant` without it
/// (https://learn.microsoft.com/en-us/graph/api/resources/signinactivity). That 403 has
/// been reported to come and go on P1 tenants
/// (https://github.com/microsoftgraph/microsoft-graph-docs-contrib/issues/3033), so it is
/// tried once more before it counts. Pages hold at most 500 users whatever `$top` asks;
/// the pager follows `@odata.nextLink`.
pub async fn sign_in_activity(
    client: &GraphClient,
) -> Result<Readable<HashMap<UserId, SignInActivity>>, GraphError> {
    let read = || async {
        let url = client.url(&format!("users?$select=id,signInActivity&$top={PAGE_SIZE}"))?;
        let mut out = HashMap::new();
        client
            .for_each_page(url, &[], |page: Vec<SignIns>| {
                for user in page {
                    out.insert(user.id, user.sign_in_activity.unwrap_or_default());
                }
            })
            .await?;
        Ok::<_, GraphError>(out)
    };
    match refused_is_unavailable(read().await)? {
        Readable::Unavailable { code, .. }
            if code == "Authentication_RequestFromNonPremiumTenantOrB2CTenant" =>
        {
            refused_is_unavailable(read().await)
        }
        other => Ok(other),
    }
}

/// The activities of the directory audit log that tell when an account was disabled.
pub const ACCOUNT_ACTIVITIES: &[&str] = &["Disable account", "Enable account"];

/// The directory audit log's `Disable account` and `Enable account` entries, as far back
/// as the log keeps them (7 days on Microsoft Entra ID Free, 30 with P1/P2). Needs
/// AuditLog.Read.All and Directory.Read.All, both
/// (https://learn.microsoft.com/en-us/graph/api/directoryaudit-list#permissions).
pub async fn account_audits(
    client: &GraphClient,
) -> Result<Readable<Vec<DirectoryAudit>>, GraphError> {
    let mut all = Vec::new();
    for activity in ACCOUNT_ACTIVITIES {
        let mut url = client.url("auditLogs/directoryAudits")?;
        url.query_pairs_mut()
            .append_pair("$filter", &format!("activityDisplayName eq '{activity}'"))
            .append_pair("$top", &PAGE_SIZE.to_string());
        match refused_is_unavailable(client.list_all::<DirectoryAudit>(url, &[]).await)? {
            Readable::Read(entries) => all.extend(entries),
            unavailable => return Ok(unavailable),
        }
    }
    all.sort_by(|a, b| {
        a.activity_date_time
            .cmp(&b.activity_date_time)
            .then_with(|| a.id.cmp(&b.id))
    });
    Ok(Readable::Read(all))
}

#[derive(Deserialize)]
struct GroupRef {
    id: GroupId,
}

/// Groups with members whose license from the group is in error:
/// `GET /groups?$filter=hasMembersWithLicenseErrors eq true`. Sent without
/// `ConsistencyLevel: eventual`: Graph refuses the filter with it
/// (https://github.com/microsoftgraph/msgraph-sdk-powershell/issues/2967).
pub async fn groups_with_license_errors(client: &GraphClient) -> Result<Vec<GroupId>, GraphError> {
    let mut url = client.url("groups")?;
    url.query_pairs_mut()
        .append_pair("$filter", "hasMembersWithLicenseErrors eq true")
        .append_pair("$select", "id")
        .append_pair("$top", &PAGE_SIZE.to_string());
    let groups: Vec<GroupRef> = client.list_all(url, &[]).await?;
    Ok(groups.into_iter().map(|g| g.id).collect())
}

#[derive(Deserialize)]
struct MemberRef {
    id: String,
    #[serde(rename = "@odata.type", default)]
    odata_type: Option<String>,
}

/// The members of `group` whose license from it is in error:
/// `GET /groups/{id}/membersWithLicenseErrors` (users only).
pub async fn members_with_license_errors(
    client: &GraphClient,
    group: GroupId,
) -> Result<Vec<UserId>, GraphError> {
    let url = client.url(&format!(
        "groups/{group}/membersWithLicenseErrors?$select=id&$top={PAGE_SIZE}"
    ))?;
    let members: Vec<MemberRef> = client.list_all(url, &[]).await?;
    Ok(members
        .into_iter()
        .filter(|m| {
            m.odata_type
                .as_deref()
                .is_none_or(|t| t == "#microsoft.graph.user")
        })
        .filter_map(|m| m.id.parse().ok())
        .collect())
}

/// True for Graph's answer to a tenant without Microsoft Entra ID P1/P2.
pub fn is_non_premium(code: &str) -> bool {
    code == "Authentication_RequestFromNonPremiumTenantOrB2CTenant"
}

/// True for a permission refusal.
pub fn is_permission(code: &str) -> bool {
    code == GraphErrorCode::AuthorizationRequestDenied.as_str()
}

/// Which of these reads a command needs besides the license state.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Extras {
    /// `/directory/subscriptions` (seat lifecycle dates, trials).
    pub subscriptions: bool,
    /// Every user's `signInActivity` (`inactive_days`, idle seats).
    pub sign_ins: bool,
    /// The audit log's account entries (`disabled_days`).
    pub audits: bool,
}

/// A read of [`Extras`] that Graph refused.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Missing {
    /// What was not read: `subscriptions`, `signInActivity` or `directoryAudits`.
    pub what: &'static str,
    /// Graph's error code.
    pub code: String,
    /// Graph's message.
    pub message: String,
}

/// Reads `extras` into `snapshot`: its `subscriptions`, each user's `signInActivity`
/// (users the read does not list keep what they had), its `directoryAudits`. Refused
/// reads are returned, not errors; the snapshot then lacks that data (`None` audits,
/// users without `signInActivity`), which the planner reports where it matters.
pub async fn enrich(
    client: &GraphClient,
    snapshot: &mut crate::snapshot::TenantSnapshot,
    extras: Extras,
) -> Result<Vec<Missing>, GraphError> {
    let mut missing = Vec::new();
    let mut note = |what: &'static str, code: String, message: String| {
        missing.push(Missing {
            what,
            code,
            message,
        });
    };
    if extras.subscriptions {
        match subscriptions(client).await? {
            Readable::Read(list) => snapshot.subscriptions = list,
            Readable::Unavailable { code, message } => note("subscriptions", code, message),
        }
    }
    if extras.sign_ins {
        match sign_in_activity(client).await? {
            Readable::Read(mut by_id) => {
                for user in &mut snapshot.users {
                    if let Some(activity) = by_id.remove(&user.id) {
                        user.sign_in_activity = Some(Box::new(activity));
                    }
                }
            }
            Readable::Unavailable { code, message } => note("signInActivity", code, message),
        }
    }
    if extras.audits {
        match account_audits(client).await? {
            Readable::Read(entries) => snapshot.directory_audits = Some(entries),
            Readable::Unavailable { code, message } => note("directoryAudits", code, message),
        }
    }
    Ok(missing)
}
