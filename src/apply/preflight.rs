//! The preflight: before any write, the permissions the token grants are checked against
//! what the plan's writes need, so that a missing permission is named once, with how to
//! grant it, instead of failing every write with 403. Pure: it takes the token's
//! permissions (`roles` of an app token, `scp` of a user's token) and the changes.
//!
//! What each write accepts, least privileged first (Microsoft Graph permissions
//! reference of each API):
//! - `POST /users/{id}/assignLicense`: `LicenseAssignment.ReadWrite.All`,
//!   `User.ReadWrite.All`, `Directory.ReadWrite.All`
//!   (<https://learn.microsoft.com/en-us/graph/api/user-assignlicense#permissions>);
//! - `POST /groups/{id}/assignLicense`: `LicenseAssignment.ReadWrite.All`,
//!   `Group.ReadWrite.All`, `Directory.ReadWrite.All`
//!   (<https://learn.microsoft.com/en-us/graph/api/group-assignlicense#permissions>);
//! - `PATCH /users/{id}` (`usageLocation`): `User.ReadWrite.All`,
//!   `Directory.ReadWrite.All` — `LicenseAssignment.ReadWrite.All` covers only the two
//!   `assignLicense` actions (<https://learn.microsoft.com/en-us/graph/api/user-update#permissions>).
//!
//! A token whose claims name no permission at all is not judged (Graph will answer).

use serde::Serialize;

use crate::plan::{Change, Principal};

/// The kinds of write apply makes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Write {
    UserAssign,
    GroupAssign,
    UsageLocation,
}

impl Write {
    /// True when `change` makes this kind of write.
    fn made_by(self, change: &Change) -> bool {
        let group = matches!(change.principal, Principal::Group { .. });
        match self {
            Write::UserAssign => !group && change.has_license_call(),
            Write::GroupAssign => group && change.has_license_call(),
            Write::UsageLocation => change.usage_location.is_some(),
        }
    }
}

/// One kind of write and the permissions that allow it, least privileged first.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct Need {
    write: Write,
    /// What the plan does, for the message.
    what: &'static str,
    /// Any one of these allows it.
    accepted: &'static [&'static str],
}

const USER_ASSIGN: Need = Need {
    write: Write::UserAssign,
    what: "assign licenses to users",
    accepted: &[
        "LicenseAssignment.ReadWrite.All",
        "User.ReadWrite.All",
        "Directory.ReadWrite.All",
    ],
};
const GROUP_ASSIGN: Need = Need {
    write: Write::GroupAssign,
    what: "assign licenses to groups",
    accepted: &[
        "LicenseAssignment.ReadWrite.All",
        "Group.ReadWrite.All",
        "Directory.ReadWrite.All",
    ],
};
const USAGE_LOCATION: Need = Need {
    write: Write::UsageLocation,
    what: "set usage locations",
    accepted: &["User.ReadWrite.All", "Directory.ReadWrite.All"],
};

/// A permission the plan needs and the token lacks.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct MissingPermission {
    /// The least privileged permission that would do.
    pub permission: &'static str,
    /// Every permission that would do.
    pub accepted: &'static [&'static str],
    /// What the plan needs it for.
    pub what: &'static str,
    /// How many principals' changes need it.
    pub principals: usize,
    /// True for a user's (delegated) token, false for an app's.
    pub delegated: bool,
}

impl MissingPermission {
    /// The refusal, with how to grant the permission.
    pub fn message(&self) -> String {
        let others = &self.accepted[1..];
        let or = if others.is_empty() {
            String::new()
        } else {
            format!(" (or {})", others.join(", "))
        };
        let grant = if self.delegated {
            format!(
                "sign in as a user whose token has the delegated permission {} (and a role such as License Administrator), e.g. consent to it for the Azure CLI's app, then run apply again",
                self.permission
            )
        } else {
            format!(
                "grant the app registration the Microsoft Graph application permission {} and give admin consent (Entra admin center > App registrations > API permissions), then run apply again",
                self.permission
            )
        };
        format!(
            "the token lacks {}{or}, which the plan needs to {} ({} principal(s)); {grant}",
            self.permission, self.what, self.principals
        )
    }
}

