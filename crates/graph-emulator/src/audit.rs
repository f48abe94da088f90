//! The directory audit log: `GET /auditLogs/directoryAudits` and
//! `GET /auditLogs/directoryAudits/{id}`, with the entries the emulator writes itself.
//!
//! Entries come from the tenant file (`directoryAudits`) and from writes the emulator
//! serves: a `PATCH /users/{id}` that changes `accountEnabled` logs `Disable account` or
//! `Enable account` (category `UserManagement`, logged by `Core Directory`, as Microsoft
//! Entra lists them: <https://learn.microsoft.com/en-us/entra/identity/monitoring-health/reference-audit-activities>).
//! Entries older than the tenant's retention are not served: 7 days without Microsoft
//! Entra ID P1/P2, 30 days with it
//! (<https://learn.microsoft.com/en-us/entra/identity/monitoring-health/reference-reports-data-retention>).
//! The list is newest first and supports what the documented method lists
//! (<https://learn.microsoft.com/en-us/graph/api/directoryaudit-list>): `$filter` with `eq`
//! on `activityDisplayName`, `category`, `id`, `correlationId`, `result`,
//! `loggedByService` and `operationType`, `startswith(activityDisplayName, …)`, `ge`/`le`
//! on `activityDateTime`, joined by `and`; `$top`, `$orderby=activityDateTime [asc|desc]`,
//! `$select` and `$skiptoken` paging.

use serde_json::{Map, Value, json};
use time::OffsetDateTime;
use time::format_description::well_known::Rfc3339;

use licensectl_model::snapshot::{DirectoryAudit, TargetResource, User};

use super::error::GraphError;
use super::query::{
    Clause, Literal, Query, parse_filter, parse_select, parse_top, read_skiptoken, split_and,
};
use super::state::Tenant;
use super::users::{ListCtx, collection_page, context};

/// Every `directoryAudit` property the emulator serves.
pub(crate) const PROPERTIES: &[&str] = &[
    "id",
    "category",
    "correlationId",
    "result",
    "resultReason",
    "activityDisplayName",
    "activityDateTime",
    "loggedByService",
    "operationType",
    "initiatedBy",
    "targetResources",
    "additionalDetails",
];

const TYPE_NAME: &str = "microsoft.graph.directoryAudit";

/// Days the directory audit log keeps its entries: 7 without Microsoft Entra ID P1/P2,
/// 30 with it.
pub(crate) fn retention_days(premium: bool) -> i64 {
    if premium { 30 } else { 7 }
}

/// Milliseconds since the epoch of an ISO 8601 time, `None` when it does not parse.
pub(crate) fn unix_ms(text: &str) -> Option<i64> {
    let t = OffsetDateTime::parse(text.trim(), &Rfc3339).ok()?;
    i64::try_from(t.unix_timestamp_nanos() / 1_000_000).ok()
}

/// `2025-02-13T10:17:06.1234567Z`: Graph writes audit times with seven fractional digits.
fn audit_time(ms: i64) -> String {
    let secs = super::clock::iso_utc(ms.div_euclid(1000));
    let frac = ms.rem_euclid(1000) * 10_000;
    match secs.strip_suffix('Z') {
        Some(stem) => format!("{stem}.{frac:07}Z"),
        None => secs,
    }
}

/// The entry logging that `user`'s `accountEnabled` became `enabled` at `ms`, done by
/// `initiated_by` (Graph's `initiatedBy` object).
pub(crate) fn account_entry(
    user: &User,
    enabled: bool,
    ms: i64,
    initiated_by: Value,
) -> DirectoryAudit {
    let correlation = uuid::Builder::from_random_bytes(rand::random())
        .into_uuid()
        .to_string();
    let suffix: u32 = rand::random::<u32>() % 100_000_000;
    DirectoryAudit {
        id: format!("Directory_{correlation}_EMU01_{suffix:08}"),
        category: Some("UserManagement".to_owned()),
        correlation_id: Some(correlation),
        result: Some("success".to_owned()),
        result_reason: Some(String::new()),
        activity_display_name: if enabled {
            "Enable account"
        } else {
            "Disable account"
        }
        .to_owned(),
        activity_date_time: audit_time(ms),
        logged_by_service: Some("Core Directory".to_owned()),
        operation_type: Some("Update".to_owned()),
        initiated_by: Some(initiated_by),
        target_resources: vec![TargetResource {
            id: Some(user.id.to_string()),
            display_name: user.display_name.clone(),
            kind: Some("User".to_owned()),
            user_principal_name: Some(user.user_principal_name.clone()),
        }],
    }
}

