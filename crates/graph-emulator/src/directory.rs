//! The tenant's own resources: `/subscribedSkus`, `/organization` and
//! `/directory/subscriptions`.

use serde_json::{Map, Value, json};

use licensectl_model::snapshot::{CapabilityStatus, CompanySubscription, SubscribedSku};

use super::error::GraphError;
use super::query::{Query, parse_select, parse_top};
use super::state::Tenant;
use super::users::context;

/// Every `subscribedSku` property.
pub(crate) const SKU_PROPERTIES: &[&str] = &[
    "accountName",
    "accountId",
    "appliesTo",
    "capabilityStatus",
    "consumedUnits",
    "id",
    "prepaidUnits",
    "servicePlans",
    "skuId",
    "skuPartNumber",
    "subscriptionIds",
];

/// `servicePlanInfo` JSON of a SKU's plans.
fn service_plans_json(s: &SubscribedSku) -> Value {
    Value::Array(
        s.service_plans
            .iter()
            .map(|p| {
                json!({
                    "servicePlanId": p.service_plan_id.to_string(),
                    "servicePlanName": p.service_plan_name,
                    "provisioningStatus": p.provisioning_status,
                    "appliesTo": p.applies_to.as_ref().map(|a| Value::String(a.to_string())),
                })
            })
            .collect(),
    )
}

