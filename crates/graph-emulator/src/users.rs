//! `/users`: list with `$select`/`$top`/`$filter`/`$count` and paging, get by id or
//! userPrincipalName, `PATCH` of `usageLocation`, and the Graph JSON shape of a user.

use serde_json::{Map, Value, json};

use licensectl_model::snapshot::{AssignedLicense, LicenseAssignmentState, SignInActivity, User};

use super::clock::Stamp;
use super::error::GraphError;
use super::query::{
    Clause, Literal, Order, Query, encode_component, is_advanced, make_skiptoken, parse_filter,
    parse_select, parse_top, read_skiptoken, too_many_values,
};
use super::replica::View;
use super::state::Tenant;

/// Properties returned when there is no `$select` (<https://learn.microsoft.com/en-us/graph/api/user-list>).
pub(crate) const DEFAULT_PROPERTIES: &[&str] = &[
    "businessPhones",
    "displayName",
    "givenName",
    "jobTitle",
    "mail",
    "mobilePhone",
    "officeLocation",
    "preferredLanguage",
    "surname",
    "userPrincipalName",
    "id",
];

/// Properties returned only when selected.
pub(crate) const EXTRA_PROPERTIES: &[&str] = &[
    "accountEnabled",
    "assignedLicenses",
    "licenseAssignmentStates",
    "usageLocation",
    "assignedPlans",
    "city",
    "companyName",
    "country",
    "department",
    "employeeId",
    "employeeType",
    "state",
    "userType",
    "createdDateTime",
    "onPremisesSyncEnabled",
    "onPremisesExtensionAttributes",
    "signInActivity",
];

/// The page size cap when `signInActivity` is selected ("the maximum page size is 500",
/// <https://learn.microsoft.com/en-us/graph/api/user-list>; older text said 120): larger
/// `$top` values are capped silently, never refused.
pub(crate) const SIGN_IN_ACTIVITY_PAGE: usize = 500;

/// True when the query selects `signInActivity`.
pub(crate) fn selects_sign_in_activity(q: &Query) -> bool {
    q.get("$select").is_some_and(|s| {
        s.split(',')
            .any(|p| p.trim().eq_ignore_ascii_case("signInActivity"))
    })
}

fn text(v: &Option<String>) -> Value {
    v.clone().map_or(Value::Null, Value::String)
}

/// `signInActivity` as Graph's documented sample shows it: a sign-in kind that never
/// happened reads `0001-01-01T00:00:00Z` with an empty request id
/// (https://learn.microsoft.com/en-us/graph/api/user-list, "Get users including their last
/// sign-in time"); request ids are derived from the user and the time.
fn sign_in_json(u: &User, a: &SignInActivity) -> Value {
    let request_id = |at: &Option<String>, kind: u64| -> Value {
        match at {
            None => Value::String(String::new()),
            Some(t) => {
                let mut h = kind;
                for b in u.id.0.as_bytes().iter().chain(t.as_bytes()) {
                    h = (h ^ u64::from(*b)).wrapping_mul(0x0100_0000_01b3);
                }
                Value::String(uuid::Uuid::from_u64_pair(h, h.rotate_left(29)).to_string())
            }
        }
    };
    let never = |at: &Option<String>| {
        Value::String(
            at.clone()
                .unwrap_or_else(|| "0001-01-01T00:00:00Z".to_owned()),
        )
    };
    json!({
        "lastSignInDateTime": never(&a.last_sign_in_date_time),
        "lastSignInRequestId": request_id(&a.last_sign_in_date_time, 1),
        "lastNonInteractiveSignInDateTime": never(&a.last_non_interactive_sign_in_date_time),
        "lastNonInteractiveSignInRequestId": request_id(&a.last_non_interactive_sign_in_date_time, 2),
        "lastSuccessfulSignInDateTime": a.last_successful_sign_in_date_time,
        "lastSuccessfulSignInRequestId": request_id(&a.last_successful_sign_in_date_time, 3),
    })
}

