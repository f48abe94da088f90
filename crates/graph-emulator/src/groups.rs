//! `/groups`, `/groups/{id}`, `/groups/{id}/members` and `/subscribedSkus`.

use serde_json::{Map, Value, json};

use licensectl_model::snapshot::{Group, SubscribedSku};

use super::error::GraphError;
use super::query::{
    Clause, Literal, Query, is_advanced, parse_filter, parse_select, parse_top, read_skiptoken,
};
use super::replica::View;
use super::state::Tenant;
use super::users::{self, ListCtx, context, license_json, page_positions};

/// Group properties returned without `$select`.
pub const DEFAULT_PROPERTIES: &[&str] = &[
    "id",
    "deletedDateTime",
    "classification",
    "createdDateTime",
    "description",
    "displayName",
    "groupTypes",
    "mail",
    "mailEnabled",
    "mailNickname",
    "securityEnabled",
    "visibility",
];

/// Group properties returned only when selected.
pub const EXTRA_PROPERTIES: &[&str] = &["assignedLicenses", "licenseProcessingState"];

/// Every property `$select` accepts.
pub const KNOWN_PROPERTIES: &[&[&str]] = &[DEFAULT_PROPERTIES, EXTRA_PROPERTIES];

fn property(g: &Group, name: &str) -> Value {
    match name {
        "id" => Value::String(g.id.to_string()),
        "displayName" => Value::String(g.display_name.clone()),
        "mailNickname" => g.mail_nickname.clone().map_or(Value::Null, Value::String),
        "securityEnabled" => Value::Bool(g.security_enabled),
        "mailEnabled" => Value::Bool(false),
        "groupTypes" => Value::Array(Vec::new()),
        "assignedLicenses" => Value::Array(g.assigned_licenses.iter().map(license_json).collect()),
        "licenseProcessingState" => g
            .license_processing_state
            .as_ref()
            .map_or(Value::Null, |s| json!({ "state": s.state })),
        _ => Value::Null,
    }
}