/// One entry as Graph serves it.
fn entry_json(e: &DirectoryAudit, select: Option<&[&'static str]>) -> Value {
    let account = match e.activity_display_name.as_str() {
        "Disable account" => Some(("[true]", "[false]")),
        "Enable account" => Some(("[false]", "[true]")),
        _ => None,
    };
    let mut map = Map::new();
    for p in select.unwrap_or(PROPERTIES) {
        let v = match *p {
            "id" => json!(e.id),
            "category" => json!(e.category),
            "correlationId" => json!(e.correlation_id),
            "result" => json!(e.result),
            "resultReason" => json!(e.result_reason),
            "activityDisplayName" => json!(e.activity_display_name),
            "activityDateTime" => json!(e.activity_date_time),
            "loggedByService" => json!(e.logged_by_service),
            "operationType" => json!(e.operation_type),
            "initiatedBy" => e
                .initiated_by
                .clone()
                .unwrap_or_else(|| json!({"user": null, "app": null})),
            "targetResources" => Value::Array(
                e.target_resources
                    .iter()
                    .map(|t| {
                        let modified = match (account, t.kind.as_deref()) {
                            (Some((old, new)), Some("User")) => json!([{
                                "displayName": "AccountEnabled",
                                "oldValue": old,
                                "newValue": new,
                            }]),
                            _ => json!([]),
                        };
                        json!({
                            "id": t.id,
                            "displayName": t.display_name,
                            "type": t.kind,
                            "userPrincipalName": t.user_principal_name,
                            "groupType": null,
                            "modifiedProperties": modified,
                        })
                    })
                    .collect(),
            ),
            "additionalDetails" => json!([]),
            _ => Value::Null,
        };
        map.insert((*p).to_owned(), v);
    }
    Value::Object(map)
}

/// One condition of a `$filter` on audit entries.
#[derive(Debug, Clone, PartialEq)]
enum Condition {
    /// A text property equals a value (compared ignoring case).
    Eq(&'static str, String),
    /// `startswith(activityDisplayName, …)`.
    StartsWith(String),
    /// `activityDateTime ge …` (milliseconds since the epoch).
    From(i64),
    /// `activityDateTime le …`.
    Until(i64),
}

/// Properties `eq` filters on.
const EQ_PROPERTIES: &[&str] = &[
    "activityDisplayName",
    "category",
    "id",
    "correlationId",
    "result",
    "loggedByService",
    "operationType",
];

fn unsupported(clause: &str) -> GraphError {
    GraphError::bad_request(format!(
        "Invalid filter clause: the licensectl emulator does not filter audit entries by '{}' (supported: eq on {}, startswith(activityDisplayName, …), ge and le on activityDateTime).",
        clause.trim(),
        EQ_PROPERTIES.join(", ")
    ))
}

fn parse_conditions(filter: &str) -> Result<Vec<Condition>, GraphError> {
    let mut out = Vec::new();
    for clause in split_and(filter) {
        let words: Vec<&str> = clause.split_whitespace().collect();
        if let [prop, op, value] = words.as_slice()
            && prop.eq_ignore_ascii_case("activityDateTime")
            && (op.eq_ignore_ascii_case("ge") || op.eq_ignore_ascii_case("le"))
        {
            let at = unix_ms(value.trim_matches('\'')).ok_or_else(|| {
                GraphError::bad_request(format!(
                    "Invalid filter clause: '{value}' is not a valid DateTimeOffset."
                ))
            })?;
            out.push(if op.eq_ignore_ascii_case("ge") {
                Condition::From(at)
            } else {
                Condition::Until(at)
            });
            continue;
        }
        let parsed = parse_filter(&clause)?;
        let [one] = parsed.as_slice() else {
            return Err(unsupported(&clause));
        };
        match one {
            Clause::Eq(p, Literal::Str(v)) => {
                let Some(canonical) = EQ_PROPERTIES.iter().find(|k| k.eq_ignore_ascii_case(p))
                else {
                    return Err(unsupported(&clause));
                };
                out.push(Condition::Eq(canonical, v.clone()));
            }
            Clause::StartsWith(p, v) if p.eq_ignore_ascii_case("activityDisplayName") => {
                out.push(Condition::StartsWith(v.clone()));
            }
            _ => return Err(unsupported(&clause)),
        }
    }
    Ok(out)
}

fn text_of<'e>(e: &'e DirectoryAudit, prop: &str) -> Option<&'e str> {
    match prop {
        "activityDisplayName" => Some(&e.activity_display_name),
        "category" => e.category.as_deref(),
        "id" => Some(&e.id),
        "correlationId" => e.correlation_id.as_deref(),
        "result" => e.result.as_deref(),
        "loggedByService" => e.logged_by_service.as_deref(),
        "operationType" => e.operation_type.as_deref(),
        _ => None,
    }
}

fn matches(e: &DirectoryAudit, at: Option<i64>, conditions: &[Condition]) -> bool {
    conditions.iter().all(|c| match c {
        Condition::Eq(p, v) => text_of(e, p).is_some_and(|t| t.eq_ignore_ascii_case(v)),
        Condition::StartsWith(v) => e
            .activity_display_name
            .to_lowercase()
            .starts_with(&v.to_lowercase()),
        Condition::From(from) => at.is_some_and(|a| a >= *from),
        Condition::Until(until) => at.is_some_and(|a| a <= *until),
    })
}