/// The permissions `changes` need that a token granting `roles` (application) and
/// `scopes` (delegated) lacks; empty when it has them all, or when it names no
/// permission at all.
pub fn missing(roles: &[String], scopes: &[String], changes: &[Change]) -> Vec<MissingPermission> {
    let delegated = roles.is_empty() && !scopes.is_empty();
    let granted: &[String] = if delegated { scopes } else { roles };
    if granted.is_empty() {
        return Vec::new();
    }
    let has = |need: &Need| {
        need.accepted
            .iter()
            .any(|p| granted.iter().any(|g| g.eq_ignore_ascii_case(p)))
    };
    let count = |need: &Need| changes.iter().filter(|c| need.write.made_by(c)).count();
    [USER_ASSIGN, GROUP_ASSIGN, USAGE_LOCATION]
        .iter()
        .filter_map(|need| {
            let principals = count(need);
            (principals > 0 && !has(need)).then(|| MissingPermission {
                permission: need.accepted[0],
                accepted: need.accepted,
                what: need.what,
                principals,
                delegated,
            })
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ids::{GroupId, SkuId, UserId};
    use crate::plan::{LicenseAdd, SkuName, UsageLocationStep};

    fn change(principal: Principal, license: bool, location: bool) -> Change {
        Change {
            principal,
            usage_location: location.then(|| UsageLocationStep {
                from: None,
                to: "US".into(),
            }),
            add: if license {
                vec![LicenseAdd {
                    sku: SkuName {
                        part_number: "SPE_E3".into(),
                        id: SkuId(uuid::Uuid::from_u128(1)),
                    },
                    disabled_plans: Vec::new(),
                    already_inherited: false,
                }]
            } else {
                Vec::new()
            },
            update: Vec::new(),
            remove: Vec::new(),
            rules: None,
        }
    }

    fn user(n: u128) -> Principal {
        Principal::User {
            id: UserId(uuid::Uuid::from_u128(n)),
            name: format!("u{n}@contoso.com"),
        }
    }

    fn group(n: u128) -> Principal {
        Principal::Group {
            id: GroupId(uuid::Uuid::from_u128(n)),
            name: format!("g{n}"),
        }
    }

    fn owned(list: &[&str]) -> Vec<String> {
        list.iter().map(|s| (*s).to_owned()).collect()
    }

    /// The least privileged permission named for each missing one.
    fn named(roles: &[&str], scopes: &[&str], changes: &[Change]) -> Vec<(&'static str, usize)> {
        missing(&owned(roles), &owned(scopes), changes)
            .into_iter()
            .map(|m| (m.permission, m.principals))
            .collect()
    }

    #[test]
    fn the_preflight_names_each_permission_the_plans_writes_need_and_the_token_lacks() {
        let least = [
            "LicenseAssignment.ReadWrite.All",
            "User.Read.All",
            "GroupMember.Read.All",
            "Group.Read.All",
        ];
        let licenses_only = [change(user(1), true, false), change(group(2), true, false)];
        // The least-privilege app applies a plan that sets no usage location.
        assert_eq!(named(&least, &[], &licenses_only), vec![]);
        // A usage location needs User.ReadWrite.All: LicenseAssignment.* does not cover it.
        let with_location = [change(user(1), true, true), change(user(3), false, true)];
        assert_eq!(
            named(&least, &[], &with_location),
            vec![("User.ReadWrite.All", 2)]
        );
        // A read-only app lacks both assignLicense permissions.
        let read_only = [
            "LicenseAssignment.Read.All",
            "User.Read.All",
            "Group.Read.All",
        ];
        assert_eq!(
            named(&read_only, &[], &licenses_only),
            vec![
                ("LicenseAssignment.ReadWrite.All", 1),
                ("LicenseAssignment.ReadWrite.All", 1)
            ]
        );
        // Higher permissions do: User.ReadWrite.All for users, Group.ReadWrite.All for
        // groups, Directory.ReadWrite.All for everything.
        assert_eq!(
            named(&["User.ReadWrite.All"], &[], &licenses_only),
            vec![("LicenseAssignment.ReadWrite.All", 1)],
            "User.ReadWrite.All does not assign to groups"
        );
        assert_eq!(
            named(
                &["User.ReadWrite.All", "Group.ReadWrite.All"],
                &[],
                &licenses_only
            ),
            vec![]
        );
        assert_eq!(
            named(&["Directory.ReadWrite.All"], &[], &with_location),
            vec![]
        );
        // A user's token is judged by its scopes.
        let found = missing(
            &[],
            &owned(&["User.Read", "Directory.Read.All"]),
            &with_location,
        );
        assert!(found.iter().all(|m| m.delegated), "{found:?}");
        assert!(
            found[0]
                .message()
                .contains("delegated permission LicenseAssignment.ReadWrite.All"),
            "{}",
            found[0].message()
        );
        // A token naming no permission is not judged.
        assert_eq!(named(&[], &[], &with_location), vec![]);
    }

    #[test]
    fn the_preflight_message_names_the_permission_its_alternatives_and_how_to_grant_it() {
        let found = missing(
            &owned(&["LicenseAssignment.ReadWrite.All"]),
            &[],
            &[change(user(1), true, true)],
        );
        assert_eq!(
            found[0].message(),
            "the token lacks User.ReadWrite.All (or Directory.ReadWrite.All), which the plan needs to set usage locations (1 principal(s)); grant the app registration the Microsoft Graph application permission User.ReadWrite.All and give admin consent (Entra admin center > App registrations > API permissions), then run apply again"
        );
    }
}
