//! Synthetic tenants: realistic, deterministic (per seed) snapshots for tests, demos and
//! benchmarks. SKUs, skuIds, service plan names and ids are real (from Microsoft's
//! licensing service plan reference); large suites list a subset of their plans.
//! Pure: no I/O.

use std::collections::HashMap;

use rand::{Rng, SeedableRng, rngs::StdRng};
use uuid::Uuid;

use licensectl_model::ids::{GroupId, ServicePlanId, SkuId, TenantId, UserId, parse_guid};
use licensectl_model::snapshot::{
    AppliesTo, AssignmentError, AssignmentStateKind, CapabilityStatus, CompanySubscription, Group,
    LicenseAssignmentState, LicenseProcessingState, LicenseUnitsDetail, ServicePlanInfo,
    ServicePlanRules, SubscribedSku, TenantSnapshot, User,
};

use super::assign::{held_skus, recompute_assigned};
use super::plans::{known_dependencies, known_exclusions};

/// One SKU of the embedded catalog.
#[derive(Debug, Clone)]
pub struct SkuDef {
    /// `skuPartNumber`.
    pub part: &'static str,
    /// `skuId`.
    pub sku_id: &'static str,
    /// `User` or `Company`.
    pub applies_to: AppliesTo,
    /// `(servicePlanName, servicePlanId)`.
    pub plans: &'static [(&'static str, &'static str)],
}

