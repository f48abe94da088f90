//! Value checks: GUID, userPrincipalName and domain shapes, usage locations, SKU and
//! service plan references, license entries and license lists (duplicate SKUs and plans).
//! Pure; each problem becomes a diagnostic, and a broken value comes back as `None`.

use std::path::Path;
use std::sync::Arc;

use serde_saphyr::Spanned;

use super::{Checker, Owner, at};
use crate::config::countries;
use crate::config::desired::{DesiredLicense, Located, PlanRef, PlanSelection, SkuRef};
use crate::config::raw::RawLicense;
use crate::diagnostic::{Diagnostic, DiagnosticCode};
use crate::ids::{ServicePlanId, SkuId};

/// True for text shaped like a GUID (hex digits and hyphens, 32+ characters), which must
/// then parse as one; anything else is a name.
pub(crate) fn looks_like_guid(value: &str) -> bool {
    let inner = value.trim_start_matches('{').trim_end_matches('}');
    inner.len() >= 32
        && inner.contains('-')
        && inner.chars().all(|c| c.is_ascii_hexdigit() || c == '-')
}

/// Checks a userPrincipalName's shape: `name@domain`, no spaces.
pub(crate) fn upn_problem(upn: &str) -> Option<&'static str> {
    let Some((local, domain)) = upn.rsplit_once('@') else {
        return Some("it has no '@'");
    };
    if local.is_empty() {
        return Some("nothing comes before the '@'");
    }
    if domain.is_empty()
        || !domain.contains('.')
        || domain.starts_with('.')
        || domain.ends_with('.')
    {
        return Some("the part after the '@' is not a domain");
    }
    if upn.chars().any(char::is_whitespace) {
        return Some("it contains whitespace");
    }
    None
}

/// True for a DNS name such as `contoso.onmicrosoft.com`: dot-separated labels of ASCII
/// letters, digits and hyphens.
pub(crate) fn is_domain(text: &str) -> bool {
    text.contains('.')
        && !text.starts_with('.')
        && !text.ends_with('.')
        && text.split('.').all(|label| {
            !label.is_empty() && label.chars().all(|c| c.is_ascii_alphanumeric() || c == '-')
        })
}

/// True when two SKU references name the same SKU as written (part numbers ignore case).
fn same_sku(a: &SkuRef, b: &SkuRef) -> bool {
    match (a, b) {
        (SkuRef::Id(a), SkuRef::Id(b)) => a == b,
        (SkuRef::PartNumber(a), SkuRef::PartNumber(b)) => a.eq_ignore_ascii_case(b),
        _ => false,
    }
}

/// True when two service plan references name the same plan as written (names ignore case).
fn same_plan(a: &PlanRef, b: &PlanRef) -> bool {
    match (a, b) {
        (PlanRef::Id(a), PlanRef::Id(b)) => a == b,
        (PlanRef::Name(a), PlanRef::Name(b)) => a.eq_ignore_ascii_case(b),
        _ => false,
    }
}

