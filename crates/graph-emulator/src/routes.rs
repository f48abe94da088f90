//! The Graph endpoints the emulator serves: parsing a path under `/v1.0` into a
//! [`Route`], the methods each allows, and what each costs in Graph's resource units.

use axum::http::Method;

use super::error::GraphError;
use super::query::{self, Query};

/// The endpoints.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Route {
    Skus,
    Sku(String),
    Users,
    User(String),
    UserAssign(String),
    UserReprocess(String),
    Groups,
    Group(String),
    GroupMembers(String),
    GroupMembersWithErrors(String),
    GroupAssign(String),
    Organization,
    Subscriptions,
    Subscription(String),
    DirectoryAudits,
    DirectoryAudit(String),
    Batch,
}

fn segment_key(seg: &str, collection: &str) -> Option<String> {
    // `users('$x@contoso.com')` addressing.
    let rest = seg.strip_prefix(collection)?;
    let inner = rest.strip_prefix("('")?.strip_suffix("')")?;
    Some(inner.replace("''", "'"))
}

/// The route of `path` (under `/v1.0`, percent-encoded or not).
pub(crate) fn route(path: &str) -> Result<Route, GraphError> {
    let decoded = query::Query::parse(&format!("p={path}"))
        .pairs
        .pop()
        .map(|(_, v)| v)
        .unwrap_or_default();
    let segs: Vec<&str> = decoded.trim_matches('/').split('/').collect();
    let eq = |a: &str, b: &str| a.eq_ignore_ascii_case(b);
    let unknown =
        |s: &str| GraphError::bad_request(format!("Resource not found for the segment '{s}'."));
    let user_action = |key: String, rest: &[&str]| match rest {
        [] => Ok(Route::User(key)),
        [a] if eq(a, "assignLicense") => Ok(Route::UserAssign(key)),
        [a] if eq(a, "reprocessLicenseAssignment") => Ok(Route::UserReprocess(key)),
        [a, ..] => Err(unknown(a)),
    };
    if let Some(first) = segs.first()
        && let Some(key) = segment_key(first, "users")
    {
        return user_action(key, segs.get(1..).unwrap_or_default());
    }
    match segs.as_slice() {
        [s] if eq(s, "subscribedSkus") => Ok(Route::Skus),
        [s, id] if eq(s, "subscribedSkus") => Ok(Route::Sku((*id).to_owned())),
        [s] if eq(s, "users") => Ok(Route::Users),
        [s, id, rest @ ..] if eq(s, "users") => user_action((*id).to_owned(), rest),
        [s] if eq(s, "groups") => Ok(Route::Groups),
        [s, id] if eq(s, "groups") => Ok(Route::Group((*id).to_owned())),
        [s, id, m] if eq(s, "groups") && eq(m, "members") => {
            Ok(Route::GroupMembers((*id).to_owned()))
        }
        [s, id, m] if eq(s, "groups") && eq(m, "membersWithLicenseErrors") => {
            Ok(Route::GroupMembersWithErrors((*id).to_owned()))
        }
        [s, id, a] if eq(s, "groups") && eq(a, "assignLicense") => {
            Ok(Route::GroupAssign((*id).to_owned()))
        }
        [s] if eq(s, "organization") => Ok(Route::Organization),
        [d, s] if eq(d, "directory") && eq(s, "subscriptions") => Ok(Route::Subscriptions),
        [d, s, id] if eq(d, "directory") && eq(s, "subscriptions") => {
            Ok(Route::Subscription((*id).to_owned()))
        }
        [a, d] if eq(a, "auditLogs") && eq(d, "directoryAudits") => Ok(Route::DirectoryAudits),
        [a, d, id] if eq(a, "auditLogs") && eq(d, "directoryAudits") => {
            Ok(Route::DirectoryAudit((*id).to_owned()))
        }
        [s] if eq(s, "$batch") => Ok(Route::Batch),
        [s, ..] => Err(unknown(s)),
        [] => Err(unknown("")),
    }
}