/// The entries still kept at `now_ms` (within `retention_days`), newest first.
fn kept(t: &Tenant, now_ms: i64, retention_days: i64) -> Vec<(i64, &DirectoryAudit)> {
    let oldest = now_ms - retention_days * 86_400_000;
    let mut out: Vec<(i64, &DirectoryAudit)> = t
        .audits
        .iter()
        .filter_map(|e| unix_ms(&e.activity_date_time).map(|at| (at, e)))
        .filter(|(at, _)| *at >= oldest)
        .collect();
    out.sort_by(|a, b| b.0.cmp(&a.0).then_with(|| a.1.id.cmp(&b.1.id)));
    out
}

/// `GET /auditLogs/directoryAudits`.
pub(crate) fn list(
    t: &Tenant,
    q: &Query,
    ctx: &ListCtx<'_>,
    now_ms: i64,
    retention_days: i64,
) -> Result<Value, GraphError> {
    for (k, _) in &q.pairs {
        let bare = k.trim_start_matches('$').to_ascii_lowercase();
        if !["select", "filter", "top", "orderby", "skiptoken"].contains(&bare.as_str()) {
            return Err(GraphError::bad_request(format!(
                "Query option '{k}' is not allowed. Allowed query options: $filter, $top, $orderby, $select, $skiptoken."
            )));
        }
    }
    let select = parse_select(q, &[PROPERTIES], TYPE_NAME)?;
    let top = parse_top(q)?;
    let conditions = q
        .get("$filter")
        .map(parse_conditions)
        .transpose()?
        .unwrap_or_default();
    let ascending = match q.get("$orderby").map(|o| o.trim().to_ascii_lowercase()) {
        None => false,
        Some(o) if o == "activitydatetime desc" => false,
        Some(o) if o == "activitydatetime" || o == "activitydatetime asc" => true,
        Some(o) => {
            return Err(GraphError::bad_request(format!(
                "Invalid $orderby '{o}': the licensectl emulator orders audit entries by activityDateTime only."
            )));
        }
    };
    let mut entries: Vec<&DirectoryAudit> = kept(t, now_ms, retention_days)
        .into_iter()
        .filter(|(at, e)| matches(e, Some(*at), &conditions))
        .map(|(_, e)| e)
        .collect();
    if ascending {
        entries.reverse();
    }
    let from = q
        .get("$skiptoken")
        .map(read_skiptoken)
        .transpose()?
        .unwrap_or(0);
    let page: Vec<Value> = entries
        .iter()
        .skip(from)
        .take(top)
        .map(|e| entry_json(e, select.as_deref()))
        .collect();
    let next = (from + top < entries.len()).then_some(from + top);
    let context = context(
        ctx.base,
        "auditLogs/directoryAudits",
        select.as_deref(),
        false,
    );
    Ok(collection_page(ctx, q, context, None, next, page))
}

/// `GET /auditLogs/directoryAudits/{id}`.
pub(crate) fn get(
    t: &Tenant,
    id: &str,
    q: &Query,
    base: &str,
    now_ms: i64,
    retention_days: i64,
) -> Result<Value, GraphError> {
    let select = parse_select(q, &[PROPERTIES], TYPE_NAME)?;
    let (_, entry) = kept(t, now_ms, retention_days)
        .into_iter()
        .find(|(_, e)| e.id == id)
        .ok_or_else(|| GraphError::not_found(id))?;
    let mut v = entry_json(entry, select.as_deref());
    if let Value::Object(m) = &mut v {
        m.insert(
            "@odata.context".to_owned(),
            Value::String(context(
                base,
                "auditLogs/directoryAudits",
                select.as_deref(),
                true,
            )),
        );
    }
    Ok(v)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn filters_parse_into_conditions_and_unknown_ones_are_refused() {
        let c = parse_conditions(
            "activityDisplayName eq 'Disable account' and activityDateTime ge 2025-01-01T00:00:00Z",
        )
        .expect("parses");
        assert_eq!(
            c,
            vec![
                Condition::Eq("activityDisplayName", "Disable account".into()),
                Condition::From(1_735_689_600_000),
            ]
        );
        assert!(parse_conditions("initiatedBy/user/id eq 'x'").is_err());
        assert!(parse_conditions("activityDateTime ge yesterday").is_err());
    }

    #[test]
    fn audit_times_have_seven_fractional_digits() {
        assert_eq!(
            audit_time(1_739_441_826_042),
            "2025-02-13T10:17:06.0420000Z"
        );
        assert_eq!(
            unix_ms("2025-02-13T10:17:06.0420000Z"),
            Some(1_739_441_826_042)
        );
        assert_eq!(retention_days(false), 7);
        assert_eq!(retention_days(true), 30);
    }
}