/// The embedded catalog of common SKUs.
pub const SKUS: &[SkuDef] = &[
    SkuDef {
        part: "ENTERPRISEPACK",
        sku_id: "6fd2c87f-b296-42f0-b197-1e91e994b900",
        applies_to: AppliesTo::User,
        plans: &[
            (
                "EXCHANGE_S_ENTERPRISE",
                "efb87545-963c-4e0d-99df-69c6916d9eb0",
            ),
            ("OFFICESUBSCRIPTION", "43de0ff5-c92c-492b-9116-175376d08c38"),
            ("FORMS_PLAN_E3", "2789c901-c14e-48ab-a76a-be334d9d793a"),
            ("TEAMS1", "57ff2da0-773e-42df-b2af-ffb7a2317929"),
            (
                "SHAREPOINTENTERPRISE",
                "5dbe027f-2339-4123-9542-606e4d348a72",
            ),
            ("MCOSTANDARD", "0feaeb32-d00e-4d66-bd5a-43b5b83db82c"),
            ("SWAY", "a23b959c-7ce8-4e57-9140-b90eb88a9e97"),
            ("YAMMER_ENTERPRISE", "7547a3fe-08ee-4ccb-b430-5077c5041653"),
            (
                "MESH_AVATARS_FOR_TEAMS",
                "dcf9d2f4-772e-4434-b757-77a453cfbc02",
            ),
            (
                "MESH_AVATARS_ADDITIONAL_FOR_TEAMS",
                "3efbd4ed-8958-4824-8389-1321f8730af8",
            ),
            ("RMS_S_ENTERPRISE", "bea4c11e-220a-4e6d-8eb8-8ea15d019f90"),
            (
                "Bing_Chat_Enterprise",
                "0d0c0d31-fae7-41f2-b909-eaf4d7f26dba",
            ),
        ],
    },
    SkuDef {
        part: "ENTERPRISEPREMIUM",
        sku_id: "c7df2760-2c81-4ef7-b578-5b5392b571df",
        applies_to: AppliesTo::User,
        plans: &[
            (
                "EXCHANGE_S_ENTERPRISE",
                "efb87545-963c-4e0d-99df-69c6916d9eb0",
            ),
            ("OFFICESUBSCRIPTION", "43de0ff5-c92c-492b-9116-175376d08c38"),
            ("FORMS_PLAN_E5", "e212cbc7-0961-4c40-9825-01117710dcb1"),
            ("TEAMS1", "57ff2da0-773e-42df-b2af-ffb7a2317929"),
            ("BI_AZURE_P2", "70d33638-9c74-4d01-bfd3-562de28bd4ba"),
            (
                "SHAREPOINTENTERPRISE",
                "5dbe027f-2339-4123-9542-606e4d348a72",
            ),
            ("MCOSTANDARD", "0feaeb32-d00e-4d66-bd5a-43b5b83db82c"),
            ("SWAY", "a23b959c-7ce8-4e57-9140-b90eb88a9e97"),
            ("YAMMER_ENTERPRISE", "7547a3fe-08ee-4ccb-b430-5077c5041653"),
            ("DYN365_CDS_O365_P3", "28b0fa46-c39a-4188-89e2-58e979a6b014"),
            ("CDS_O365_P3", "afa73018-811e-46e9-988f-f75d2b1b8430"),
            ("LOCKBOX_ENTERPRISE", "9f431833-0334-42de-a7dc-70aa40db46db"),
        ],
    },
    SkuDef {
        part: "STANDARDPACK",
        sku_id: "18181a46-0d4e-45cd-891e-60aabd171b4e",
        applies_to: AppliesTo::User,
        plans: &[
            (
                "EXCHANGE_S_STANDARD",
                "9aaf7827-d63c-4b61-89c3-182f06f82e5c",
            ),
            ("TEAMS1", "57ff2da0-773e-42df-b2af-ffb7a2317929"),
            ("SHAREPOINTSTANDARD", "c7699d2e-19aa-44de-8edf-1736da088ca1"),
            ("MCOSTANDARD", "0feaeb32-d00e-4d66-bd5a-43b5b83db82c"),
            ("SWAY", "a23b959c-7ce8-4e57-9140-b90eb88a9e97"),
            ("YAMMER_ENTERPRISE", "7547a3fe-08ee-4ccb-b430-5077c5041653"),
            (
                "MESH_AVATARS_FOR_TEAMS",
                "dcf9d2f4-772e-4434-b757-77a453cfbc02",
            ),
            (
                "MESH_AVATARS_ADDITIONAL_FOR_TEAMS",
                "3efbd4ed-8958-4824-8389-1321f8730af8",
            ),
            (
                "Bing_Chat_Enterprise",
                "0d0c0d31-fae7-41f2-b909-eaf4d7f26dba",
            ),
            ("CDS_O365_P1", "bed136c6-b799-4462-824d-fc045d3a9d25"),
            (
                "MESH_IMMERSIVE_FOR_TEAMS",
                "f0ff6ac6-297d-49cd-be34-6dfef97f0c28",
            ),
            ("MYANALYTICS_P2", "33c4f319-9bdd-48d6-9c4d-410b750a4a5a"),
        ],
    },
    SkuDef {
        part: "SPE_E3",
        sku_id: "05e9a617-0261-4cee-bb44-138d3ef5d965",
        applies_to: AppliesTo::User,
        plans: &[
            (
                "EXCHANGE_S_ENTERPRISE",
                "efb87545-963c-4e0d-99df-69c6916d9eb0",
            ),
            ("OFFICESUBSCRIPTION", "43de0ff5-c92c-492b-9116-175376d08c38"),
            ("FORMS_PLAN_E3", "2789c901-c14e-48ab-a76a-be334d9d793a"),
            ("TEAMS1", "57ff2da0-773e-42df-b2af-ffb7a2317929"),
            (
                "SHAREPOINTENTERPRISE",
                "5dbe027f-2339-4123-9542-606e4d348a72",
            ),
            ("MCOSTANDARD", "0feaeb32-d00e-4d66-bd5a-43b5b83db82c"),
            ("SWAY", "a23b959c-7ce8-4e57-9140-b90eb88a9e97"),
            ("YAMMER_ENTERPRISE", "7547a3fe-08ee-4ccb-b430-5077c5041653"),
            ("AAD_PREMIUM", "41781fb2-bc02-4b7c-bd55-b576c07bb09d"),
            ("INTUNE_A", "c1ec4a95-1f05-45b3-a911-aa3fa01094f5"),
            (
                "MESH_AVATARS_FOR_TEAMS",
                "dcf9d2f4-772e-4434-b757-77a453cfbc02",
            ),
            (
                "MESH_AVATARS_ADDITIONAL_FOR_TEAMS",
                "3efbd4ed-8958-4824-8389-1321f8730af8",
            ),
        ],
    },
    SkuDef {
        part: "SPE_E5",
        sku_id: "06ebc4ee-1bb5-47dd-8120-11324bc54e06",
        applies_to: AppliesTo::User,
        plans: &[
            (
                "EXCHANGE_S_ENTERPRISE",
                "efb87545-963c-4e0d-99df-69c6916d9eb0",
            ),
            ("OFFICESUBSCRIPTION", "43de0ff5-c92c-492b-9116-175376d08c38"),
            ("FORMS_PLAN_E5", "e212cbc7-0961-4c40-9825-01117710dcb1"),
            ("TEAMS1", "57ff2da0-773e-42df-b2af-ffb7a2317929"),
            ("BI_AZURE_P2", "70d33638-9c74-4d01-bfd3-562de28bd4ba"),
            (
                "SHAREPOINTENTERPRISE",
                "5dbe027f-2339-4123-9542-606e4d348a72",
            ),
            ("MCOSTANDARD", "0feaeb32-d00e-4d66-bd5a-43b5b83db82c"),
            ("SWAY", "a23b959c-7ce8-4e57-9140-b90eb88a9e97"),
            ("YAMMER_ENTERPRISE", "7547a3fe-08ee-4ccb-b430-5077c5041653"),
            ("AAD_PREMIUM", "41781fb2-bc02-4b7c-bd55-b576c07bb09d"),
            ("INTUNE_A", "c1ec4a95-1f05-45b3-a911-aa3fa01094f5"),
            (
                "MESH_AVATARS_FOR_TEAMS",
                "dcf9d2f4-772e-4434-b757-77a453cfbc02",
            ),
        ],
    },
    SkuDef {
        part: "EMS",
        sku_id: "efccb6f7-5641-4e0e-bd10-b4976e1bf68e",
        applies_to: AppliesTo::User,
        plans: &[
            ("AAD_PREMIUM", "41781fb2-bc02-4b7c-bd55-b576c07bb09d"),
            ("RMS_S_PREMIUM", "6c57d4b6-3b23-47a5-9bc9-69f17b4947b3"),
            (
                "ADALLOM_S_DISCOVERY",
                "932ad362-64a8-4783-9106-97849a1a30b9",
            ),
            (
                "EXCHANGE_S_FOUNDATION",
                "113feb6c-3fe4-4440-bddc-54d774bf0318",
            ),
            ("RMS_S_ENTERPRISE", "bea4c11e-220a-4e6d-8eb8-8ea15d019f90"),
            ("MFA_PREMIUM", "8a256a2b-b617-496d-b51b-e76466e88db0"),
            ("INTUNE_A", "c1ec4a95-1f05-45b3-a911-aa3fa01094f5"),
        ],
    },
    SkuDef {
        part: "AAD_PREMIUM",
        sku_id: "078d2b04-f1bd-4111-bbd4-b4b1b354cef4",
        applies_to: AppliesTo::User,
        plans: &[
            ("AAD_PREMIUM", "41781fb2-bc02-4b7c-bd55-b576c07bb09d"),
            (
                "ADALLOM_S_DISCOVERY",
                "932ad362-64a8-4783-9106-97849a1a30b9",
            ),
            (
                "EXCHANGE_S_FOUNDATION",
                "113feb6c-3fe4-4440-bddc-54d774bf0318",
            ),
            ("MFA_PREMIUM", "8a256a2b-b617-496d-b51b-e76466e88db0"),
        ],
    },
    SkuDef {
        part: "POWER_BI_PRO",
        sku_id: "f8a1db68-be16-40ed-86d5-cb42ce701560",
        applies_to: AppliesTo::User,
        plans: &[
            (
                "EXCHANGE_S_FOUNDATION",
                "113feb6c-3fe4-4440-bddc-54d774bf0318",
            ),
            ("BI_AZURE_P2", "70d33638-9c74-4d01-bfd3-562de28bd4ba"),
        ],
    },
    SkuDef {
        part: "VISIOCLIENT",
        sku_id: "c5928f49-12ba-48f7-ada3-0d743a3601d5",
        applies_to: AppliesTo::User,
        plans: &[
            (
                "EXCHANGE_S_FOUNDATION",
                "113feb6c-3fe4-4440-bddc-54d774bf0318",
            ),
            ("ONEDRIVE_BASIC", "da792a53-cbc0-4184-a10d-e544dd34b3c1"),
            (
                "VISIO_CLIENT_SUBSCRIPTION",
                "663a804f-1c30-4ff0-9915-9db84f0d1cea",
            ),
            ("VISIOONLINE", "2bdbaf8f-738f-4ac7-9234-3c3ee2ce7d0f"),
        ],
    },
    SkuDef {
        part: "PROJECTPROFESSIONAL",
        sku_id: "53818b1b-4a27-454b-8896-0dba576410e6",
        applies_to: AppliesTo::User,
        plans: &[
            ("DYN365_CDS_PROJECT", "50554c47-71d9-49fd-bc54-42a2765c555c"),
            (
                "EXCHANGE_S_FOUNDATION",
                "113feb6c-3fe4-4440-bddc-54d774bf0318",
            ),
            ("FLOW_FOR_PROJECT", "fa200448-008c-4acb-abd4-ea106ed2199d"),
            ("SHAREPOINTWAC", "e95bec33-7c88-4a70-8e19-b10bd9d0c014"),
            (
                "PROJECT_CLIENT_SUBSCRIPTION",
                "fafd7243-e5c1-4a3a-9e40-495efcb1d3c3",
            ),
            ("SHAREPOINT_PROJECT", "fe71d6c3-a2ea-4499-9778-da042bf08063"),
            (
                "PROJECT_PROFESSIONAL",
                "818523f5-016b-4355-9be8-ed6944946ea7",
            ),
            (
                "SHAREPOINTENTERPRISE",
                "5dbe027f-2339-4123-9542-606e4d348a72",
            ),
        ],
    },
    SkuDef {
        part: "FLOW_FREE",
        sku_id: "f30db892-07e9-47e9-837c-80727f46fd3d",
        applies_to: AppliesTo::User,
        plans: &[
            ("DYN365_CDS_VIRAL", "17ab22cd-a0b3-4536-910a-cb6eb12696c0"),
            (
                "EXCHANGE_S_FOUNDATION",
                "113feb6c-3fe4-4440-bddc-54d774bf0318",
            ),
            ("FLOW_P2_VIRAL", "50e68c76-46c6-4674-81f9-75456511b170"),
        ],
    },
    SkuDef {
        part: "MCOPSTNC",
        sku_id: "47794cd0-f0e5-45c5-9033-2eb6b5fc84e0",
        applies_to: AppliesTo::Company,
        plans: &[("MCOPSTNC", "505e180f-f7e0-4b65-91d4-00d670bbd18c")],
    },
    // Calling plans: still "cannot be assigned at the same time"
    // (https://learn.microsoft.com/en-us/entra/identity/users/licensing-service-plan-reference).
    SkuDef {
        part: "MCOPSTN1",
        sku_id: "0dab259f-bf13-4952-b7f8-7db8f131b28d",
        applies_to: AppliesTo::User,
        plans: &[("MCOPSTN1", "4ed3ff63-69d7-4fb7-b984-5aec7f605ca8")],
    },
    SkuDef {
        part: "MCOPSTN2",
        sku_id: "d3b4fe1f-9992-4930-8acb-ca6ec609365e",
        applies_to: AppliesTo::User,
        plans: &[("MCOPSTN2", "5a10155d-f5c1-411a-a8ec-e99aae125390")],
    },
    // Add-ons with a prerequisite in the base suite (see `plans::KNOWN_DEPENDENCIES`).
    SkuDef {
        part: "WORKPLACE_ANALYTICS",
        sku_id: "3d957427-ecdc-4df2-aacd-01cc9d519da8",
        applies_to: AppliesTo::User,
        plans: &[
            (
                "WORKPLACE_ANALYTICS",
                "f477b0f0-3bb1-4890-940c-40fcee6ce05f",
            ),
            (
                "WORKPLACE_ANALYTICS_INSIGHTS_BACKEND",
                "ff7b261f-d98b-415b-827c-42a3fdf015af",
            ),
            (
                "WORKPLACE_ANALYTICS_INSIGHTS_USER",
                "b622badb-1b45-48d5-920f-4b27a2c0996c",
            ),
        ],
    },
    SkuDef {
        part: "MCOMEETADV",
        sku_id: "0c266dff-15dd-4b49-8397-2bb16070ed52",
        applies_to: AppliesTo::User,
        plans: &[("MCOMEETADV", "3e26ee1f-8a5f-4d52-aee2-b81ce45c8f40")],
    },
];

