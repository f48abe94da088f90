//! Who may call what: each endpoint's application permissions (the token's `roles`) and
//! delegated permissions (`scp`, plus the signed-in user's directory roles, `wids`), as
//! the Microsoft Graph v1.0 reference lists them, least privileged first.
//!
//! Sources, per endpoint, are the "Permissions" tables of the API pages (URLs below). Where
//! a table does not list a permission, the emulator refuses it, even where a ReadWrite
//! permission would plausibly include a Read one (e.g. `LicenseAssignment.ReadWrite.All`
//! is not listed for `GET /subscribedSkus`): the fail-safe reading, which
//! `read_write_implies_read` relaxes. A refusal is 403 `Authorization_RequestDenied`
//! "Insufficient privileges to complete the operation." as Graph answers. Pure functions.

use axum::http::Method;

use super::auth::Claims;
use super::error::GraphError;
use super::routes::Route;

/// Microsoft Entra built-in roles the emulator knows, with their template ids (the `wids`
/// claim), <https://learn.microsoft.com/en-us/entra/identity/role-based-access-control/permissions-reference>.
pub const DIRECTORY_ROLES: &[(&str, &str)] = &[
    (
        "Global Administrator",
        "62e90394-69f5-4237-9190-012177145e10",
    ),
    ("Global Reader", "f2ef992c-3afb-46b9-b7cf-a126ee74c451"),
    (
        "License Administrator",
        "4d6ac14f-3453-41d0-bef9-a3e0c569773a",
    ),
    ("User Administrator", "fe930be7-5e62-47db-91af-98c3a49a38b1"),
    (
        "Groups Administrator",
        "fdd7a751-b60b-444a-984c-02652fe8fa1c",
    ),
    ("Directory Writers", "9360feb5-f418-4baa-8175-e2a00bac4301"),
    ("Directory Readers", "88d8e3e3-8f55-4a1e-953a-9b9898b8876b"),
    ("Reports Reader", "4a5d8f65-41da-4de4-8968-e035b65339cf"),
    ("Security Reader", "5d6b6bb7-de71-4623-b4af-96380a352509"),
    (
        "Security Administrator",
        "194ae4cb-b126-40b2-bd5b-6091b380977d",
    ),
];

/// The template id of the role named `name` (case-insensitive).
pub fn role_template_id(name: &str) -> Option<&'static str> {
    DIRECTORY_ROLES
        .iter()
        .find(|(n, id)| n.eq_ignore_ascii_case(name) || id.eq_ignore_ascii_case(name))
        .map(|(_, id)| *id)
}

const GLOBAL_ADMIN: &str = "Global Administrator";

/// What a call needs.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Rule {
    /// Application permissions, any one (least privileged first).
    pub(crate) app: &'static [&'static str],
    /// Delegated permissions, any one, when they differ from `app` (`None`: the same).
    /// `Directory.AccessAsUser.All` always counts: "the same access to information in the
    /// directory as the signed-in user",
    /// <https://learn.microsoft.com/en-us/graph/permissions-reference#directoryaccessasuserall>.
    pub(crate) delegated: Option<&'static [&'static str]>,
    /// Directory roles a delegated caller needs, any one; empty: any member of the tenant.
    pub(crate) roles: &'static [&'static str],
}

const ORGANIZATION: &[&str] = &[
    "Organization.Read.All",
    "Directory.Read.All",
    "Organization.ReadWrite.All",
    "Directory.ReadWrite.All",
];
const SKUS: &[&str] = &[
    "LicenseAssignment.Read.All",
    "Directory.Read.All",
    "Directory.ReadWrite.All",
    "Organization.Read.All",
    "Organization.ReadWrite.All",
];
const USERS: &[&str] = &[
    "User.Read.All",
    "User.ReadWrite.All",
    "Directory.Read.All",
    "Directory.ReadWrite.All",
];
const USER_WRITE: &[&str] = &["User.ReadWrite.All", "Directory.ReadWrite.All"];
/// Permissions that read a group's members and non-basic properties.
const GROUP_READ: &[&str] = &[
    "GroupMember.Read.All",
    "Group.Read.All",
    "Directory.Read.All",
    "Group.ReadWrite.All",
    "GroupMember.ReadWrite.All",
    "Directory.ReadWrite.All",
];
const GROUPS: &[&str] = &[
    "Group.ReadBasic.All",
    "GroupMember.Read.All",
    "Group.Read.All",
    "Directory.Read.All",
    "Group.ReadWrite.All",
    "GroupMember.ReadWrite.All",
    "Directory.ReadWrite.All",
];
const LICENSE_WRITERS: &[&str] = &[
    GLOBAL_ADMIN,
    "Directory Writers",
    "License Administrator",
    "User Administrator",
];