impl Route {
    /// The endpoint as the statistics name it.
    pub(crate) fn label(&self) -> &'static str {
        match self {
            Route::Skus => "/subscribedSkus",
            Route::Sku(_) => "/subscribedSkus/{id}",
            Route::Users => "/users",
            Route::User(_) => "/users/{id}",
            Route::UserAssign(_) => "/users/{id}/assignLicense",
            Route::UserReprocess(_) => "/users/{id}/reprocessLicenseAssignment",
            Route::Groups => "/groups",
            Route::Group(_) => "/groups/{id}",
            Route::GroupMembers(_) => "/groups/{id}/members",
            Route::GroupMembersWithErrors(_) => "/groups/{id}/membersWithLicenseErrors",
            Route::GroupAssign(_) => "/groups/{id}/assignLicense",
            Route::Organization => "/organization",
            Route::Subscriptions => "/directory/subscriptions",
            Route::Subscription(_) => "/directory/subscriptions/{id}",
            Route::DirectoryAudits => "/auditLogs/directoryAudits",
            Route::DirectoryAudit(_) => "/auditLogs/directoryAudits/{id}",
            Route::Batch => "/$batch",
        }
    }

    /// True when the route answers `m`.
    pub(crate) fn allowed(&self, m: &Method) -> bool {
        match self {
            Route::UserAssign(_)
            | Route::UserReprocess(_)
            | Route::GroupAssign(_)
            | Route::Batch => m == Method::POST,
            Route::User(_) => m == Method::GET || m == Method::PATCH,
            _ => m == Method::GET,
        }
    }

    /// Resource units and whether it is a write (<https://learn.microsoft.com/en-us/graph/throttling-limits#identity-and-access-service-limits>):
    /// `GET users` 2 (the list; a single user is "any other GET", 1), `GET subscribedSkus`
    /// 3, `GET groups/{id}/members` 3, any other GET 1; any other POST/PATCH 1 RU and one
    /// write. `$select` −1, `$expand` +1, `$top` below 20 −1, never below 1.
    pub(crate) fn cost(&self, m: &Method, q: &Query) -> (u32, bool) {
        if *m != Method::GET {
            return (1, true);
        }
        let base: i64 = match self {
            Route::Users => 2,
            Route::Skus => 3,
            Route::GroupMembers(_) => 3,
            _ => 1,
        };
        let mut cost = base;
        if q.has_select() {
            cost -= 1;
        }
        if q.get("$expand").is_some() {
            cost += 1;
        }
        if q.get("$top")
            .and_then(|t| t.trim().parse::<u32>().ok())
            .is_some_and(|t| t < 20)
        {
            cost -= 1;
        }
        (cost.max(1) as u32, false)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn paths_route_case_insensitively_and_unknown_segments_are_named() {
        let cases = [
            (
                "/users/a@x.com/assignLicense",
                Route::UserAssign("a@x.com".into()),
            ),
            (
                "/users('o''b@x.com')/reprocessLicenseAssignment",
                Route::UserReprocess("o'b@x.com".into()),
            ),
            (
                "/Groups/g/membersWithLicenseErrors",
                Route::GroupMembersWithErrors("g".into()),
            ),
            ("/directory/subscriptions", Route::Subscriptions),
            (
                "/directory/subscriptions/s1",
                Route::Subscription("s1".into()),
            ),
            ("/auditLogs/directoryaudits", Route::DirectoryAudits),
            (
                "/auditLogs/directoryAudits/Directory_1",
                Route::DirectoryAudit("Directory_1".into()),
            ),
        ];
        for (path, expected) in cases {
            assert_eq!(route(path).expect(path), expected, "{path}");
        }
        let e = route("/users/a/manager").expect_err("unknown");
        assert_eq!(e.message, "Resource not found for the segment 'manager'.");
    }

    #[test]
    fn a_single_user_costs_one_resource_unit_and_the_list_two() {
        let q = Query::parse("");
        assert_eq!(Route::User("x".into()).cost(&Method::GET, &q), (1, false));
        assert_eq!(Route::Users.cost(&Method::GET, &q), (2, false));
        assert_eq!(
            Route::Users.cost(&Method::GET, &Query::parse("$select=id&$top=5")),
            (1, false)
        );
        assert_eq!(
            Route::UserAssign("x".into()).cost(&Method::POST, &q),
            (1, true)
        );
    }
}