/// Errors of the generator.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum GenerateError {
    /// A requested SKU is not in the embedded catalog.
    #[error("unknown SKU '{part}' for --skus; known SKUs: {known}")]
    UnknownSku {
        /// The requested part number.
        part: String,
        /// The catalog's part numbers.
        known: String,
    },
}

/// What to generate.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct GenerateOptions {
    /// Number of users.
    pub users: usize,
    /// Number of licensing groups.
    pub groups: usize,
    /// Seed; the same options give the same tenant.
    pub seed: u64,
    /// SKU part numbers to subscribe to (empty: the whole catalog).
    pub skus: Vec<String>,
    /// The tenant's domain.
    pub domain: String,
    /// Give users directory attributes (department, country, sync state, extension
    /// attributes, creation date, sign-in activity, some guests) and the tenant its
    /// subscriptions; false leaves users with the license fields only (as a licensing-only
    /// read of Graph returns them).
    pub directory_attributes: bool,
}

impl Default for GenerateOptions {
    fn default() -> Self {
        Self {
            users: 100,
            groups: 5,
            seed: 1,
            skus: Vec::new(),
            domain: "contoso.onmicrosoft.com".to_owned(),
            directory_attributes: true,
        }
    }
}

const FIRST: &[&str] = &[
    "adele",
    "alex",
    "allan",
    "bianca",
    "christie",
    "debra",
    "diego",
    "emily",
    "enrico",
    "grady",
    "henrietta",
    "isaiah",
    "johanna",
    "joni",
    "lee",
    "lidia",
    "lynne",
    "megan",
    "miriam",
    "nestor",
    "patti",
    "pradeep",
    "raul",
    "sanjay",
    "yuki",
    "zrinka",
];
const LAST: &[&str] = &[
    "vance",
    "wilber",
    "deyoung",
    "pai",
    "cline",
    "berg",
    "siciliani",
    "braun",
    "gianni",
    "archie",
    "cordova",
    "langer",
    "lauren",
    "sherman",
    "gu",
    "holloway",
    "robbins",
    "bowen",
    "graham",
    "cardenas",
    "fernandez",
    "gupta",
    "sato",
    "kumar",
    "nakamura",
    "horvat",
];
const LOCATIONS: &[&str] = &[
    "US", "US", "US", "GB", "DE", "FR", "NL", "IN", "JP", "CA", "AU", "BR",
];
const STAMP: &str = "2025-01-15T08:00:00Z";