const fn rule_of(app: &'static [&'static str], roles: &'static [&'static str]) -> Rule {
    Rule {
        app,
        delegated: None,
        roles,
    }
}

/// The rule of `route` for `method`.
pub(crate) fn rule(route: &Route, method: &Method) -> Rule {
    match route {
        // https://learn.microsoft.com/en-us/graph/api/organization-get
        Route::Organization => Rule {
            delegated: Some(&[
                "User.Read",
                "Organization.Read.All",
                "Directory.Read.All",
                "Organization.ReadWrite.All",
                "Directory.ReadWrite.All",
            ]),
            ..rule_of(ORGANIZATION, &[])
        },
        // https://learn.microsoft.com/en-us/graph/api/subscribedsku-list
        Route::Skus | Route::Sku(_) => rule_of(SKUS, &[]),
        // https://learn.microsoft.com/en-us/graph/api/user-update (usageLocation: no
        // narrower permission covers it; License Administrator holds
        // microsoft.directory/users/usageLocation/update).
        Route::User(_) if *method == Method::PATCH => rule_of(
            USER_WRITE,
            &[GLOBAL_ADMIN, "License Administrator", "User Administrator"],
        ),
        // https://learn.microsoft.com/en-us/graph/api/user-list; app-only
        // User.ReadBasic.All is listed by the metadata but answered 403 in practice
        // (https://learn.microsoft.com/en-us/answers/questions/6019739), so it is refused.
        Route::Users | Route::User(_) => Rule {
            delegated: Some(&[
                "User.ReadBasic.All",
                "User.Read.All",
                "User.ReadWrite.All",
                "Directory.Read.All",
                "Directory.ReadWrite.All",
            ]),
            ..rule_of(USERS, &[])
        },
        // https://learn.microsoft.com/en-us/graph/api/user-assignlicense
        Route::UserAssign(_) => rule_of(
            &[
                "LicenseAssignment.ReadWrite.All",
                "Directory.ReadWrite.All",
                "User.ReadWrite.All",
            ],
            LICENSE_WRITERS,
        ),
        // https://learn.microsoft.com/en-us/graph/api/user-reprocesslicenseassignment
        Route::UserReprocess(_) => rule_of(USER_WRITE, LICENSE_WRITERS),
        // https://learn.microsoft.com/en-us/graph/api/group-list (Group.ReadBasic.All gives
        // basic properties only: see `reads_group_licensing`).
        Route::Groups | Route::Group(_) => rule_of(GROUPS, &[]),
        // https://learn.microsoft.com/en-us/graph/api/group-list-members: the page's include
        // lists GroupMember.Read.All as least, newer metadata GroupMember.ReadBasic.All;
        // the emulator takes the stricter. membersWithLicenseErrors is not documented:
        // the same permissions.
        Route::GroupMembers(_) | Route::GroupMembersWithErrors(_) => rule_of(GROUP_READ, &[]),
        // https://learn.microsoft.com/en-us/graph/api/group-assignlicense
        Route::GroupAssign(_) => rule_of(
            &[
                "LicenseAssignment.ReadWrite.All",
                "Directory.ReadWrite.All",
                "Group.ReadWrite.All",
            ],
            &[
                GLOBAL_ADMIN,
                "Directory Writers",
                "Groups Administrator",
                "License Administrator",
                "User Administrator",
            ],
        ),
        // https://learn.microsoft.com/en-us/graph/api/directory-list-subscriptions
        Route::Subscriptions | Route::Subscription(_) => Rule {
            delegated: Some(&["Organization.Read.All", "Directory.Read.All"]),
            ..rule_of(
                &[
                    "Organization.Read.All",
                    "Directory.Read.All",
                    "Organization.ReadWrite.All",
                ],
                &[],
            )
        },
        // https://learn.microsoft.com/en-us/graph/api/directoryaudit-list: "AuditLog.Read.All
        // and Directory.Read.All", both (see `reads_audit_log`), and for delegated callers
        // a role that can read audit logs.
        Route::DirectoryAudits | Route::DirectoryAudit(_) => {
            rule_of(&["AuditLog.Read.All"], AUDIT_READERS)
        }
        Route::Batch => rule_of(&[], &[]),
    }
}