impl Checker<'_> {
    pub(super) fn usage_location(
        &mut self,
        file: &Arc<Path>,
        owner: &Owner<'_>,
        value: &Spanned<String>,
    ) -> Option<Located<String>> {
        let location = at(file, &value.referenced);
        let code = value.value.as_str();
        if countries::is_alpha2(code) {
            return Some(Located {
                value: code.to_owned(),
                location,
            });
        }
        let help = if let Some((alpha2, name)) = countries::by_alpha2(code) {
            format!("write the code in capitals: '{alpha2}' ({name})")
        } else if let Some((alpha2, name)) = countries::by_alpha3(code) {
            format!("use the two-letter code '{alpha2}' ({name})")
        } else if code.eq_ignore_ascii_case("UK") {
            "the ISO 3166-1 code for the United Kingdom is 'GB'".to_owned()
        } else if let Some((alpha2, name)) =
            countries::from_country(code).and_then(countries::by_alpha2)
        {
            format!("write the two-letter code '{alpha2}' ({name})")
        } else {
            "use an ISO 3166-1 alpha-2 country code such as US, GB, DE or JP".to_owned()
        };
        self.push(
            Diagnostic::new(
                DiagnosticCode::InvalidUsageLocation,
                format!(
                    "usage location '{code}' of {owner} is not an ISO 3166-1 alpha-2 country code"
                ),
            )
            .at(location)
            .help(help),
        );
        None
    }

    pub(super) fn sku(
        &mut self,
        file: &Arc<Path>,
        owner: &Owner<'_>,
        sku: &Spanned<String>,
    ) -> Option<Located<SkuRef>> {
        let location = at(file, &sku.referenced);
        let text = sku.value.trim();
        if !self.non_empty(
            format_args!("the sku of a license of {owner}"),
            text,
            &location,
        ) {
            return None;
        }
        let value = if looks_like_guid(text) {
            match text.parse::<SkuId>() {
                Ok(id) => SkuRef::Id(id),
                Err(error) => {
                    self.push(
                        Diagnostic::new(DiagnosticCode::InvalidGuid, format!("sku of {owner}: {error}"))
                            .at(location)
                            .help("write the skuId as 8-4-4-4-12 hex digits, or use the skuPartNumber (e.g. SPE_E5)"),
                    );
                    return None;
                }
            }
        } else {
            SkuRef::PartNumber(text.to_owned())
        };
        Some(Located { value, location })
    }

    pub(super) fn plans(
        &mut self,
        file: &Arc<Path>,
        owner: &Owner<'_>,
        list: &[Spanned<String>],
    ) -> Option<Vec<Located<PlanRef>>> {
        let mut ok = true;
        let mut out: Vec<Located<PlanRef>> = Vec::with_capacity(list.len());
        for plan in list {
            let location = at(file, &plan.referenced);
            let text = plan.value.trim();
            if !self.non_empty(format_args!("a service plan of {owner}"), text, &location) {
                ok = false;
                continue;
            }
            let value = if looks_like_guid(text) {
                match text.parse::<ServicePlanId>() {
                    Ok(id) => PlanRef::Id(id),
                    Err(error) => {
                        self.push(
                            Diagnostic::new(DiagnosticCode::InvalidGuid, format!("service plan of {owner}: {error}"))
                                .at(location)
                                .help("write the servicePlanId as 8-4-4-4-12 hex digits, or use the servicePlanName"),
                        );
                        ok = false;
                        continue;
                    }
                }
            } else {
                PlanRef::Name(text.to_owned())
            };
            // Plan lists are short: a scan costs less than hashing.
            match out.iter().find(|seen| same_plan(&seen.value, &value)) {
                Some(first) => {
                    self.push(
                        Diagnostic::new(
                            DiagnosticCode::DuplicatePlan,
                            format!("service plan '{text}' is listed twice for {owner}"),
                        )
                        .at(location)
                        .related(first.location.clone(), "first listed here")
                        .help("remove one of them"),
                    );
                    ok = false;
                }
                None => out.push(Located { value, location }),
            }
        }
        ok.then_some(out)
    }

    pub(super) fn license(
        &mut self,
        file: &Arc<Path>,
        owner: &Owner<'_>,
        entry: &Spanned<RawLicense>,
        from_profile: Option<&str>,
    ) -> Option<DesiredLicense> {
        let raw = &entry.value;
        let location = at(file, &entry.referenced);
        let sku = self.sku(file, owner, &raw.sku);
        let sku_name = raw.sku.value.trim();
        let plans = match (&raw.enabled_plans, &raw.disabled_plans) {
            (Some(_), Some(_)) => {
                self.push(
                    Diagnostic::new(
                        DiagnosticCode::PlansBothEnabledAndDisabled,
                        format!("license '{sku_name}' of {owner} has both enabled_plans and disabled_plans"),
                    )
                    .at(location.clone())
                    .help("keep one: enabled_plans (an allowlist: every other plan is off) or disabled_plans (every other plan is on)"),
                );
                None
            }
            (Some(list), None) => self.plans(file, owner, list).map(PlanSelection::Enabled),
            (None, Some(list)) => self.plans(file, owner, list).map(PlanSelection::Disabled),
            (None, None) => Some(PlanSelection::All),
        };
        Some(DesiredLicense {
            sku: sku?,
            plans: plans?,
            from_profile: from_profile.map(str::to_owned),
            location,
        })
    }

    /// Checks a license list: entries and duplicate SKUs. `None` when any entry is broken.
    pub(super) fn license_list(
        &mut self,
        owner: &Owner<'_>,
        entries: impl Iterator<Item = Option<DesiredLicense>>,
    ) -> Option<Vec<DesiredLicense>> {
        let mut ok = true;
        // Sized for the entries: growing from empty allocates four licenses' room for one.
        let mut out: Vec<DesiredLicense> = Vec::with_capacity(entries.size_hint().0);
        for entry in entries {
            let Some(license) = entry else {
                ok = false;
                continue;
            };
            // License lists are short: a scan costs less than hashing.
            match out
                .iter()
                .find(|seen| same_sku(&seen.sku.value, &license.sku.value))
            {
                Some(first) => {
                    let name = match &license.sku.value {
                        SkuRef::Id(id) => id.to_string(),
                        SkuRef::PartNumber(name) => name.clone(),
                    };
                    let note = match &first.from_profile {
                        Some(profile) => format!("first here, in profile '{profile}'"),
                        None => "first here".to_owned(),
                    };
                    let mut diagnostic = Diagnostic::new(
                        DiagnosticCode::DuplicateSku,
                        format!("{owner} gets sku '{name}' twice"),
                    )
                    .at(license.sku.location.clone())
                    .related(first.sku.location.clone(), note)
                    .help(
                        "a principal holds each SKU once: keep one entry (merge their plan lists)",
                    );
                    if let Some(profile) = &license.from_profile {
                        diagnostic
                            .message
                            .push_str(&format!(" (again from profile '{profile}')"));
                    }
                    self.push(diagnostic);
                    ok = false;
                }
                None => out.push(license),
            }
        }
        ok.then_some(out)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn guid_shapes() {
        for (text, guid_like) in [
            ("6fd2c87f-b296-42f0-b197-1e91e994b900", true),
            ("{6fd2c87f-b296-42f0-b197-1e91e994b900}", true),
            ("6fd2c87f-b296-42f0-b197-1e91e994b90", true),
            ("6fd2c87f-b296-42f0-b197-1e91e994b9zz", false),
            ("SPE_E5", false),
            ("DEVELOPERPACK_E5", false),
            ("Microsoft_365_E5_(no_Teams)", false),
        ] {
            assert_eq!(looks_like_guid(text), guid_like, "{text}");
        }
    }

    #[test]
    fn upn_shapes() {
        for (text, ok) in [
            ("alice@contoso.com", true),
            ("john_gmail.com#EXT#@contoso.onmicrosoft.com", true),
            ("alice", false),
            ("@contoso.com", false),
            ("alice@", false),
            ("alice@contoso", false),
            ("al ice@contoso.com", false),
            ("alice@.com", false),
        ] {
            assert_eq!(upn_problem(text).is_none(), ok, "{text}");
        }
    }

    #[test]
    fn domains() {
        for (text, ok) in [
            ("contoso.onmicrosoft.com", true),
            ("contoso", false),
            ("contoso..com", false),
            ("con toso.com", false),
        ] {
            assert_eq!(is_domain(text), ok, "{text}");
        }
    }
}
