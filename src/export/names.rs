//! How the exporter names SKUs, service plans and groups so that the planner resolves each
//! name back to exactly the object it came from.
//!
//! A name is used when the config loader and the planner's resolution would map it to this
//! object and nothing else: not empty, no surrounding spaces, not shaped like a GUID (the
//! loader would read it as one), and unique the way the loader and resolver compare
//! (SKU part numbers and plan names ignoring ASCII case; group names among every
//! displayName and mailNickname, ignoring case). Otherwise the GUID is written, with the
//! reason as a YAML comment.

use std::collections::HashMap;

use crate::config::check::looks_like_guid;
use crate::ids::{ServicePlanId, SkuId};
use crate::plan::resolve::TenantIndex;
use crate::snapshot::{AppliesTo, CapabilityStatus, Group, SubscribedSku};

/// How one SKU, plan or group is written: the text, and why it is a GUID when it is one
/// for want of a usable name.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Written {
    /// The text of the key or value.
    pub text: String,
    /// Why the name could not be used (written as a comment), if so.
    pub why: Option<String>,
}

impl Written {
    fn name(text: &str) -> Self {
        Written {
            text: text.to_owned(),
            why: None,
        }
    }

    fn id(id: impl ToString, why: String) -> Self {
        Written {
            text: id.to_string(),
            why: Some(why),
        }
    }

    /// Sort key: case-insensitive, then exact.
    pub(crate) fn sort_key(&self) -> (String, String) {
        (self.text.to_lowercase(), self.text.clone())
    }
}

/// Why `name` (of a `what`) cannot stand for its object by itself, ignoring uniqueness.
fn unusable_name(what: &str, name: &str) -> Option<String> {
    if name.trim().is_empty() {
        Some(format!("the {what} is empty"))
    } else if name.trim() != name {
        Some(format!(
            "the {what} '{name}' has leading or trailing spaces"
        ))
    } else if looks_like_guid(name) {
        Some(format!("the {what} '{name}' looks like a GUID"))
    } else {
        None
    }
}

/// One subscribed SKU as the exporter writes it.
#[derive(Debug)]
pub(crate) struct SkuNaming {
    /// The SKU.
    pub written: Written,
    /// Its plans, by id.
    pub plans: HashMap<ServicePlanId, Written>,
    /// Its plan ids, each once, in the SKU's order.
    pub plan_ids: Vec<ServicePlanId>,
    /// Why licensectl cannot assign this SKU (a principal holding it is not exported).
    pub unassignable: Option<String>,
}

/// Names of every subscribed SKU and its plans.
#[derive(Debug, Default)]
pub(crate) struct Catalog {
    skus: HashMap<SkuId, SkuNaming>,
}

impl Catalog {
    /// Names the tenant's `subscribedSkus`.
    pub(crate) fn new(skus: &[SubscribedSku]) -> Self {
        let mut out = Catalog::default();
        for sku in skus {
            if out.skus.contains_key(&sku.sku_id) {
                continue;
            }
            let part = &sku.sku_part_number;
            let why = unusable_name("skuPartNumber", part).or_else(|| {
                let same = skus
                    .iter()
                    .filter(|s| s.sku_part_number.eq_ignore_ascii_case(part))
                    .count();
                (same > 1).then(|| {
                    format!("the skuPartNumber '{part}' is shared by {same} subscribed SKUs")
                })
            });
            let written = match why {
                None => Written::name(part),
                Some(why) => Written::id(sku.sku_id, why),
            };
            let mut plan_ids: Vec<ServicePlanId> = Vec::with_capacity(sku.service_plans.len());
            let mut plans = HashMap::with_capacity(sku.service_plans.len());
            for plan in &sku.service_plans {
                if plans.contains_key(&plan.service_plan_id) {
                    continue;
                }
                let name = &plan.service_plan_name;
                let why = unusable_name("servicePlanName", name).or_else(|| {
                    let same = sku
                        .service_plans
                        .iter()
                        .filter(|p| {
                            p.service_plan_id != plan.service_plan_id
                                && p.service_plan_name.eq_ignore_ascii_case(name)
                        })
                        .count();
                    (same > 0).then(|| {
                        format!(
                            "the servicePlanName '{name}' is shared by {} plans of SKU {part}",
                            same + 1
                        )
                    })
                });
                plan_ids.push(plan.service_plan_id);
                plans.insert(
                    plan.service_plan_id,
                    match why {
                        None => Written::name(name),
                        Some(why) => Written::id(plan.service_plan_id, why),
                    },
                );
            }
            let unassignable = if sku.applies_to == AppliesTo::Company {
                Some(format!(
                    "SKU {} applies to the company, not to users",
                    written.text
                ))
            } else {
                match sku.capability_status {
                    CapabilityStatus::Suspended => Some("suspended"),
                    CapabilityStatus::LockedOut => Some("locked out"),
                    CapabilityStatus::Deleted => Some("deleted"),
                    CapabilityStatus::Enabled
                    | CapabilityStatus::Warning
                    | CapabilityStatus::Unknown(_) => None,
                }
                .map(|state| format!("the subscription of SKU {} is {state}", written.text))
            };
            out.skus.insert(
                sku.sku_id,
                SkuNaming {
                    written,
                    plans,
                    plan_ids,
                    unassignable,
                },
            );
        }
        out
    }

    /// The naming of a subscribed SKU.
    pub(crate) fn sku(&self, id: SkuId) -> Option<&SkuNaming> {
        self.skus.get(&id)
    }
}

/// The key a group is written under: its displayName, else its mailNickname, else its
/// object id, whichever is the first to name this group alone.
pub(crate) fn group_key(group: &Group, index: &TenantIndex<'_>) -> Written {
    let alone = |name: &str| matches!(index.groups_named(name), [one] if one.id == group.id);
    let display = unusable_name("displayName", &group.display_name).or_else(|| {
        (!alone(&group.display_name)).then(|| {
            format!(
                "the displayName '{}' also names another group",
                group.display_name
            )
        })
    });
    let Some(display_why) = display else {
        return Written::name(&group.display_name);
    };
    let nickname = match group.mail_nickname.as_deref() {
        None => Some("it has no mailNickname".to_owned()),
        Some(nick) => unusable_name("mailNickname", nick).or_else(|| {
            (!alone(nick)).then(|| format!("the mailNickname '{nick}' also names another group"))
        }),
    };
    match (nickname, group.mail_nickname.as_deref()) {
        (None, Some(nick)) => Written {
            text: nick.to_owned(),
            why: Some(format!("{display_why}: keyed by mailNickname")),
        },
        (Some(nick_why), _) => Written::id(group.id, format!("{display_why}, and {nick_why}")),
        (None, None) => Written::id(group.id, display_why),
    }
}