fn sku_json(tenant: &Tenant, s: &SubscribedSku, select: Option<&[&'static str]>) -> Value {
    let props = select.unwrap_or(SKU_PROPERTIES);
    let mut map = Map::new();
    for p in props {
        let v = match *p {
            "accountName" => s.account_name.clone().map_or(Value::Null, Value::String),
            "accountId" => s.account_id.clone().map_or(Value::Null, Value::String),
            "appliesTo" => Value::String(s.applies_to.to_string()),
            "capabilityStatus" => Value::String(s.capability_status.to_string()),
            "consumedUnits" => json!(s.consumed_units),
            "id" => Value::String(
                s.id.clone()
                    .unwrap_or_else(|| format!("{}_{}", tenant.tenant_id, s.sku_id)),
            ),
            "prepaidUnits" => json!({
                "enabled": s.prepaid_units.enabled,
                "lockedOut": s.prepaid_units.locked_out,
                "suspended": s.prepaid_units.suspended,
                "warning": s.prepaid_units.warning,
            }),
            "servicePlans" => service_plans_json(s),
            "skuId" => Value::String(s.sku_id.to_string()),
            "skuPartNumber" => Value::String(s.sku_part_number.clone()),
            "subscriptionIds" => json!(s.subscription_ids),
            _ => Value::Null,
        };
        map.insert((*p).to_owned(), v);
    }
    Value::Object(map)
}

/// Refuses any query option but `$select`.
fn only_select(q: &Query) -> Result<(), GraphError> {
    for (k, _) in &q.pairs {
        if !k.trim_start_matches('$').eq_ignore_ascii_case("select") {
            return Err(GraphError::bad_request(format!(
                "Query option '{k}' is not allowed. Allowed query options: $select."
            )));
        }
    }
    Ok(())
}

/// `GET /subscribedSkus` (`$select` only; any other option is refused).
pub(crate) fn list_skus(t: &Tenant, q: &Query, base: &str) -> Result<Value, GraphError> {
    only_select(q)?;
    let select = parse_select(
        q,
        &[SKU_PROPERTIES],
        "Microsoft.DirectoryServices.SubscribedSku",
    )?;
    let value: Vec<Value> = t
        .skus
        .iter()
        .map(|s| sku_json(t, s, select.as_deref()))
        .collect();
    Ok(json!({
        "@odata.context": context(base, "subscribedSkus", select.as_deref(), false),
        "value": value,
    }))
}

/// Every `organization` property the emulator knows.
pub(crate) const ORGANIZATION_PROPERTIES: &[&str] = &["id", "displayName", "verifiedDomains"];

/// `GET /organization` (`$select` only): the tenant itself; its `tenantDomain` is the
/// initial domain, the snapshot's other `verifiedDomains` are custom ones (the first of
/// them the default).
pub(crate) fn organization(t: &Tenant, q: &Query, base: &str) -> Result<Value, GraphError> {
    only_select(q)?;
    let select = parse_select(
        q,
        &[ORGANIZATION_PROPERTIES],
        "Microsoft.DirectoryServices.Organization",
    )?;
    let domain = t.domain.clone();
    let display = domain
        .as_deref()
        .and_then(|d| d.split('.').next())
        .unwrap_or("Emulated tenant")
        .to_owned();
    let mut map = Map::new();
    for p in select.as_deref().unwrap_or(ORGANIZATION_PROPERTIES) {
        let v = match *p {
            "id" => Value::String(t.tenant_id.to_string()),
            "displayName" => Value::String(display.clone()),
            "verifiedDomains" => {
                let custom: Vec<&String> = t
                    .verified_domains
                    .iter()
                    .filter(|d| domain.as_ref().is_none_or(|p| !p.eq_ignore_ascii_case(d)))
                    .collect();
                let initial = domain.iter().map(|d| {
                    json!({
                        "capabilities": "Email, OfficeCommunicationsOnline",
                        "isDefault": custom.is_empty(),
                        "isInitial": true,
                        "name": d,
                        "type": "Managed",
                    })
                });
                let others = custom.iter().enumerate().map(|(i, d)| {
                    json!({
                        "capabilities": "Email, OfficeCommunicationsOnline",
                        "isDefault": i == 0,
                        "isInitial": false,
                        "name": d,
                        "type": "Managed",
                    })
                });
                Value::Array(initial.chain(others).collect())
            }
            _ => Value::Null,
        };
        map.insert((*p).to_owned(), v);
    }
    Ok(json!({
        "@odata.context": context(base, "organization", select.as_deref(), false),
        "value": [Value::Object(map)],
    }))
}

/// `GET /subscribedSkus/{tenantId_skuId}` (no query options).
pub(crate) fn get_sku(t: &Tenant, id: &str, q: &Query, base: &str) -> Result<Value, GraphError> {
    if let Some((k, _)) = q.pairs.first() {
        return Err(GraphError::bad_request(format!(
            "Query option '{k}' is not allowed on a single subscribedSku."
        )));
    }
    let sku = t
        .skus
        .iter()
        .find(|s| {
            let sid =
                s.id.clone()
                    .unwrap_or_else(|| format!("{}_{}", t.tenant_id, s.sku_id));
            sid.eq_ignore_ascii_case(id)
        })
        .ok_or_else(|| GraphError::not_found(id))?;
    let mut v = sku_json(t, sku, None);
    if let Value::Object(m) = &mut v {
        m.insert(
            "@odata.context".to_owned(),
            Value::String(format!("{base}/v1.0/$metadata#subscribedSkus/$entity")),
        );
    }
    Ok(v)
}

/// Every `companySubscription` property
/// (<https://learn.microsoft.com/en-us/graph/api/resources/companysubscription>).
pub(crate) const SUBSCRIPTION_PROPERTIES: &[&str] = &[
    "commerceSubscriptionId",
    "createdDateTime",
    "id",
    "isTrial",
    "nextLifecycleDateTime",
    "ownerId",
    "ownerTenantId",
    "ownerType",
    "serviceStatus",
    "skuId",
    "skuPartNumber",
    "status",
    "totalLicenses",
];

/// splitmix64, for ids that must be stable across runs.
fn mix(mut x: u64) -> u64 {
    x = x.wrapping_add(0x9E37_79B9_7F4A_7C15);
    x = (x ^ (x >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
    x = (x ^ (x >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
    x ^ (x >> 31)
}

/// The tenant's subscriptions: the tenant file's, or — when it lists none — one per
/// non-empty `prepaidUnits` bucket of each SKU (Enabled, Warning, Suspended, LockedOut),
/// so that each bucket is the sum of `totalLicenses` of the SKU's subscriptions in that
/// state, as Graph's two endpoints agree (a modelling choice). The first takes the SKU's
/// first `subscriptionIds` entry; the others get stable ids derived from the SKU.
pub(crate) fn subscriptions(t: &Tenant) -> Vec<CompanySubscription> {
    if !t.subscriptions.is_empty() {
        return t.subscriptions.clone();
    }
    let mut out = Vec::new();
    for sku in &t.skus {
        let u = &sku.prepaid_units;
        let buckets = [
            (CapabilityStatus::Enabled, u.enabled),
            (CapabilityStatus::Warning, u.warning),
            (CapabilityStatus::Suspended, u.suspended),
            (CapabilityStatus::LockedOut, u.locked_out),
        ];
        for (i, (status, total)) in buckets.into_iter().enumerate() {
            if total <= 0 {
                continue;
            }
            let id = match (i, sku.subscription_ids.first()) {
                (0, Some(first)) => first.clone(),
                _ => {
                    let (hi, lo) = sku.sku_id.0.as_u64_pair();
                    let h = mix(hi ^ mix(lo ^ i as u64));
                    uuid::Uuid::from_u64_pair(h, mix(h)).to_string()
                }
            };
            out.push(CompanySubscription {
                id,
                commerce_subscription_id: None,
                sku_id: sku.sku_id,
                sku_part_number: Some(sku.sku_part_number.clone()),
                status,
                total_licenses: total,
                is_trial: false,
                created_date_time: None,
                next_lifecycle_date_time: None,
            });
        }
    }
    out
}

fn subscription_json(
    t: &Tenant,
    s: &CompanySubscription,
    select: Option<&[&'static str]>,
) -> Value {
    let sku: Option<&SubscribedSku> = t.sku(s.sku_id).map(|i| &t.skus[i]);
    let mut map = Map::new();
    for p in select.unwrap_or(SUBSCRIPTION_PROPERTIES) {
        let v = match *p {
            "commerceSubscriptionId" => json!(s.commerce_subscription_id),
            "createdDateTime" => json!(s.created_date_time),
            "id" => json!(s.id),
            "isTrial" => json!(s.is_trial),
            "nextLifecycleDateTime" => json!(s.next_lifecycle_date_time),
            "serviceStatus" => sku.map_or(Value::Array(Vec::new()), service_plans_json),
            "skuId" => json!(s.sku_id.to_string()),
            "skuPartNumber" => json!(
                s.sku_part_number
                    .clone()
                    .or_else(|| sku.map(|k| k.sku_part_number.clone()))
            ),
            "status" => json!(s.status.to_string()),
            "totalLicenses" => json!(s.total_licenses),
            _ => Value::Null,
        };
        map.insert((*p).to_owned(), v);
    }
    Value::Object(map)
}

/// `GET /directory/subscriptions` (`$select`, `$top`).
pub(crate) fn list_subscriptions(t: &Tenant, q: &Query, base: &str) -> Result<Value, GraphError> {
    for (k, _) in &q.pairs {
        let bare = k.trim_start_matches('$');
        if !(bare.eq_ignore_ascii_case("select") || bare.eq_ignore_ascii_case("top")) {
            return Err(GraphError::bad_request(format!(
                "Query option '{k}' is not implemented by the licensectl emulator on directory/subscriptions (supported: $select, $top)."
            )));
        }
    }
    let select = parse_select(
        q,
        &[SUBSCRIPTION_PROPERTIES],
        "Microsoft.DirectoryServices.CompanySubscription",
    )?;
    let top = parse_top(q)?;
    let value: Vec<Value> = subscriptions(t)
        .iter()
        .take(top)
        .map(|s| subscription_json(t, s, select.as_deref()))
        .collect();
    Ok(json!({
        "@odata.context": context(base, "directory/subscriptions", select.as_deref(), false),
        "value": value,
    }))
}

/// `GET /directory/subscriptions/{id}`.
pub(crate) fn get_subscription(
    t: &Tenant,
    id: &str,
    q: &Query,
    base: &str,
) -> Result<Value, GraphError> {
    let select = parse_select(
        q,
        &[SUBSCRIPTION_PROPERTIES],
        "Microsoft.DirectoryServices.CompanySubscription",
    )?;
    let all = subscriptions(t);
    let s = all
        .iter()
        .find(|s| s.id.eq_ignore_ascii_case(id))
        .ok_or_else(|| GraphError::not_found(id))?;
    let mut v = subscription_json(t, s, select.as_deref());
    if let Value::Object(m) = &mut v {
        m.insert(
            "@odata.context".to_owned(),
            Value::String(context(
                base,
                "directory/subscriptions",
                select.as_deref(),
                true,
            )),
        );
    }
    Ok(v)
}