/// A group as Graph renders it.
pub fn group_json(g: &Group, select: Option<&[&'static str]>) -> Map<String, Value> {
    let props = select.unwrap_or(DEFAULT_PROPERTIES);
    let mut map = Map::with_capacity(props.len() + 1);
    for p in props {
        map.insert((*p).to_owned(), property(g, p));
    }
    if select.is_some() && !map.contains_key("id") {
        map.insert("id".to_owned(), property(g, "id"));
    }
    map
}

fn unsupported(prop: &str) -> GraphError {
    GraphError::unsupported_query(format!(
        "Unsupported or invalid query filter clause specified for property '{prop}' of resource 'Group'."
    ))
}

fn group_text(g: &Group, prop: &str) -> Option<String> {
    match prop {
        "id" => Some(g.id.to_string()),
        "displayName" => Some(g.display_name.clone()),
        "mailNickname" => g.mail_nickname.clone(),
        _ => None,
    }
}

fn matches(v: &View<'_>, gi: usize, clauses: &[Clause]) -> bool {
    let g = v.group(gi);
    clauses.iter().all(|c| match c {
        Clause::Eq(p, Literal::Bool(b)) if p.eq_ignore_ascii_case("securityEnabled") => {
            g.security_enabled == *b
        }
        Clause::Eq(p, Literal::Bool(b))
            if p.eq_ignore_ascii_case("hasMembersWithLicenseErrors") =>
        {
            v.group_has_member_errors(gi) == *b
        }
        Clause::Eq(p, l) => group_text(g, &canon(p))
            .is_some_and(|a| l.as_text().is_some_and(|v| v.eq_ignore_ascii_case(&a))),
        Clause::In(p, items) => group_text(g, &canon(p)).is_some_and(|a| {
            items
                .iter()
                .any(|l| l.as_text().is_some_and(|v| v.eq_ignore_ascii_case(&a)))
        }),
        Clause::StartsWith(p, v) => group_text(g, &canon(p))
            .is_some_and(|a| a.to_lowercase().starts_with(&v.to_lowercase())),
        Clause::AnySku(_, sku) => g.assigned_licenses.iter().any(|l| l.sku_id == *sku),
        Clause::Ne(..) | Clause::Count(..) => false,
    })
}

fn canon(p: &str) -> String {
    ["id", "displayName", "mailNickname"]
        .iter()
        .find(|k| k.eq_ignore_ascii_case(p))
        .map_or_else(|| p.to_owned(), |k| (*k).to_owned())
}

fn validate_group_filter(clauses: &[Clause]) -> Result<(), GraphError> {
    for c in clauses {
        match c {
            Clause::Eq(p, Literal::Bool(_))
                if p.eq_ignore_ascii_case("securityEnabled")
                    || p.eq_ignore_ascii_case("hasMembersWithLicenseErrors") => {}
            Clause::Eq(p, _) | Clause::In(p, _) | Clause::StartsWith(p, _)
                if ["id", "displayName", "mailNickname"]
                    .iter()
                    .any(|k| k.eq_ignore_ascii_case(p)) => {}
            Clause::In(_, items) if items.len() > 15 => {
                return Err(GraphError::bad_request(format!(
                    "Too many child clauses specified in search filter expression containing 'OR' operators: {}. Max allowed: 15.",
                    items.len()
                )));
            }
            Clause::AnySku(p, _) if p.eq_ignore_ascii_case("assignedLicenses") => {}
            Clause::Count(..) => {
                return Err(GraphError::bad_request(
                    "$count is not currently supported.",
                ));
            }
            Clause::Eq(p, _)
            | Clause::Ne(p, _)
            | Clause::In(p, _)
            | Clause::StartsWith(p, _)
            | Clause::AnySku(p, _) => return Err(unsupported(p)),
        }
    }
    Ok(())
}

/// `GET /groups`.
pub(crate) fn list(v: &View<'_>, q: &Query, ctx: &ListCtx<'_>) -> Result<Value, GraphError> {
    let t = v.tenant();
    users::reject_unsupported(q, ctx.eventual)?;
    let select = parse_select(q, KNOWN_PROPERTIES, "Microsoft.DirectoryServices.Group")?;
    let top = parse_top(q)?;
    let clauses = match q.get("$filter") {
        Some(f) => {
            let c = parse_filter(f)?;
            validate_group_filter(&c)?;
            c
        }
        None => Vec::new(),
    };
    let from = q
        .get("$skiptoken")
        .map(read_skiptoken)
        .transpose()?
        .unwrap_or(0);
    let keep = |gi: usize| matches(v, gi, &clauses);
    let (page, next) = page_positions(0..t.groups.len(), from, top, keep);
    let count = (is_advanced(q, ctx.eventual) && q.get("$skiptoken").is_none())
        .then(|| (0..t.groups.len()).filter(|g| keep(*g)).count());
    let items: Vec<Value> = page
        .into_iter()
        .map(|g| Value::Object(group_json(v.group(g), select.as_deref())))
        .collect();
    let context = context(ctx.base, "groups", select.as_deref(), false);
    Ok(users::collection_page(ctx, q, context, count, next, items))
}

/// `GET /groups/{id}`.
pub(crate) fn get(v: &View<'_>, key: &str, q: &Query, base: &str) -> Result<Value, GraphError> {
    let select = parse_select(q, KNOWN_PROPERTIES, "Microsoft.DirectoryServices.Group")?;
    let g = v
        .tenant()
        .group(key)
        .ok_or_else(|| GraphError::not_found(key))?;
    let mut out = Map::new();
    out.insert(
        "@odata.context".to_owned(),
        Value::String(context(base, "groups", select.as_deref(), true)),
    );
    out.extend(group_json(v.group(g), select.as_deref()));
    Ok(Value::Object(out))
}

/// The group object in a 202 answer to group `assignLicense`.
pub fn assign_response(t: &Tenant, g: usize, base: &str) -> Value {
    let mut out = Map::new();
    out.insert(
        "@odata.context".to_owned(),
        Value::String(context(base, "groups", None, true)),
    );
    out.extend(group_json(&t.groups[g], None));
    Value::Object(out)
}

/// `GET /groups/{id}/members`: direct members that are users, with `@odata.type`.
pub(crate) fn members(
    v: &View<'_>,
    key: &str,
    q: &Query,
    ctx: &ListCtx<'_>,
) -> Result<Value, GraphError> {
    let t = v.tenant();
    users::reject_unsupported(q, ctx.eventual)?;
    if q.get("$filter").is_some() {
        return Err(GraphError::unsupported_query(
            "The licensectl emulator does not implement $filter on group members.",
        ));
    }
    let g = t.group(key).ok_or_else(|| GraphError::not_found(key))?;
    let select = parse_select(q, users::KNOWN_PROPERTIES, users::TYPE_NAME)?;
    let top = parse_top(q)?;
    let from = q
        .get("$skiptoken")
        .map(read_skiptoken)
        .transpose()?
        .unwrap_or(0);
    let group = v.group(g);
    let keep = |p: usize| {
        group
            .members
            .get(p)
            .and_then(|m| t.user_by_id(*m))
            .is_some()
    };
    let (page, next) = page_positions(0..group.members.len(), from, top, keep);
    let count = (is_advanced(q, ctx.eventual) && q.get("$skiptoken").is_none())
        .then(|| (0..group.members.len()).filter(|p| keep(*p)).count());
    let mut items = Vec::with_capacity(page.len());
    for p in page {
        if let Some(u) = group.members.get(p).and_then(|m| t.user_by_id(*m)) {
            let mut m = Map::new();
            m.insert(
                "@odata.type".to_owned(),
                Value::String("#microsoft.graph.user".to_owned()),
            );
            m.extend(users::user_json(v.user(u), select.as_deref()));
            items.push(Value::Object(m));
        }
    }
    let context = format!("{}/v1.0/$metadata#directoryObjects", ctx.base);
    Ok(users::collection_page(ctx, q, context, count, next, items))
}

/// Every `subscribedSku` property.
pub const SKU_PROPERTIES: &[&str] = &[
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
            "servicePlans" => Value::Array(
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
            ),
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
pub fn list_skus(t: &Tenant, q: &Query, base: &str) -> Result<Value, GraphError> {
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
pub const ORGANIZATION_PROPERTIES: &[&str] = &["id", "displayName", "verifiedDomains"];

/// `GET /organization` (`$select` only): the tenant itself; its `tenantDomain` is the
/// initial domain, the snapshot's other `verifiedDomains` are custom ones (the first of
/// them the default).
pub fn organization(t: &Tenant, q: &Query, base: &str) -> Result<Value, GraphError> {
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
pub fn get_sku(t: &Tenant, id: &str, q: &Query, base: &str) -> Result<Value, GraphError> {
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