/// `userType`: `Member` when the tenant file does not say (Graph sets it on every user;
/// a snapshot that did not select it leaves it out).
fn user_type(u: &User) -> &str {
    u.attributes.user_type.as_deref().unwrap_or("Member")
}

fn extension_attributes_json(u: &User) -> Value {
    let mut map = Map::new();
    for n in 1..=15u8 {
        let key = format!("extensionAttribute{n}");
        map.insert(key, text(&u.extension_attribute(n).map(str::to_owned)));
    }
    Value::Object(map)
}

/// Every property `$select` accepts.
pub(crate) const KNOWN_PROPERTIES: &[&[&str]] = &[DEFAULT_PROPERTIES, EXTRA_PROPERTIES];

/// Graph's type name for `$select` errors.
pub(crate) const TYPE_NAME: &str = "Microsoft.DirectoryServices.User";

/// Shared context of a list request.
#[derive(Debug, Clone)]
pub(crate) struct ListCtx<'a> {
    /// `http://host:port` of the request.
    pub base: &'a str,
    /// The request path under `/v1.0`, e.g. `/users`.
    pub path: &'a str,
    /// `ConsistencyLevel: eventual` was sent.
    pub eventual: bool,
    /// `$orderby=userPrincipalName` is served ([`crate::EmulatorOptions::upn_order`]).
    pub upn_order: bool,
    /// What `ge`/`le` do ([`crate::EmulatorOptions::string_ranges`]).
    pub string_ranges: crate::RangeFilters,
}

/// `assignedLicense` JSON.
pub(crate) fn license_json(l: &AssignedLicense) -> Value {
    json!({
        "disabledPlans": l.disabled_plans.iter().map(ToString::to_string).collect::<Vec<_>>(),
        "skuId": l.sku_id.to_string(),
    })
}

/// `licenseAssignmentState` JSON; a successful state's `error` is `"None"`.
pub(crate) fn state_json(s: &LicenseAssignmentState) -> Value {
    let error = match &s.error {
        None => Value::String("None".to_owned()),
        Some(e) => Value::String(e.to_string()),
    };
    json!({
        "assignedByGroup": s.assigned_by_group.map(|g| g.to_string()),
        "disabledPlans": s.disabled_plans.iter().map(ToString::to_string).collect::<Vec<_>>(),
        "error": error,
        "lastUpdatedDateTime": s.last_updated_date_time,
        "skuId": s.sku_id.to_string(),
        "state": Value::String(s.state.to_string()),
    })
}

fn property(u: &User, name: &str) -> Value {
    match name {
        "id" => Value::String(u.id.to_string()),
        "userPrincipalName" => Value::String(u.user_principal_name.clone()),
        "displayName" => u.display_name.clone().map_or(Value::Null, Value::String),
        "businessPhones" => Value::Array(Vec::new()),
        "accountEnabled" => u.account_enabled.map_or(Value::Null, Value::Bool),
        "usageLocation" => u.usage_location.clone().map_or(Value::Null, Value::String),
        "assignedLicenses" => Value::Array(u.assigned_licenses.iter().map(license_json).collect()),
        "licenseAssignmentStates" => {
            Value::Array(u.license_assignment_states.iter().map(state_json).collect())
        }
        "assignedPlans" => Value::Array(Vec::new()),
        "department" => text(&u.attributes.department),
        "jobTitle" => text(&u.attributes.job_title),
        "companyName" => text(&u.attributes.company_name),
        "country" => text(&u.attributes.country),
        "state" => text(&u.attributes.state),
        "city" => text(&u.attributes.city),
        "officeLocation" => text(&u.attributes.office_location),
        "employeeType" => text(&u.attributes.employee_type),
        "userType" => Value::String(user_type(u).to_owned()),
        "onPremisesSyncEnabled" => u
            .attributes
            .on_premises_sync_enabled
            .map_or(Value::Null, Value::Bool),
        "onPremisesExtensionAttributes" => extension_attributes_json(u),
        "createdDateTime" => text(&u.attributes.created_date_time),
        _ => Value::Null,
    }
}