/// Directory roles that may read sign-in and audit reports.
const AUDIT_READERS: &[&str] = &[
    GLOBAL_ADMIN,
    "Global Reader",
    "Reports Reader",
    "Security Reader",
    "Security Administrator",
];

/// May the caller read the directory audit log? The documented permissions are
/// "AuditLog.Read.All and Directory.Read.All" with no higher one
/// (<https://learn.microsoft.com/en-us/graph/api/directoryaudit-list#permissions>): the
/// route's rule checks the first, this the second (for a delegated caller,
/// `Directory.AccessAsUser.All` stands in for it as for every directory read).
pub(crate) fn reads_audit_log(claims: &Claims, read_write_implies_read: bool) -> bool {
    let granted = granted(claims, read_write_implies_read);
    let directory = holds(&granted, &["Directory.Read.All"])
        || (claims.scp.is_some() && holds(&granted, &["Directory.AccessAsUser.All"]));
    directory
        && allows(
            claims,
            &rule_of(&["AuditLog.Read.All"], AUDIT_READERS),
            read_write_implies_read,
        )
}

/// The permissions a token carries, after `read_write_implies_read`.
fn granted(claims: &Claims, read_write_implies_read: bool) -> Vec<String> {
    let mut out: Vec<String> = match &claims.scp {
        Some(scp) => scp.split_whitespace().map(str::to_owned).collect(),
        None => claims.roles.clone(),
    };
    if read_write_implies_read {
        let implied: Vec<String> = out
            .iter()
            .filter_map(|p| {
                p.strip_suffix(".ReadWrite.All")
                    .map(|s| format!("{s}.Read.All"))
            })
            .collect();
        out.extend(implied);
    }
    out
}

fn holds(granted: &[String], any: &[&str]) -> bool {
    any.iter()
        .any(|p| granted.iter().any(|g| g.eq_ignore_ascii_case(p)))
}

fn has_role(claims: &Claims, roles: &[&str]) -> bool {
    roles.iter().any(|r| {
        role_template_id(r).is_some_and(|id| claims.wids.iter().any(|w| w.eq_ignore_ascii_case(id)))
    })
}

/// True when `claims` satisfy `rule`.
pub(crate) fn allows(claims: &Claims, rule: &Rule, read_write_implies_read: bool) -> bool {
    let granted = granted(claims, read_write_implies_read);
    if claims.scp.is_some() {
        let scoped = holds(&granted, rule.delegated.unwrap_or(rule.app))
            || holds(&granted, &["Directory.AccessAsUser.All"]);
        scoped && (rule.roles.is_empty() || has_role(claims, rule.roles))
    } else {
        holds(&granted, rule.app)
    }
}

/// Checks `claims` against `rule`: 403 `Authorization_RequestDenied` when refused.
pub(crate) fn authorize(
    claims: &Claims,
    rule: &Rule,
    read_write_implies_read: bool,
) -> Result<(), GraphError> {
    if allows(claims, rule, read_write_implies_read) {
        Ok(())
    } else {
        Err(GraphError::forbidden())
    }
}

/// May the caller read users' properties? Without it, `GET /groups/{id}/members` returns
/// user members with only `@odata.type` and `id` ("Limited information returned for
/// inaccessible member objects",
/// <https://learn.microsoft.com/en-us/graph/permissions-overview#limited-information-returned-for-inaccessible-member-objects>).
pub(crate) fn reads_users(claims: &Claims, read_write_implies_read: bool) -> bool {
    allows(
        claims,
        &rule(&Route::Users, &Method::GET),
        read_write_implies_read,
    )
}

/// May the caller read a group's licensing properties (`assignedLicenses`,
/// `licenseProcessingState`)? They are not among the basic properties that
/// Group.ReadBasic.All grants; the emulator refuses the request rather than answer them
/// empty (a modelling choice).
pub(crate) fn reads_group_licensing(claims: &Claims, read_write_implies_read: bool) -> bool {
    allows(claims, &rule_of(GROUP_READ, &[]), read_write_implies_read)
}

