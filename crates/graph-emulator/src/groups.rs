//! `/groups`, `/groups/{id}`, `/groups/{id}/members` and
//! `/groups/{id}/membersWithLicenseErrors`.

use serde_json::{Map, Value, json};

use licensectl_model::snapshot::{AssignmentStateKind, Group};

use super::error::GraphError;
use super::query::{
    Clause, Literal, Query, is_advanced, parse_filter, parse_select, parse_top, read_skiptoken,
    too_many_values,
};
use super::replica::View;
use super::state::Tenant;
use super::users::{self, ListCtx, context, license_json, page_positions};

/// Group properties returned without `$select`.
pub(crate) const DEFAULT_PROPERTIES: &[&str] = &[
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
pub(crate) const EXTRA_PROPERTIES: &[&str] = &["assignedLicenses", "licenseProcessingState"];

/// Every property `$select` accepts.
pub(crate) const KNOWN_PROPERTIES: &[&[&str]] = &[DEFAULT_PROPERTIES, EXTRA_PROPERTIES];

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
pub(crate) fn group_json(g: &Group, select: Option<&[&'static str]>) -> Map<String, Value> {
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

/// True when the query reads a group's licensing properties (selects or filters them),
/// which Group.ReadBasic.All does not grant.
pub(crate) fn reads_licensing(q: &Query) -> bool {
    let names = [
        "assignedLicenses",
        "licenseProcessingState",
        "hasMembersWithLicenseErrors",
    ];
    let lower = |s: &str| s.to_ascii_lowercase();
    let mentions = |text: &str| {
        let text = lower(text);
        names.iter().any(|n| text.contains(&lower(n)))
    };
    q.get("$select").is_some_and(mentions) || q.get("$filter").is_some_and(mentions)
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
        Clause::Ne(..) | Clause::Count(..) | Clause::Cmp(..) => false,
    })
}

fn canon(p: &str) -> String {
    ["id", "displayName", "mailNickname"]
        .iter()
        .find(|k| k.eq_ignore_ascii_case(p))
        .map_or_else(|| p.to_owned(), |k| (*k).to_owned())
}

fn validate_group_filter(clauses: &[Clause], eventual: bool) -> Result<(), GraphError> {
    for c in clauses {
        match c {
            // Observed: the filter fails when `ConsistencyLevel: eventual` is sent
            // (https://github.com/microsoftgraph/msgraph-sdk-powershell/issues/2967).
            Clause::Eq(p, _)
                if p.eq_ignore_ascii_case("hasMembersWithLicenseErrors") && eventual =>
            {
                return Err(unsupported(p));
            }
            Clause::Eq(p, Literal::Bool(_))
                if p.eq_ignore_ascii_case("securityEnabled")
                    || p.eq_ignore_ascii_case("hasMembersWithLicenseErrors") => {}
            // Before the supported properties: the limit holds for each of them.
            Clause::In(_, items) if items.len() > 15 => {
                return Err(too_many_values(items.len()));
            }
            Clause::Eq(p, _) | Clause::In(p, _) | Clause::StartsWith(p, _)
                if ["id", "displayName", "mailNickname"]
                    .iter()
                    .any(|k| k.eq_ignore_ascii_case(p)) => {}
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
            | Clause::Cmp(p, ..)
            | Clause::AnySku(p, _) => return Err(unsupported(p)),
        }
    }
    Ok(())
}

/// `GET /groups`.
pub(crate) fn list(v: &View<'_>, q: &Query, ctx: &ListCtx<'_>) -> Result<Value, GraphError> {
    let t = v.tenant();
    users::reject_unsupported(q, ctx.eventual, false)?;
    let select = parse_select(q, KNOWN_PROPERTIES, "Microsoft.DirectoryServices.Group")?;
    let top = parse_top(q)?;
    let clauses = match q.get("$filter") {
        Some(f) => {
            let c = parse_filter(f)?;
            validate_group_filter(&c, ctx.eventual)?;
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
pub(crate) fn assign_response(t: &Tenant, g: usize, base: &str) -> Value {
    let mut out = Map::new();
    out.insert(
        "@odata.context".to_owned(),
        Value::String(context(base, "groups", None, true)),
    );
    out.extend(group_json(&t.groups[g], None));
    Value::Object(out)
}

/// Which members a member listing returns.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Members {
    /// `GET /groups/{id}/members`: every direct user member.
    All,
    /// `GET /groups/{id}/membersWithLicenseErrors`: members whose license from this group
    /// is in `Error` or `ActiveWithError`.
    WithLicenseErrors,
}

/// Has user `u` a failed license from group `gid`?
fn has_error_from(v: &View<'_>, u: usize, gid: licensectl_model::ids::GroupId) -> bool {
    v.user(u).license_assignment_states.iter().any(|s| {
        s.assigned_by_group == Some(gid)
            && matches!(
                s.state,
                AssignmentStateKind::Error | AssignmentStateKind::ActiveWithError
            )
    })
}

/// A member listing: direct members that are users, with `@odata.type`, paged. Without
/// `full` (the caller cannot read users) each member carries only `@odata.type` and
/// `id`, its other properties null ("Limited information returned for inaccessible member
/// objects", <https://learn.microsoft.com/en-us/graph/permissions-overview#limited-information-returned-for-inaccessible-member-objects>).
pub(crate) fn members(
    v: &View<'_>,
    key: &str,
    q: &Query,
    ctx: &ListCtx<'_>,
    which: Members,
    full: bool,
) -> Result<Value, GraphError> {
    let t = v.tenant();
    users::reject_unsupported(q, ctx.eventual, false)?;
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
            .is_some_and(|u| which == Members::All || has_error_from(v, u, group.id))
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
            let mut user = users::user_json(v.user(u), select.as_deref());
            if !full {
                for (k, value) in user.iter_mut() {
                    if k != "id" {
                        *value = Value::Null;
                    }
                }
            }
            m.extend(user);
            items.push(Value::Object(m));
        }
    }
    let context = format!("{}/v1.0/$metadata#directoryObjects", ctx.base);
    Ok(users::collection_page(ctx, q, context, count, next, items))
}