fn guid(rng: &mut StdRng) -> Uuid {
    uuid::Builder::from_random_bytes(rng.random()).into_uuid()
}

/// A GUID of the embedded catalog (the test below checks that every one parses).
fn parse_id(s: &str) -> Uuid {
    parse_guid(s).unwrap_or_default()
}

fn plan_id(def: &SkuDef, name: &str) -> Option<ServicePlanId> {
    def.plans
        .iter()
        .find(|(n, _)| *n == name)
        .map(|(_, id)| ServicePlanId(parse_id(id)))
}

fn direct(sku: SkuId, disabled: Vec<ServicePlanId>) -> LicenseAssignmentState {
    LicenseAssignmentState {
        sku_id: sku,
        disabled_plans: disabled,
        assigned_by_group: None,
        state: AssignmentStateKind::Active,
        error: None,
        last_updated_date_time: Some(STAMP.to_owned()),
    }
}

/// The states a group's licenses give one member.
fn from_group(
    group: &Group,
    state: AssignmentStateKind,
    error: Option<AssignmentError>,
) -> impl Iterator<Item = LicenseAssignmentState> + '_ {
    group
        .assigned_licenses
        .iter()
        .map(move |l| LicenseAssignmentState {
            sku_id: l.sku_id,
            disabled_plans: l.disabled_plans.clone(),
            assigned_by_group: Some(group.id),
            state: state.clone(),
            error: error.clone(),
            last_updated_date_time: Some(STAMP.to_owned()),
        })
}

/// Seconds since the epoch of [`STAMP`], the generator's "now".
const NOW: i64 = 1_736_928_000;
const DAY: i64 = 86_400;

const DEPARTMENTS: &[(&str, &[&str])] = &[
    (
        "Sales",
        &["Account Executive", "Sales Manager", "Sales Associate"],
    ),
    (
        "Marketing",
        &["Marketing Specialist", "Brand Manager", "Content Writer"],
    ),
    (
        "Finance",
        &["Accountant", "Financial Analyst", "Controller"],
    ),
    (
        "Engineering",
        &["Software Engineer", "Engineering Manager", "QA Engineer"],
    ),
    ("Human Resources", &["HR Generalist", "Recruiter"]),
    (
        "Operations",
        &["Operations Manager", "Logistics Coordinator"],
    ),
    ("Customer Support", &["Support Agent", "Support Lead"]),
    ("Retail", &["Store Associate", "Store Manager", "Cashier"]),
    ("Legal", &["Counsel", "Paralegal"]),
    ("IT", &["Systems Administrator", "Helpdesk Technician"]),
];

/// `(usage location, ways the country is written, cities with their state)`.
type Country = (
    &'static str,
    &'static [&'static str],
    &'static [(&'static str, &'static str)],
);

/// The countries of generated users: the
/// `country` attribute is free text (synced from AD's `co`/`c` or typed in the portal),
/// so the same country appears as codes, English names and local names.
const COUNTRIES: &[Country] = &[
    (
        "US",
        &["United States", "USA", "US", "United States of America"],
        &[
            ("Seattle", "WA"),
            ("Redmond", "WA"),
            ("New York", "NY"),
            ("Austin", "TX"),
        ],
    ),
    (
        "GB",
        &["United Kingdom", "UK", "Great Britain"],
        &[("London", "England"), ("Manchester", "England")],
    ),
    (
        "DE",
        &["Germany", "Deutschland", "DE"],
        &[("Berlin", "BE"), ("München", "BY")],
    ),
    (
        "FR",
        &["France", "FR"],
        &[("Paris", "IDF"), ("Lyon", "ARA")],
    ),
    ("NL", &["Netherlands", "Nederland"], &[("Amsterdam", "NH")]),
    (
        "IN",
        &["India", "IN"],
        &[("Bengaluru", "KA"), ("Hyderabad", "TG")],
    ),
    ("JP", &["Japan", "日本"], &[("Tokyo", "Tokyo")]),
    (
        "CA",
        &["Canada", "CA"],
        &[("Toronto", "ON"), ("Vancouver", "BC")],
    ),
    ("AU", &["Australia", "AU"], &[("Sydney", "NSW")]),
    ("BR", &["Brazil", "Brasil"], &[("São Paulo", "SP")]),
];

fn pick<'a, T>(rng: &mut StdRng, items: &'a [T]) -> &'a T {
    &items[rng.random_range(0..items.len())]
}