/// May the caller read `signInActivity`? It needs AuditLog.Read.All in addition to a
/// users permission (<https://learn.microsoft.com/en-us/graph/api/resources/signinactivity>),
/// and for a delegated caller a role that can read sign-in reports.
pub(crate) fn reads_sign_in_activity(claims: &Claims, read_write_implies_read: bool) -> bool {
    const READERS: &[&str] = AUDIT_READERS;
    let granted = granted(claims, read_write_implies_read);
    // Directory.AccessAsUser.All does not stand in for AuditLog.Read.All (not a directory
    // permission).
    let audit = holds(&granted, &["AuditLog.Read.All"])
        && (claims.scp.is_none() || has_role(claims, READERS));
    audit && reads_users(claims, read_write_implies_read)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn app(roles: &[&str]) -> Claims {
        Claims {
            roles: roles.iter().map(|r| (*r).to_owned()).collect(),
            ..Claims::default()
        }
    }

    fn user(scp: &str, roles: &[&str]) -> Claims {
        Claims {
            scp: Some(scp.to_owned()),
            wids: roles
                .iter()
                .filter_map(|r| role_template_id(r))
                .map(str::to_owned)
                .collect(),
            ..Claims::default()
        }
    }

    #[test]
    fn application_permissions_follow_the_reference_tables() {
        let get = Method::GET;
        let cases: &[(Route, &Method, &[&str], bool)] = &[
            (
                Route::Organization,
                &get,
                &["User.Read.All", "LicenseAssignment.ReadWrite.All"],
                false,
            ),
            (Route::Organization, &get, &["Organization.Read.All"], true),
            (Route::Skus, &get, &["LicenseAssignment.Read.All"], true),
            (
                Route::Skus,
                &get,
                &["LicenseAssignment.ReadWrite.All"],
                false,
            ),
            (Route::Users, &get, &["User.ReadBasic.All"], false),
            (
                Route::User("u".into()),
                &Method::PATCH,
                &["LicenseAssignment.ReadWrite.All", "User.Read.All"],
                false,
            ),
            (
                Route::UserAssign("u".into()),
                &Method::POST,
                &["LicenseAssignment.ReadWrite.All"],
                true,
            ),
            (
                Route::UserReprocess("u".into()),
                &Method::POST,
                &["LicenseAssignment.ReadWrite.All"],
                false,
            ),
            (
                Route::GroupMembers("g".into()),
                &get,
                &["GroupMember.ReadBasic.All"],
                false,
            ),
            (
                Route::Subscriptions,
                &get,
                &["LicenseAssignment.Read.All"],
                false,
            ),
            (Route::Subscriptions, &get, &["Organization.Read.All"], true),
        ];
        for (route, method, roles, ok) in cases {
            assert_eq!(
                allows(&app(roles), &rule(route, method), false),
                *ok,
                "{route:?} {method} with {roles:?}"
            );
        }
        assert!(
            allows(
                &app(&["LicenseAssignment.ReadWrite.All"]),
                &rule(&Route::Skus, &get),
                true
            ),
            "the lenient reading"
        );
    }

    #[test]
    fn delegated_calls_need_a_scope_and_for_writes_a_role() {
        let cli = "AuditLog.Read.All Directory.AccessAsUser.All email Group.ReadWrite.All openid profile User.ReadWrite.All";
        let assign = rule(&Route::UserAssign("u".into()), &Method::POST);
        assert!(!allows(&user(cli, &[]), &assign, false), "a plain member");
        assert!(allows(
            &user(cli, &["License Administrator"]),
            &assign,
            false
        ));
        assert!(allows(
            &user(cli, &[]),
            &rule(&Route::Skus, &Method::GET),
            false
        ));
        assert!(
            !allows(
                &user("User.Read", &["Global Administrator"]),
                &rule(&Route::Users, &Method::GET),
                false
            ),
            "the scope is missing"
        );
        assert!(reads_sign_in_activity(
            &user(cli, &["Reports Reader"]),
            false
        ));
        assert!(!reads_sign_in_activity(
            &user(cli, &["License Administrator"]),
            false
        ));
        assert!(!reads_sign_in_activity(&app(&["User.Read.All"]), false));
        assert!(reads_sign_in_activity(
            &app(&["User.Read.All", "AuditLog.Read.All"]),
            false
        ));
    }
}
