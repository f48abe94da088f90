//! A generated tenant and a config that changes many of its users, shared by the apply
//! fault tests and the apply benchmark.

use std::collections::HashMap;
use std::fmt::Write as _;
use std::path::Path;

use graph_emulator::generate::{GenerateOptions, generate};
use licensectl::ids::{ServicePlanId, SkuId};
use licensectl::snapshot::{TenantSnapshot, User};

/// A generated tenant with ample seats.
pub(crate) fn tenant(users: usize) -> TenantSnapshot {
    let mut t = generate(&GenerateOptions {
        users,
        groups: 4,
        seed: 7,
        skus: ["SPE_E3", "SPE_E5", "POWER_BI_PRO", "EMS"]
            .map(str::to_owned)
            .to_vec(),
        ..GenerateOptions::default()
    })
    .expect("generates");
    for sku in &mut t.subscribed_skus {
        sku.prepaid_units.enabled = 100_000;
    }
    t
}

/// A config changing `changes` users with a direct suite: swaps, adds or removes of an
/// add-on, service plan toggles, and removal of every direct license, in turn.
pub(crate) fn write_config(t: &TenantSnapshot, dir: &Path, changes: usize) {
    let part: HashMap<SkuId, &str> = t
        .subscribed_skus
        .iter()
        .map(|s| (s.sku_id, s.sku_part_number.as_str()))
        .collect();
    let plan_name: HashMap<ServicePlanId, &str> = t
        .subscribed_skus
        .iter()
        .flat_map(|s| s.service_plans.iter())
        .map(|p| (p.service_plan_id, p.service_plan_name.as_str()))
        .collect();
    let sku_id = |name: &str| {
        t.subscribed_skus
            .iter()
            .find(|s| s.sku_part_number == name)
            .map(|s| s.sku_id)
            .expect("sku")
    };
    let (e3, e5, pbi) = (sku_id("SPE_E3"), sku_id("SPE_E5"), sku_id("POWER_BI_PRO"));
    let yammer = plan_name
        .iter()
        .find(|(_, n)| **n == "YAMMER_ENTERPRISE")
        .map(|(id, _)| *id)
        .expect("yammer");
    let mut chosen: Vec<&User> = t
        .users
        .iter()
        .filter(|u| u.usage_location.is_some())
        .filter(|u| u.direct_states().any(|s| s.sku_id == e3 || s.sku_id == e5))
        .collect();
    chosen.sort_by(|a, b| a.user_principal_name.cmp(&b.user_principal_name));
    assert!(chosen.len() >= changes, "enough users: {}", chosen.len());
    std::fs::create_dir_all(dir.join("licenses")).expect("mkdir");
    std::fs::write(
        dir.join("licensectl.yaml"),
        "version: 1\ntenant: contoso.onmicrosoft.com\n",
    )
    .expect("settings");
    for (file, chunk) in chosen[..changes].chunks(500).enumerate() {
        let mut yaml = String::from("users:\n");
        for (j, user) in chunk.iter().enumerate() {
            let i = file * 500 + j;
            let mut licenses: Vec<(SkuId, Vec<ServicePlanId>)> = user
                .direct_states()
                .map(|s| (s.sku_id, s.disabled_plans.clone()))
                .collect();
            match i % 4 {
                0 => {
                    for l in &mut licenses {
                        if l.0 == e3 {
                            l.0 = e5;
                        } else if l.0 == e5 {
                            l.0 = e3;
                        }
                    }
                }
                1 => {
                    if licenses.iter().any(|l| l.0 == pbi) {
                        licenses.retain(|l| l.0 != pbi);
                    } else {
                        licenses.push((pbi, Vec::new()));
                    }
                }
                2 => {
                    for l in &mut licenses {
                        if l.0 == e3 || l.0 == e5 {
                            if l.1.contains(&yammer) {
                                l.1.retain(|p| *p != yammer);
                            } else {
                                l.1.push(yammer);
                            }
                        }
                    }
                }
                _ => licenses.clear(),
            }
            let _ = writeln!(yaml, "  {}:", user.user_principal_name);
            if licenses.is_empty() {
                yaml.push_str("    licenses: []\n");
                continue;
            }
            yaml.push_str("    licenses:\n");
            for (sku, disabled) in licenses {
                let _ = writeln!(yaml, "      - sku: {}", part[&sku]);
                if !disabled.is_empty() {
                    let names: Vec<&str> = disabled.iter().map(|p| plan_name[p]).collect();
                    let _ = writeln!(yaml, "        disabled_plans: [{}]", names.join(", "));
                }
            }
        }
        std::fs::write(dir.join(format!("licenses/users-{file}.yaml")), yaml).expect("users");
    }
}