/// A user as Graph renders it with the given selection (`None`: the default set).
pub(crate) fn user_json(u: &User, select: Option<&[&'static str]>) -> Map<String, Value> {
    let props = select.unwrap_or(DEFAULT_PROPERTIES);
    let mut map = Map::with_capacity(props.len() + 1);
    for p in props {
        if *p == "signInActivity" {
            // Absent for a user who never signed in.
            if let Some(a) = &u.sign_in_activity {
                map.insert((*p).to_owned(), sign_in_json(u, a));
            }
            continue;
        }
        map.insert((*p).to_owned(), property(u, p));
    }
    if select.is_some() && !map.contains_key("id") {
        map.insert("id".to_owned(), property(u, "id"));
    }
    map
}

/// `@odata.context` for a collection (or entity) with an optional selection.
pub(crate) fn context(
    base: &str,
    set: &str,
    select: Option<&[&'static str]>,
    entity: bool,
) -> String {
    let mut s = format!("{base}/v1.0/$metadata#{set}");
    if let Some(sel) = select {
        s.push('(');
        s.push_str(&sel.join(","));
        s.push(')');
    }
    if entity {
        s.push_str("/$entity");
    }
    s
}

/// How a property filters.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Kind {
    Text,
    Bool,
    Licenses,
}

/// A filterable property: its name, kind, and whether Graph filters it only as an
/// advanced query.
struct Filterable {
    name: &'static str,
    kind: Kind,
    advanced_only: bool,
}

const fn filterable(name: &'static str, kind: Kind, advanced_only: bool) -> Filterable {
    Filterable {
        name,
        kind,
        advanced_only,
    }
}

/// The properties `$filter` accepts. `eq`/`in`/`startsWith` on the first group work by
/// default (https://learn.microsoft.com/en-us/graph/api/resources/user, properties
/// table); the directory attributes of the second group are accepted only as advanced
/// queries (`ConsistencyLevel: eventual` and `$count=true`) — the fail-safe reading where
/// the reference does not say which work without, and what
/// <https://learn.microsoft.com/en-us/graph/aad-advanced-queries> lists for several of them.
const FILTERABLE: &[Filterable] = &[
    filterable("id", Kind::Text, false),
    filterable("userPrincipalName", Kind::Text, false),
    filterable("displayName", Kind::Text, false),
    filterable("usageLocation", Kind::Text, false),
    filterable("accountEnabled", Kind::Bool, false),
    filterable("userType", Kind::Text, false),
    filterable("assignedLicenses", Kind::Licenses, false),
    filterable("department", Kind::Text, true),
    filterable("jobTitle", Kind::Text, true),
    filterable("companyName", Kind::Text, true),
    filterable("country", Kind::Text, true),
    filterable("state", Kind::Text, true),
    filterable("city", Kind::Text, true),
    filterable("officeLocation", Kind::Text, true),
    filterable("employeeType", Kind::Text, true),
    filterable("onPremisesSyncEnabled", Kind::Bool, true),
];

/// A resolved filter property.
#[derive(Debug, Clone, PartialEq, Eq)]
struct Prop {
    /// Graph's name (for `onPremisesExtensionAttributes/extensionAttributeN`, that path).
    name: String,
    kind: Kind,
    advanced_only: bool,
    /// `N` of an extension attribute.
    extension: Option<u8>,
}

fn unsupported_property(prop: &str) -> GraphError {
    GraphError::unsupported_query(format!(
        "Unsupported or invalid query filter clause specified for property '{prop}' of resource 'User'."
    ))
}

fn resolve(prop: &str) -> Result<Prop, GraphError> {
    if let Some(known) = FILTERABLE
        .iter()
        .find(|p| p.name.eq_ignore_ascii_case(prop))
    {
        return Ok(Prop {
            name: known.name.to_owned(),
            kind: known.kind,
            advanced_only: known.advanced_only,
            extension: None,
        });
    }
    let lower = prop.to_ascii_lowercase();
    let n = lower
        .strip_prefix("onpremisesextensionattributes/extensionattribute")
        .and_then(|n| n.parse::<u8>().ok())
        .filter(|n| (1..=15).contains(n));
    match n {
        Some(n) => Ok(Prop {
            name: format!("onPremisesExtensionAttributes/extensionAttribute{n}"),
            kind: Kind::Text,
            advanced_only: true,
            extension: Some(n),
        }),
        None => Err(unsupported_property(prop)),
    }
}

fn text_prop(u: &User, prop: &Prop) -> Option<String> {
    if let Some(n) = prop.extension {
        return u.extension_attribute(n).map(str::to_owned);
    }
    match prop.name.as_str() {
        "id" => Some(u.id.to_string()),
        "userPrincipalName" => Some(u.user_principal_name.clone()),
        "userType" => Some(user_type(u).to_owned()),
        other => match property(u, other) {
            Value::String(s) => Some(s),
            _ => None,
        },
    }
}

fn bool_prop(u: &User, prop: &Prop) -> Option<bool> {
    match prop.name.as_str() {
        "accountEnabled" => u.account_enabled,
        "onPremisesSyncEnabled" => u.attributes.on_premises_sync_enabled,
        _ => None,
    }
}

/// A validated user filter.
#[derive(Debug, Clone)]
pub(crate) struct UserFilter {
    clauses: Vec<(Clause, Prop)>,
}

fn lit_eq(actual: Option<String>, lit: &Literal) -> bool {
    match (actual, lit) {
        (None, Literal::Null) => true,
        (Some(a), l) => l.as_text().is_some_and(|t| t.eq_ignore_ascii_case(&a)),
        _ => false,
    }
}

fn bool_eq(actual: Option<bool>, lit: &Literal) -> bool {
    match lit {
        Literal::Bool(b) => actual == Some(*b),
        Literal::Null => actual.is_none(),
        _ => false,
    }
}

fn clause_matches(u: &User, clause: &Clause, prop: &Prop) -> bool {
    match (clause, prop.kind) {
        (Clause::Eq(_, lit), Kind::Bool) => bool_eq(bool_prop(u, prop), lit),
        (Clause::Ne(_, lit), Kind::Bool) => !bool_eq(bool_prop(u, prop), lit),
        (Clause::In(_, items), Kind::Bool) => items.iter().any(|l| bool_eq(bool_prop(u, prop), l)),
        (Clause::Eq(_, lit), _) => lit_eq(text_prop(u, prop), lit),
        (Clause::Ne(_, lit), _) => !lit_eq(text_prop(u, prop), lit),
        (Clause::In(_, items), _) => items.iter().any(|l| lit_eq(text_prop(u, prop), l)),
        (Clause::StartsWith(_, v), _) => {
            text_prop(u, prop).is_some_and(|a| a.to_lowercase().starts_with(&v.to_lowercase()))
        }
        (Clause::Cmp(_, order, v), _) if prop.name == "userPrincipalName" => {
            order.holds(&u.user_principal_name, v)
        }
        (Clause::Cmp(_, order, v), _) => text_prop(u, prop).is_some_and(|a| order.holds(&a, v)),
        (Clause::AnySku(_, sku), _) => u.assigned_licenses.iter().any(|l| l.sku_id == *sku),
        (Clause::Count(_, ne, n), _) => {
            let c = u.assigned_licenses.len() as u64;
            if *ne { c != *n } else { c == *n }
        }
    }
}

impl UserFilter {
    /// Validates a `$filter` for users, applying Graph's advanced-query rules.
    pub(crate) fn parse(raw: &str, advanced: bool) -> Result<Self, GraphError> {
        let mut clauses = Vec::new();
        for clause in parse_filter(raw)? {
            let prop = match &clause {
                Clause::Eq(p, _)
                | Clause::Ne(p, _)
                | Clause::In(p, _)
                | Clause::StartsWith(p, _)
                | Clause::Cmp(p, ..)
                | Clause::AnySku(p, _)
                | Clause::Count(p, _, _) => resolve(p)?,
            };
            let refused = || unsupported_property(&prop.name);
            match (&clause, prop.kind) {
                (Clause::Count(..), _) if !advanced => {
                    return Err(GraphError::bad_request(
                        "$count is not currently supported.",
                    ));
                }
                (Clause::In(_, items), _) if items.len() > 15 && !advanced => {
                    return Err(too_many_values(items.len()));
                }
                _ if prop.advanced_only && !advanced => return Err(refused()),
                (Clause::Ne(..) | Clause::Eq(_, Literal::Null), _) if !advanced => {
                    return Err(refused());
                }
                (Clause::AnySku(..) | Clause::Count(..), kind) if kind != Kind::Licenses => {
                    return Err(refused());
                }
                (
                    Clause::Eq(..) | Clause::Ne(..) | Clause::In(..) | Clause::StartsWith(..),
                    Kind::Licenses,
                )
                | (Clause::StartsWith(..) | Clause::Cmp(..), Kind::Bool | Kind::Licenses) => {
                    return Err(refused());
                }
                // `ge`/`le` are documented for `userPrincipalName`, `displayName` and
                // `usageLocation` among these, not for `id` or `userType`
                // (https://learn.microsoft.com/en-us/graph/api/resources/user, properties).
                (Clause::Cmp(..), _) if matches!(prop.name.as_str(), "id" | "userType") => {
                    return Err(refused());
                }
                _ => {}
            }
            clauses.push((clause, prop));
        }
        Ok(Self { clauses })
    }

    /// The tightest `ge` and `le` bounds on `userPrincipalName`, folded.
    fn upn_bounds(&self) -> (Option<String>, Option<String>) {
        let (mut lo, mut hi): (Option<String>, Option<String>) = (None, None);
        for (clause, prop) in &self.clauses {
            if let (Clause::Cmp(_, order, v), "userPrincipalName") = (clause, prop.name.as_str()) {
                let v = crate::query::fold(v);
                match order {
                    Order::Ge => lo = Some(lo.map_or(v.clone(), |l| l.max(v))),
                    Order::Le => hi = Some(hi.map_or(v.clone(), |h| h.min(v))),
                }
            }
        }
        (lo, hi)
    }

    /// True when the user passes every clause.
    pub(crate) fn matches(&self, u: &User) -> bool {
        self.clauses.iter().all(|(c, p)| clause_matches(u, c, p))
    }

    /// Candidate positions from the id/UPN indexes, when a clause allows it.
    fn candidates(&self, t: &Tenant) -> Option<Vec<usize>> {
        for (clause, prop) in &self.clauses {
            if prop.name != "id" && prop.name != "userPrincipalName" {
                continue;
            }
            let values: Vec<String> = match clause {
                Clause::Eq(_, l) => l.as_text().into_iter().collect(),
                Clause::In(_, items) => items.iter().filter_map(Literal::as_text).collect(),
                _ => continue,
            };
            let mut idx: Vec<usize> = values.iter().filter_map(|v| t.user(v)).collect();
            idx.sort_unstable();
            idx.dedup();
            return Some(idx);
        }
        None
    }
}

/// Builds the nextLink: the request's query minus `$skiptoken`, plus the new token.
pub(crate) fn next_link(base: &str, path: &str, q: &Query, position: usize) -> String {
    let mut s = format!("{base}/v1.0{path}?");
    for (k, v) in &q.pairs {
        if k.trim_start_matches('$').eq_ignore_ascii_case("skiptoken") {
            continue;
        }
        s.push_str(&encode_component(k));
        s.push('=');
        s.push_str(&encode_component(v));
        s.push('&');
    }
    s.push_str("$skiptoken=");
    s.push_str(&make_skiptoken(position));
    s
}

/// A collection page: `@odata.context`, `@odata.count` (when asked), `@odata.nextLink`
/// (when more remain) and `value`.
pub(crate) fn collection_page(
    ctx: &ListCtx<'_>,
    q: &Query,
    context: String,
    count: Option<usize>,
    next: Option<usize>,
    items: Vec<Value>,
) -> Value {
    let mut out = Map::new();
    out.insert("@odata.context".to_owned(), Value::String(context));
    if let Some(count) = count {
        out.insert("@odata.count".to_owned(), json!(count));
    }
    if let Some(n) = next {
        out.insert(
            "@odata.nextLink".to_owned(),
            Value::String(next_link(ctx.base, ctx.path, q, n)),
        );
    }
    out.insert("value".to_owned(), Value::Array(items));
    Value::Object(out)
}

/// Rejects query options the emulator (or Graph, for users) does not support; `$orderby`
/// only when `orderby` is false.
pub(crate) fn reject_unsupported(
    q: &Query,
    eventual: bool,
    orderby: bool,
) -> Result<(), GraphError> {
    if q.get("$search").is_some() {
        if !eventual {
            return Err(GraphError::unsupported_query(
                "Request with $search query parameter only works through MSGraph with a special request header: 'ConsistencyLevel: eventual'",
            ));
        }
        return Err(GraphError::unsupported_query(
            "The licensectl emulator does not implement $search; use $filter.",
        ));
    }
    if q.get("$skip").is_some() {
        return Err(GraphError::bad_request(
            "'$skip' is not supported by the service.",
        ));
    }
    for opt in ["$orderby", "$expand"] {
        if q.get(opt).is_some() && !(orderby && opt == "$orderby") {
            return Err(GraphError::unsupported_query(format!(
                "The licensectl emulator does not implement {opt} on this resource."
            )));
        }
    }
    Ok(())
}

/// Pages positions `from..` of `len` items, keeping those `keep` accepts.
/// Returns the page and the position where the next page starts, if any.
pub(crate) fn page_positions(
    positions: impl Iterator<Item = usize>,
    from: usize,
    top: usize,
    keep: impl FnMut(usize) -> bool,
) -> (Vec<usize>, Option<usize>) {
    page_tokens(
        positions.skip_while(|p| *p < from).map(|p| (p, p)),
        top,
        keep,
    )
}

/// Pages the ordinals `span` from `from` on (`at` gives an ordinal's user position),
/// keeping those `keep` accepts; the next page starts at the returned ordinal.
fn page_ordered(
    span: std::ops::Range<usize>,
    from: usize,
    top: usize,
    at: impl Fn(usize) -> usize,
    keep: impl FnMut(usize) -> bool,
) -> (Vec<usize>, Option<usize>) {
    page_tokens(
        (span.start.max(from)..span.end).map(|o| (o, at(o))),
        top,
        keep,
    )
}

/// The first `top` positions of `items` (each with the skiptoken that resumes at it)
/// that `keep` accepts, and the token of the next one, if any.
fn page_tokens(
    items: impl Iterator<Item = (usize, usize)>,
    top: usize,
    mut keep: impl FnMut(usize) -> bool,
) -> (Vec<usize>, Option<usize>) {
    let mut page = Vec::with_capacity(top.min(1000));
    for (token, p) in items {
        if !keep(p) {
            continue;
        }
        if page.len() == top {
            return (page, Some(token));
        }
        page.push(p);
    }
    (page, None)
}

/// `$orderby` on users: `Some(descending)` for `userPrincipalName [asc|desc]`. Graph
/// sorts a filtered list only as an advanced query ("Sorting not supported for current
/// query.", https://devblogs.microsoft.com/microsoft365dev/build-advanced-queries-with-count-filter-search-and-orderby/);
/// the emulator implements no other sort key.
fn parse_orderby(q: &Query, filtered: bool, advanced: bool) -> Result<Option<bool>, GraphError> {
    let Some(raw) = q.get("$orderby") else {
        return Ok(None);
    };
    let words: Vec<&str> = raw.split_whitespace().collect();
    let descending = match words.as_slice() {
        [prop] if prop.eq_ignore_ascii_case("userPrincipalName") => false,
        [prop, dir] if prop.eq_ignore_ascii_case("userPrincipalName") => {
            match dir.to_ascii_lowercase().as_str() {
                "asc" => false,
                "desc" => true,
                _ => {
                    return Err(GraphError::bad_request(format!(
                        "Invalid $orderby direction '{dir}'; use asc or desc."
                    )));
                }
            }
        }
        _ => {
            return Err(GraphError::unsupported_query(format!(
                "The licensectl emulator implements $orderby on users only for userPrincipalName, not '{raw}'."
            )));
        }
    };
    if filtered && !advanced {
        return Err(GraphError::unsupported_query(
            "Sorting not supported for current query.",
        ));
    }
    Ok(Some(descending))
}

/// `GET /users`.
pub(crate) fn list(v: &View<'_>, q: &Query, ctx: &ListCtx<'_>) -> Result<Value, GraphError> {
    let t = v.tenant();
    reject_unsupported(q, ctx.eventual, true)?;
    let select = parse_select(q, KNOWN_PROPERTIES, TYPE_NAME)?;
    let mut top = parse_top(q)?;
    if selects_sign_in_activity(q) {
        top = top.min(SIGN_IN_ACTIVITY_PAGE);
    }
    let advanced = is_advanced(q, ctx.eventual);
    let mut filter = q
        .get("$filter")
        .map(|f| UserFilter::parse(f, advanced))
        .transpose()?;
    let from = q.get("$skiptoken").map(read_skiptoken).transpose()?;
    let order = parse_orderby(q, filter.is_some(), advanced)?;
    if !ctx.upn_order && order.is_some() {
        return Err(GraphError::unsupported_query(
            "Sorting not supported for current query.",
        ));
    }
    if let Some(f) = filter.as_mut() {
        let is_range = |(clause, _): &(Clause, Prop)| matches!(clause, Clause::Cmp(..));
        match ctx.string_ranges {
            crate::RangeFilters::Applied => {}
            crate::RangeFilters::Refused if f.clauses.iter().any(is_range) => {
                return Err(unsupported_property("userPrincipalName"));
            }
            crate::RangeFilters::Refused => {}
            crate::RangeFilters::Ignored => f.clauses.retain(|c| !is_range(c)),
        }
    }
    let keep = |p: usize| filter.as_ref().is_none_or(|f| f.matches(v.user(p)));
    let candidates = filter.as_ref().and_then(|f| f.candidates(t));
    let from = from.unwrap_or(0);
    let first_page = q.get("$skiptoken").is_none();
    let (page, next, count) = match (order, &candidates) {
        (Some(descending), _) => {
            // Ordinals count along the order asked for; the UPN bounds of the filter
            // narrow them to a span of the sorted users.
            let by_upn = t.users_by_upn();
            let n = by_upn.len();
            let (lo, hi) = filter
                .as_ref()
                .map(UserFilter::upn_bounds)
                .unwrap_or_default();
            let asc = t.upn_span(lo.as_deref(), hi.as_deref());
            let span = if descending {
                n - asc.end..n - asc.start
            } else {
                asc
            };
            let at = |o: usize| {
                if descending {
                    by_upn[n - 1 - o]
                } else {
                    by_upn[o]
                }
            };
            let (page, next) = page_ordered(span.clone(), from, top, at, keep);
            let count = (advanced && first_page).then(|| span.filter(|o| keep(at(*o))).count());
            (page, next, count)
        }
        (None, Some(c)) => {
            let (page, next) = page_positions(c.iter().copied(), from, top, keep);
            let count = (advanced && first_page).then(|| c.iter().filter(|p| keep(**p)).count());
            (page, next, count)
        }
        (None, None) => {
            let (page, next) = page_positions(0..t.users.len(), from, top, keep);
            let count =
                (advanced && first_page).then(|| (0..t.users.len()).filter(|p| keep(*p)).count());
            (page, next, count)
        }
    };
    let items: Vec<Value> = page
        .into_iter()
        .map(|p| Value::Object(user_json(v.user(p), select.as_deref())))
        .collect();
    let context = context(ctx.base, "users", select.as_deref(), false);
    Ok(collection_page(ctx, q, context, count, next, items))
}

/// `GET /users/{id | userPrincipalName}`.
pub(crate) fn get(v: &View<'_>, key: &str, q: &Query, base: &str) -> Result<Value, GraphError> {
    let select = parse_select(q, KNOWN_PROPERTIES, TYPE_NAME)?;
    if selects_sign_in_activity(q) && licensectl_model::ids::parse_guid(key).is_err() {
        // Observed: signInActivity by UPN answers 400; use the object id
        // (https://learn.microsoft.com/en-us/answers/questions/1311910).
        return Err(GraphError::bad_request(
            "Get By Key only supports UserId and the key has to be a valid Guid",
        ));
    }
    let u = v
        .tenant()
        .user(key)
        .ok_or_else(|| GraphError::not_found(key))?;
    let mut out = Map::new();
    out.insert(
        "@odata.context".to_owned(),
        Value::String(context(base, "users", select.as_deref(), true)),
    );
    out.extend(user_json(v.user(u), select.as_deref()));
    Ok(Value::Object(out))
}

/// The user object returned by a successful user `assignLicense`.
pub(crate) fn assign_response(t: &Tenant, u: usize, base: &str) -> Value {
    let user = &t.users[u];
    let mut out = Map::new();
    out.insert(
        "@odata.context".to_owned(),
        Value::String(context(base, "users", None, true)),
    );
    out.insert(
        "accountEnabled".to_owned(),
        property(user, "accountEnabled"),
    );
    // The documented answers of assignLicense and reprocessLicenseAssignment show these
    // besides the default properties
    // (https://learn.microsoft.com/en-us/graph/api/user-assignlicense).
    for p in ["assignedLicenses", "assignedPlans", "city", "companyName"] {
        out.insert(p.to_owned(), property(user, p));
    }
    out.extend(user_json(user, None));
    Value::Object(out)
}

/// `PATCH /users/{id}`: `usageLocation`, `displayName` and `accountEnabled`.
pub(crate) fn patch(
    t: &mut Tenant,
    key: &str,
    body: Option<&Value>,
    stamp: &Stamp,
) -> Result<(), GraphError> {
    let u = t.user(key).ok_or_else(|| GraphError::not_found(key))?;
    let Some(Value::Object(map)) = body else {
        return Err(GraphError::bad_request(
            "Empty Payload. JSON content expected.",
        ));
    };
    let mut next = t.users[u].clone();
    for (k, v) in map {
        match (k.as_str(), v) {
            ("usageLocation", Value::Null) => next.usage_location = None,
            ("usageLocation", Value::String(s))
                if s.len() == 2 && s.bytes().all(|b| b.is_ascii_alphabetic()) =>
            {
                next.usage_location = Some(s.to_ascii_uppercase());
            }
            ("displayName", Value::String(s)) => next.display_name = Some(s.clone()),
            ("accountEnabled", Value::Bool(b)) => next.account_enabled = Some(*b),
            ("usageLocation" | "displayName" | "accountEnabled", _) => {
                return Err(GraphError::bad_request(format!(
                    "Invalid value specified for property '{k}' of resource 'User'."
                )));
            }
            _ => {
                return Err(GraphError::bad_request(format!(
                    "Property '{k}' cannot be updated through the licensectl emulator (supported: usageLocation, displayName, accountEnabled)."
                )));
            }
        }
    }
    t.commit_user(u, next, stamp);
    Ok(())
}
