//! What a snapshot read keeps of each user: everything, or only what a plan without
//! attribute rules uses — the properties a live read selects when no rule needs more
//! (`id`, `userPrincipalName`, `displayName`, `accountEnabled`, `usageLocation`,
//! `assignedLicenses`, `licenseAssignmentStates` without `lastUpdatedDateTime`).
//!
//! A licensing read checks every property it drops exactly as the whole read does (a
//! string is still a string or `null`, `signInActivity` still an object of such strings,
//! a key is still not repeated): a file reads the same way — or fails the same way —
//! whatever it keeps; only the dropped values are never allocated. It must not drop
//! anything a plan of a config without rules looks at.

use serde::{Deserialize, Deserializer};

use super::model::{
    AssignedLicense, AssignmentError, AssignmentStateKind, ExtensionPairs, LicenseAssignmentState,
    StrVisitor, User, deserialize_assignment_error, exact_vec,
};
use crate::ids::{GroupId, ServicePlanId, SkuId, UserId};

/// Which of a user's properties a snapshot read keeps.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub enum UserFields {
    /// Every property the snapshot holds.
    #[default]
    All,
    /// The license fields only: directory attributes, `createdDateTime`,
    /// `signInActivity` and each license state's `lastUpdatedDateTime` are checked and
    /// dropped (what a plan of a config without `rules:` needs).
    Licensing,
}

impl UserFields {
    /// True when `self` keeps everything `other` keeps.
    pub fn covers(self, other: UserFields) -> bool {
        self == UserFields::All || other == UserFields::Licensing
    }
}

impl User {
    /// Drops what `fields` does not keep (what a read with `fields` would not have kept).
    pub fn keep(&mut self, fields: UserFields) {
        if fields == UserFields::All {
            return;
        }
        let Self {
            id: _,
            user_principal_name: _,
            display_name: _,
            account_enabled: _,
            usage_location: _,
            assigned_licenses: _,
            license_assignment_states,
            attributes,
            sign_in_activity,
        } = self;
        attributes.clear();
        *sign_in_activity = None;
        for s in license_assignment_states {
            s.last_updated_date_time = None;
        }
    }
}

/// A user read with [`UserFields::Licensing`]: the fields and serde attributes of
/// [`User`], the dropped ones as [`Dropped`] values (a test compares the two reads).
/// `fast.rs` reads the same keys directly and must follow any change here (its tests
/// compare it with this read).
#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
#[allow(
    dead_code,
    reason = "the dropped fields are read to be checked, then dropped"
)]
pub(super) struct LicensingUser {
    id: UserId,
    user_principal_name: String,
    #[serde(default)]
    display_name: Option<String>,
    #[serde(default)]
    account_enabled: Option<bool>,
    #[serde(default)]
    usage_location: Option<String>,
    #[serde(default, deserialize_with = "exact_vec")]
    assigned_licenses: Vec<AssignedLicense>,
    #[serde(default, deserialize_with = "licensing_states")]
    license_assignment_states: Vec<LicenseAssignmentState>,
    #[serde(default)]
    department: Option<Dropped>,
    #[serde(default)]
    job_title: Option<Dropped>,
    #[serde(default)]
    company_name: Option<Dropped>,
    #[serde(default)]
    country: Option<Dropped>,
    #[serde(default)]
    state: Option<Dropped>,
    #[serde(default)]
    city: Option<Dropped>,
    #[serde(default)]
    office_location: Option<Dropped>,
    #[serde(default)]
    employee_type: Option<Dropped>,
    #[serde(default)]
    user_type: Option<Dropped>,
    #[serde(default)]
    on_premises_sync_enabled: Option<bool>,
    #[serde(default)]
    on_premises_extension_attributes: Option<DroppedExtensions>,
    #[serde(default)]
    created_date_time: Option<Dropped>,
    #[serde(default)]
    sign_in_activity: Option<DroppedSignIn>,
}

impl From<LicensingUser> for User {
    fn from(lean: LicensingUser) -> User {
        let mut user = User::new(lean.id, lean.user_principal_name);
        user.display_name = lean.display_name;
        user.account_enabled = lean.account_enabled;
        user.usage_location = lean.usage_location;
        user.assigned_licenses = lean.assigned_licenses;
        user.license_assignment_states = lean.license_assignment_states;
        user
    }
}

/// A license state list read as [`LicensingState`]s straight into the states kept (one
/// list, without spare room, as [`exact_vec`] makes it).
fn licensing_states<'de, D: Deserializer<'de>>(
    d: D,
) -> Result<Vec<LicenseAssignmentState>, D::Error> {
    struct States;
    impl<'de> serde::de::Visitor<'de> for States {
        type Value = Vec<LicenseAssignmentState>;
        fn expecting(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
            f.write_str("a sequence")
        }
        fn visit_seq<A: serde::de::SeqAccess<'de>>(
            self,
            mut seq: A,
        ) -> Result<Self::Value, A::Error> {
            let mut states = Vec::new();
            while let Some(state) = seq.next_element::<LicensingState>()? {
                states.push(LicenseAssignmentState::from(state));
            }
            states.shrink_to_fit();
            Ok(states)
        }
    }
    d.deserialize_seq(States)
}

/// [`LicenseAssignmentState`] with `lastUpdatedDateTime` dropped.
#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct LicensingState {
    sku_id: SkuId,
    #[serde(default)]
    disabled_plans: Vec<ServicePlanId>,
    #[serde(default)]
    assigned_by_group: Option<GroupId>,
    state: AssignmentStateKind,
    #[serde(default, deserialize_with = "deserialize_assignment_error")]
    error: Option<AssignmentError>,
    #[serde(default)]
    #[allow(
        dead_code,
        reason = "read to be checked as the whole read checks it, then dropped"
    )]
    last_updated_date_time: Option<Dropped>,
}

impl From<LicensingState> for LicenseAssignmentState {
    fn from(lean: LicensingState) -> Self {
        LicenseAssignmentState {
            sku_id: lean.sku_id,
            disabled_plans: lean.disabled_plans,
            assigned_by_group: lean.assigned_by_group,
            state: lean.state,
            error: lean.error,
            last_updated_date_time: None,
        }
    }
}

/// A string read and dropped (what `String` accepts, nothing allocated).
pub(super) struct Dropped;

impl<'de> Deserialize<'de> for Dropped {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        d.deserialize_str(StrVisitor(|_: &str| Dropped))
    }
}

/// [`super::SignInActivity`] read and dropped.
#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
#[allow(
    dead_code,
    reason = "read to be checked as the whole read checks it, then dropped"
)]
pub(super) struct DroppedSignIn {
    #[serde(default)]
    last_sign_in_date_time: Option<Dropped>,
    #[serde(default)]
    last_non_interactive_sign_in_date_time: Option<Dropped>,
    #[serde(default)]
    last_successful_sign_in_date_time: Option<Dropped>,
}

/// [`super::ExtensionAttributes`] read and dropped: a map of strings to strings or `null`.
pub(super) struct DroppedExtensions;

impl<'de> Deserialize<'de> for DroppedExtensions {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        d.deserialize_map(ExtensionPairs::new(|_: Dropped, _: Option<Dropped>| {}))?;
        Ok(DroppedExtensions)
    }
}