/// Directory attributes, from the generator's second random stream: department and job
/// title, company, free-text country with city and state, office, employee type, about
/// half the accounts synced from AD (with extension attributes), creation dates spread
/// over nine years, sign-in activity, and a share of the unlicensed accounts as guests.
fn give_attributes(user: &mut User, domain: &str, rng: &mut StdRng) {
    let (department, titles) = pick(rng, DEPARTMENTS);
    let intern = rng.random::<f64>() < 0.04;
    user.attributes.department = Some((*department).to_owned());
    user.attributes.job_title = Some(if intern {
        "Intern".to_owned()
    } else {
        (*pick(rng, titles)).to_owned()
    });
    user.attributes.company_name = match rng.random::<f64>() {
        x if x < 0.70 => Some("Contoso".to_owned()),
        x if x < 0.90 => Some("Contoso Retail".to_owned()),
        _ => None,
    };
    let country = COUNTRIES
        .iter()
        .find(|(code, _, _)| user.usage_location.as_deref() == Some(*code))
        .unwrap_or_else(|| pick(rng, COUNTRIES));
    if rng.random::<f64>() < 0.92 {
        user.attributes.country = Some((*pick(rng, country.1)).to_owned());
        let (city, state) = pick(rng, country.2);
        user.attributes.city = Some((*city).to_owned());
        user.attributes.state = Some((*state).to_owned());
        user.attributes.office_location = Some(if rng.random::<f64>() < 0.15 {
            "Remote".to_owned()
        } else {
            format!("{city} {}", rng.random_range(1..6))
        });
    }
    user.attributes.employee_type = Some(
        match (intern, rng.random::<f64>()) {
            (true, _) => "Intern",
            (false, x) if x < 0.85 => "Employee",
            _ => "Contractor",
        }
        .to_owned(),
    );
    let synced = rng.random::<f64>();
    user.attributes.on_premises_sync_enabled = match synced {
        x if x < 0.50 => Some(true),
        x if x < 0.52 => Some(false), // synced once, now cloud-managed
        _ => None,                    // cloud-only: Graph leaves it null
    };
    if user.attributes.on_premises_sync_enabled == Some(true) {
        let mut ext = Vec::with_capacity(3);
        let role = match rng.random::<f64>() {
            x if x < 0.25 => "frontline",
            x if x < 0.30 => "kiosk",
            _ => "office",
        };
        ext.push(("extensionAttribute1", Some(role.to_owned())));
        ext.push((
            "extensionAttribute2",
            Some(format!("CC{:04}", rng.random_range(1000..10_000))),
        ));
        if user.account_enabled == Some(false) {
            ext.push(("extensionAttribute10", Some("terminated".to_owned())));
        }
        user.attributes.on_premises_extension_attributes = Some(ext.into_iter().collect());
    }
    let created = NOW - rng.random_range(5..9 * 365) * DAY - rng.random_range(0..DAY);
    user.attributes.created_date_time = Some(super::clock::iso_utc(created));
    let unlicensed = user.license_assignment_states.is_empty();
    if unlicensed && rng.random::<f64>() < 0.30 {
        let (name, _) = user
            .user_principal_name
            .split_once('@')
            .unwrap_or((&user.user_principal_name, ""));
        user.user_principal_name = format!("{name}_fabrikam.com#EXT#@{domain}");
        user.attributes.user_type = Some("Guest".to_owned());
        user.attributes.company_name = Some("Fabrikam".to_owned());
        user.attributes.on_premises_sync_enabled = None;
        user.attributes.on_premises_extension_attributes = None;
    } else {
        user.attributes.user_type = Some("Member".to_owned());
    }
    // Sign-ins: most enabled users within weeks, some idle for months, a few never.
    let enabled = user.account_enabled != Some(false);
    let never = rng.random::<f64>() < if enabled { 0.06 } else { 0.3 };
    if !never {
        let idle_days = if enabled {
            match rng.random::<f64>() {
                x if x < 0.80 => rng.random_range(0..30),
                x if x < 0.93 => rng.random_range(30..120),
                _ => rng.random_range(120..400),
            }
        } else {
            rng.random_range(90..700)
        };
        let last = NOW - idle_days * DAY - rng.random_range(0..DAY);
        let non_interactive = last + rng.random_range(0..DAY);
        user.sign_in_activity = Some(Box::new(licensectl_model::snapshot::SignInActivity {
            last_sign_in_date_time: Some(super::clock::iso_utc(last)),
            last_non_interactive_sign_in_date_time: Some(super::clock::iso_utc(
                non_interactive.min(NOW),
            )),
            // Recorded only since 2023-12-01 (1_701_388_800).
            last_successful_sign_in_date_time: (last >= 1_701_388_800)
                .then(|| super::clock::iso_utc(last)),
        }));
    }
}

/// One active subscription per SKU, holding its enabled units: created one to four years
/// before "now" and renewed yearly, so that some renew within the next 90 days; the free
/// Power Automate SKU is a trial.
fn subscriptions(skus: &[SubscribedSku], rng: &mut StdRng) -> Vec<CompanySubscription> {
    skus.iter()
        .filter_map(|s| {
            let id = s.subscription_ids.first()?.clone();
            let created = NOW - rng.random_range(365..4 * 365) * DAY;
            let mut next = created + 365 * DAY;
            while next <= NOW {
                next += 365 * DAY;
            }
            Some(CompanySubscription {
                id,
                commerce_subscription_id: Some(guid(rng).to_string()),
                sku_id: s.sku_id,
                sku_part_number: Some(s.sku_part_number.clone()),
                status: CapabilityStatus::Enabled,
                total_licenses: s.prepaid_units.enabled,
                is_trial: s.sku_part_number == "FLOW_FREE",
                created_date_time: Some(super::clock::iso_utc(created)),
                next_lifecycle_date_time: Some(super::clock::iso_utc(next)),
            })
        })
        .collect()
}

