//! Control characters in names and values: a UPN, group name, profile, SKU or plan that
//! holds a C0/C1 control (ESC starts terminal escape and OSC sequences), DEL, or a Unicode
//! bidirectional-formatting character is refused (`control-character`), wherever it is
//! in a file, so that it never reaches a plan, a terminal or a pull-request comment. YAML
//! forbids most of them written raw, but its double-quoted escapes (`"\e[31m"`,
//! `"\u202E"`) make any of them. Pure.

use std::path::Path;
use std::sync::Arc;

use serde_saphyr::Spanned;

use super::{ParsedFile, at};
use crate::config::raw::RawLicense;
use crate::diagnostic::{Diagnostic, DiagnosticCode, escape_value, is_unsafe_char};

/// Every string of `parsed` that holds an unsafe character, one diagnostic each.
pub(super) fn control_characters(parsed: &ParsedFile) -> Vec<Diagnostic> {
    let mut out = Vec::new();
    let file = &parsed.path;
    let raw = &parsed.raw;
    let mut check = |what: &str, value: &Spanned<String>| {
        // Printable ASCII holds none (every unsafe character is a C0 or C1 control, DEL
        // or above U+007F): most strings are decided a byte at a time.
        if value.value.bytes().all(|b| (0x20..0x7f).contains(&b)) {
            return;
        }
        if let Some(c) = value.value.chars().find(|&c| is_unsafe_char(c)) {
            out.push(diagnostic(file, what, value, c));
        }
    };
    if let Some(tenant) = &raw.tenant {
        check("the tenant", tenant);
    }
    if let Some(location) = raw
        .defaults
        .as_ref()
        .and_then(|d| d.value.usage_location.as_ref())
    {
        check("the default usage location", location);
    }
    if let Some(protected) = &raw.protected {
        for user in protected.value.users.iter().flatten() {
            check("a protected user", user);
        }
        for group in protected.value.groups.iter().flatten() {
            check("a protected group", group);
        }
    }
    if let Some(profiles) = &raw.profiles {
        for (name, licenses) in &profiles.value.0 {
            check("a profile name", name);
            licenses_of(&mut check, licenses.iter());
        }
    }
    for (key, user) in raw.users.iter().flat_map(|e| e.0.iter()) {
        check("a user key", key);
        if let Some(location) = &user.usage_location {
            check("a usage location", location);
        }
        if let Some(profile) = &user.profile {
            check("a profile reference", profile);
        }
        licenses_of(
            &mut check,
            user.licenses.iter().flat_map(|l| l.value.iter()),
        );
    }
    if let Some(scope) = &raw.rules_scope {
        for (what, value) in super::rules::scope_strings(&scope.value) {
            check(what, &value);
        }
    }
    for rule in raw.rules.iter().flatten() {
        for (what, value) in super::rules::strings(&rule.value) {
            check(what, &value);
        }
        licenses_of(
            &mut check,
            rule.value.licenses.iter().flat_map(|l| l.value.iter()),
        );
    }
    for (key, group) in raw.groups.iter().flat_map(|e| e.0.iter()) {
        check("a group key", key);
        if let Some(profile) = &group.profile {
            check("a profile reference", profile);
        }
        licenses_of(
            &mut check,
            group.licenses.iter().flat_map(|l| l.value.iter()),
        );
    }
    out
}

fn licenses_of<'a>(
    check: &mut impl FnMut(&str, &Spanned<String>),
    licenses: impl Iterator<Item = &'a Spanned<RawLicense>>,
) {
    for license in licenses {
        check("a sku", &license.value.sku);
        for plan in license
            .value
            .disabled_plans
            .iter()
            .chain(license.value.enabled_plans.iter())
            .flatten()
        {
            check("a service plan", plan);
        }
    }
}

fn diagnostic(file: &Arc<Path>, what: &str, value: &Spanned<String>, c: char) -> Diagnostic {
    let kind = if c.is_control() {
        "the control character"
    } else {
        "the bidirectional formatting character"
    };
    Diagnostic::new(
        DiagnosticCode::ControlCharacter,
        format!(
            "{what} \"{}\" holds {kind} U+{:04X}",
            escape_value(&value.value),
            u32::from(c)
        ),
    )
    .at(at(file, &value.referenced))
    .help("names and values are plain text: remove the character (a YAML escape such as \\e or \\u202E writes one)")
}