/// Generates a tenant. 100k users take well under a second in release builds.
pub fn generate(opts: &GenerateOptions) -> Result<TenantSnapshot, GenerateError> {
    let defs: Vec<&SkuDef> = if opts.skus.is_empty() {
        SKUS.iter().collect()
    } else {
        let mut out = Vec::new();
        for part in &opts.skus {
            let def = SKUS
                .iter()
                .find(|d| d.part.eq_ignore_ascii_case(part))
                .ok_or_else(|| GenerateError::UnknownSku {
                    part: part.clone(),
                    known: SKUS.iter().map(|d| d.part).collect::<Vec<_>>().join(", "),
                })?;
            out.push(def);
        }
        out
    };
    let mut rng = StdRng::seed_from_u64(opts.seed);
    // Draws added later come from their own stream, so that a seed keeps giving the users,
    // groups and licenses it gave before.
    let mut extra = StdRng::seed_from_u64(opts.seed ^ 0x6c69_6365_6e73_6563);
    let tenant_id = TenantId(guid(&mut rng));
    let by_part: HashMap<&str, &SkuDef> = defs.iter().map(|d| (d.part, *d)).collect();
    let sku_of = |part: &str| by_part.get(part).map(|d| SkuId(parse_id(d.sku_id)));
    let suites: Vec<&SkuDef> = [
        "ENTERPRISEPACK",
        "SPE_E3",
        "SPE_E5",
        "ENTERPRISEPREMIUM",
        "STANDARDPACK",
    ]
    .iter()
    .filter_map(|p| by_part.get(p).copied())
    .collect();
    let user_defs: Vec<&SkuDef> = defs
        .iter()
        .copied()
        .filter(|d| d.applies_to == AppliesTo::User)
        .collect();
    let suite_pool: Vec<&SkuDef> = if suites.is_empty() {
        user_defs.clone()
    } else {
        suites.clone()
    };
    let addons: &[(&str, f64)] = &[
        ("POWER_BI_PRO", 0.15),
        ("FLOW_FREE", 0.20),
        ("EMS", 0.10),
        ("AAD_PREMIUM", 0.05),
        ("VISIOCLIENT", 0.05),
        ("PROJECTPROFESSIONAL", 0.03),
    ];

    // Groups: each assigns one suite; every third disables a plan.
    let mut groups = Vec::with_capacity(opts.groups);
    for g in 0..opts.groups {
        let mut licenses = Vec::new();
        if let Some(def) = suite_pool.get(g % suite_pool.len().max(1)) {
            let mut disabled = Vec::new();
            if g % 3 == 2
                && let Some(p) = plan_id(def, "YAMMER_ENTERPRISE").or_else(|| plan_id(def, "SWAY"))
            {
                disabled.push(p);
            }
            licenses.push(licensectl_model::snapshot::AssignedLicense {
                sku_id: SkuId(parse_id(def.sku_id)),
                disabled_plans: disabled,
            });
        }
        if g % 4 == 3
            && let Some(calling) = sku_of("MCOPSTN2")
        {
            licenses.push(licensectl_model::snapshot::AssignedLicense {
                sku_id: calling,
                disabled_plans: Vec::new(),
            });
        }
        let name = suite_pool
            .get(g % suite_pool.len().max(1))
            .map_or("none", |d| d.part)
            .to_ascii_lowercase();
        groups.push(Group {
            id: GroupId(guid(&mut rng)),
            display_name: format!("sg-license-{name}-{g:03}"),
            mail_nickname: Some(format!("sg-license-{name}-{g:03}")),
            security_enabled: true,
            assigned_licenses: licenses,
            license_processing_state: Some(LicenseProcessingState {
                state: "ProcessingComplete".to_owned(),
            }),
            members: Vec::new(),
        });
    }

    let standard = sku_of("STANDARDPACK");
    let (calling, calling_intl) = (sku_of("MCOPSTN1"), sku_of("MCOPSTN2"));
    let analytics = sku_of("WORKPLACE_ANALYTICS");
    let conferencing = sku_of("MCOMEETADV");
    let mut users = Vec::with_capacity(opts.users);
    for i in 0..opts.users {
        let first = FIRST[rng.random_range(0..FIRST.len())];
        let last = LAST[rng.random_range(0..LAST.len())];
        let location = if rng.random::<f64>() < 0.05 {
            None
        } else {
            Some(LOCATIONS[rng.random_range(0..LOCATIONS.len())].to_owned())
        };
        let id = UserId(guid(&mut rng));
        let mut user = User {
            display_name: Some(format!(
                "{}{} {}{}",
                &first[..1].to_uppercase(),
                &first[1..],
                &last[..1].to_uppercase(),
                &last[1..]
            )),
            account_enabled: Some(rng.random::<f64>() >= 0.03),
            usage_location: location,
            ..User::new(id, format!("{first}.{last}{i}@{}", opts.domain))
        };
        let roll: f64 = rng.random();
        let has_location = user.usage_location.is_some();
        let via_group = !groups.is_empty() && (0.45..0.90).contains(&roll)
            || (!has_location && roll >= 0.45 && !groups.is_empty());
        let direct_suite = has_location
            && ((0.10..0.45).contains(&roll)
                || roll >= 0.90
                || (groups.is_empty() && roll >= 0.45));
        if direct_suite
            && let Some(def) = suite_pool.get(rng.random_range(0..suite_pool.len().max(1)))
        {
            let mut disabled = Vec::new();
            if rng.random::<f64>() < 0.25
                && let Some(p) = plan_id(def, "YAMMER_ENTERPRISE")
            {
                disabled.push(p);
            }
            user.license_assignment_states
                .push(direct(SkuId(parse_id(def.sku_id)), disabled));
        }
        if has_location {
            for (part, share) in addons {
                if rng.random::<f64>() < *share
                    && let Some(sku) = sku_of(part)
                {
                    user.license_assignment_states.push(direct(sku, Vec::new()));
                }
            }
            // Add-ons that need the direct suite's Exchange (Workplace Analytics) or
            // Teams/Skype (Audio Conferencing).
            let has_suite = user
                .direct_states()
                .any(|s| suites.iter().any(|d| SkuId(parse_id(d.sku_id)) == s.sku_id));
            for (sku, share) in [(analytics, 0.03), (conferencing, 0.04)] {
                if has_suite
                    && extra.random::<f64>() < share
                    && let Some(sku) = sku
                {
                    user.license_assignment_states.push(direct(sku, Vec::new()));
                }
            }
        }
        let calling_member = |g: usize, groups: &[Group]| {
            calling_intl.is_some_and(|c| groups[g].assigned_licenses.iter().any(|l| l.sku_id == c))
        };
        if via_group {
            let g = rng.random_range(0..groups.len());
            groups[g].members.push(user.id);
            // A few members of a group with the international calling plan hold the
            // domestic one directly: the plans exclude each other, so the group's licenses
            // fail for them (MutuallyExclusiveViolation).
            if has_location
                && calling_member(g, &groups)
                && extra.random::<f64>() < 0.05
                && let Some(domestic) = calling
            {
                user.license_assignment_states
                    .push(direct(domestic, Vec::new()));
                user.license_assignment_states.extend(from_group(
                    &groups[g],
                    AssignmentStateKind::Error,
                    Some(AssignmentError::MutuallyExclusiveViolation),
                ));
                recompute_assigned(&mut user);
                users.push(user);
                continue;
            }
            // A few members stack Exchange Online plans: a direct E1 (Plan 1) next to a
            // group-assigned suite with Plan 2, both active since January 2023
            // (https://techcommunity.microsoft.com/t5/exchange-team-blog/introducing-support-for-concurrent-exchange-online-license/ba-p/3721098).
            if has_location
                && rng.random::<f64>() < 0.01
                && let Some(std_sku) = standard
            {
                let group_has_exchange = groups[g].assigned_licenses.iter().any(|l| {
                    l.sku_id != std_sku
                        && defs.iter().any(|d| {
                            SkuId(parse_id(d.sku_id)) == l.sku_id
                                && plan_id(d, "EXCHANGE_S_ENTERPRISE").is_some()
                        })
                });
                if group_has_exchange
                    && !user
                        .license_assignment_states
                        .iter()
                        .any(|s| s.sku_id == std_sku)
                {
                    user.license_assignment_states.retain(|s| {
                        s.assigned_by_group.is_some()
                            || !suites.iter().any(|d| SkuId(parse_id(d.sku_id)) == s.sku_id)
                    });
                    user.license_assignment_states
                        .push(direct(std_sku, Vec::new()));
                    user.license_assignment_states.extend(from_group(
                        &groups[g],
                        AssignmentStateKind::Active,
                        None,
                    ));
                    recompute_assigned(&mut user);
                    users.push(user);
                    continue;
                }
            }
            user.license_assignment_states.extend(from_group(
                &groups[g],
                AssignmentStateKind::Active,
                None,
            ));
        }
        recompute_assigned(&mut user);
        users.push(user);
    }
    if opts.directory_attributes {
        for user in &mut users {
            give_attributes(user, &opts.domain, &mut extra);
        }
    }

    let mut consumed: HashMap<SkuId, i64> = HashMap::new();
    for u in &users {
        for sku in held_skus(u) {
            *consumed.entry(sku).or_default() += 1;
        }
    }
    let full_sku = user_defs
        .iter()
        .find(|d| d.part == "VISIOCLIENT")
        .or(user_defs.last())
        .map(|d| d.part);
    let skus: Vec<SubscribedSku> = defs
        .iter()
        .map(|d| {
            let sku_id = SkuId(parse_id(d.sku_id));
            let used = consumed.get(&sku_id).copied().unwrap_or(0);
            let enabled = if d.applies_to != AppliesTo::User {
                1
            } else if Some(d.part) == full_sku {
                used
            } else {
                used + used / 10 + 5 + rng.random_range(0..5)
            };
            SubscribedSku {
                id: Some(format!("{tenant_id}_{sku_id}")),
                account_id: Some(tenant_id.to_string()),
                account_name: Some(
                    opts.domain
                        .split('.')
                        .next()
                        .unwrap_or("contoso")
                        .to_owned(),
                ),
                applies_to: d.applies_to.clone(),
                capability_status: CapabilityStatus::Enabled,
                consumed_units: used,
                prepaid_units: LicenseUnitsDetail {
                    enabled,
                    suspended: 0,
                    warning: 0,
                    locked_out: 0,
                },
                service_plans: d
                    .plans
                    .iter()
                    .map(|(name, id)| ServicePlanInfo {
                        service_plan_id: ServicePlanId(parse_id(id)),
                        service_plan_name: (*name).to_owned(),
                        provisioning_status: Some("Success".to_owned()),
                        applies_to: Some(d.applies_to.clone()),
                    })
                    .collect(),
                sku_id,
                sku_part_number: d.part.to_owned(),
                subscription_ids: vec![guid(&mut rng).to_string()],
            }
        })
        .collect();

    // The emulator enforces its built-in rules anyway; the file lists those that concern
    // its plans, so that it says what Graph would refuse.
    let plans: std::collections::HashSet<ServicePlanId> = defs
        .iter()
        .flat_map(|d| d.plans.iter().map(|(_, id)| ServicePlanId(parse_id(id))))
        .collect();
    let rules = ServicePlanRules {
        mutually_exclusive: known_exclusions()
            .into_iter()
            .filter(|[a, b]| plans.contains(a) && plans.contains(b))
            .collect(),
        dependencies: known_dependencies()
            .into_iter()
            .filter(|d| plans.contains(&d.plan))
            .collect(),
    };
    Ok(TenantSnapshot {
        version: licensectl_model::snapshot::SNAPSHOT_VERSION,
        tenant_id,
        tenant_domain: Some(opts.domain.clone()),
        verified_domains: Vec::new(),
        subscriptions: if opts.directory_attributes {
            subscriptions(&skus, &mut extra)
        } else {
            Vec::new()
        },
        directory_audits: None,
        subscribed_skus: skus,
        users,
        groups,
        apps: Vec::new(),
        service_plan_rules: rules,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use licensectl_model::ids::is_guid;

    #[test]
    fn catalog_ids_are_guids_and_plans_unique_per_sku() {
        for d in SKUS {
            assert!(is_guid(d.sku_id), "{}", d.part);
            let mut seen = std::collections::HashSet::new();
            for (n, id) in d.plans {
                assert!(is_guid(id), "{} {n}", d.part);
                assert!(seen.insert(*id), "{} lists {n} twice", d.part);
            }
        }
    }

    #[test]
    fn generation_is_deterministic_and_consistent() {
        let opts = GenerateOptions {
            users: 2000,
            groups: 8,
            seed: 42,
            ..GenerateOptions::default()
        };
        let a = generate(&opts).expect("generates");
        assert_eq!(a, generate(&opts).expect("generates"));
        assert_ne!(
            a,
            generate(&GenerateOptions {
                seed: 43,
                ..opts.clone()
            })
            .expect("generates")
        );
        for sku in &a.subscribed_skus {
            let holders = a
                .users
                .iter()
                .filter(|u| u.assigned_licenses.iter().any(|l| l.sku_id == sku.sku_id))
                .count() as i64;
            assert_eq!(sku.consumed_units, holders, "{}", sku.sku_part_number);
            assert!(
                sku.consumed_units <= sku.prepaid_units.enabled,
                "{}",
                sku.sku_part_number
            );
        }
        assert!(a.users.iter().any(|u| u.usage_location.is_none()));
        assert!(a.users.iter().any(|u| {
            u.license_assignment_states
                .iter()
                .any(|s| s.error.is_some())
        }));
        assert!(
            a.users.iter().any(
                |u| u.inherited_states().next().is_some() && u.direct_states().next().is_some()
            )
        );
        assert!(
            a.users
                .iter()
                .filter(|u| u.usage_location.is_none())
                .all(|u| u.direct_states().next().is_none())
        );
        assert!(
            a.subscribed_skus
                .iter()
                .any(|s| s.applies_to == AppliesTo::Company)
        );
    }

    #[test]
    fn generated_tenants_follow_the_plan_rules_and_stack_exchange() {
        let t = generate(&GenerateOptions {
            users: 3000,
            groups: 8,
            seed: 11,
            ..GenerateOptions::default()
        })
        .expect("generates");
        let rules = crate::plans::PlanRules::new(
            &t.service_plan_rules.mutually_exclusive,
            &t.service_plan_rules.dependencies,
            false,
            false,
        );
        let plans_of = |sku: SkuId| -> Vec<ServicePlanId> {
            t.subscribed_skus
                .iter()
                .find(|s| s.sku_id == sku)
                .map(|s| s.service_plans.iter().map(|p| p.service_plan_id).collect())
                .unwrap_or_default()
        };
        for u in &t.users {
            let enabled: std::collections::HashSet<ServicePlanId> = u
                .assigned_licenses
                .iter()
                .flat_map(|l| {
                    plans_of(l.sku_id)
                        .into_iter()
                        .filter(|p| !l.disabled_plans.contains(p))
                })
                .collect();
            assert_eq!(rules.violations(&enabled), [], "{}", u.user_principal_name);
        }
        assert!(!t.service_plan_rules.mutually_exclusive.is_empty());
        assert_eq!(t.service_plan_rules.dependencies.len(), 3);
        let errors: Vec<&AssignmentError> = t
            .users
            .iter()
            .flat_map(|u| u.license_assignment_states.iter())
            .filter_map(|s| s.error.as_ref())
            .collect();
        assert!(!errors.is_empty());
        assert!(
            errors
                .iter()
                .all(|e| **e == AssignmentError::MutuallyExclusiveViolation)
        );
        let part = |p: &str| {
            t.subscribed_skus
                .iter()
                .find(|s| s.sku_part_number == p)
                .map(|s| s.sku_id)
                .expect("sku")
        };
        let (e1, dependents) = (
            part("STANDARDPACK"),
            [part("WORKPLACE_ANALYTICS"), part("MCOMEETADV")],
        );
        let stacked = t.users.iter().filter(|u| {
            u.direct_states().any(|s| s.sku_id == e1)
                && u.inherited_states()
                    .any(|s| s.state == AssignmentStateKind::Active && s.sku_id != e1)
        });
        assert!(
            stacked.count() > 0,
            "Exchange Online Plan 1 next to a group suite"
        );
        for d in dependents {
            assert!(
                t.users
                    .iter()
                    .any(|u| u.assigned_licenses.iter().any(|l| l.sku_id == d))
            );
        }
    }

    #[test]
    fn generated_users_have_realistic_directory_attributes() {
        let t = generate(&GenerateOptions {
            users: 4000,
            ..GenerateOptions::default()
        })
        .expect("generates");
        let n = t.users.len() as f64;
        let share = |f: &dyn Fn(&User) -> bool| t.users.iter().filter(|u| f(u)).count() as f64 / n;
        let synced = share(&|u| u.attributes.on_premises_sync_enabled == Some(true));
        assert!((0.40..=0.60).contains(&synced), "synced share {synced}");
        assert!(
            t.users
                .iter()
                .filter(|u| u.attributes.on_premises_sync_enabled == Some(true))
                .all(|u| u.extension_attribute(1).is_some()),
            "synced accounts carry extension attributes"
        );
        let guests: Vec<&User> = t
            .users
            .iter()
            .filter(|u| u.attributes.user_type.as_deref() == Some("Guest"))
            .collect();
        assert!(!guests.is_empty());
        assert!(
            guests
                .iter()
                .all(|g| g.user_principal_name.contains("#EXT#")
                    && g.license_assignment_states.is_empty())
        );
        assert!(
            share(&|u| u.account_enabled == Some(false)) > 0.01,
            "disabled accounts"
        );
        for local in ["Deutschland", "日本", "USA", "United States"] {
            assert!(
                t.users
                    .iter()
                    .any(|u| u.attributes.country.as_deref() == Some(local)),
                "{local}"
            );
        }
        let years: std::collections::BTreeSet<&str> = t
            .users
            .iter()
            .filter_map(|u| u.attributes.created_date_time.as_deref().map(|d| &d[..4]))
            .collect();
        assert!(years.len() >= 8, "created over years: {years:?}");
        assert!(share(&|u| u.attributes.department.is_some()) > 0.99);
        assert!(
            t.users
                .iter()
                .any(|u| u.attributes.job_title.as_deref() == Some("Intern"))
        );
        assert!(t.users.iter().any(|u| u.sign_in_activity.is_none()));
        assert_eq!(t.subscriptions.len(), t.subscribed_skus.len());
        for sub in &t.subscriptions {
            let sku = t
                .subscribed_skus
                .iter()
                .find(|s| s.sku_id == sub.sku_id)
                .expect("sku");
            assert_eq!(sub.total_licenses, sku.prepaid_units.enabled);
            assert_eq!(sku.subscription_ids, std::slice::from_ref(&sub.id));
        }
    }

    #[test]
    fn unknown_skus_are_named() {
        let err = generate(&GenerateOptions {
            skus: vec!["NOPE".into()],
            ..GenerateOptions::default()
        })
        .expect_err("unknown");
        assert!(err.to_string().contains("unknown SKU 'NOPE'"));
    }
}
