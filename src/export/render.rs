//! The text of the exported files: fixed key order, one plan per line, a blank line
//! between principals, comments only where a GUID stands in for a name.

use std::collections::BTreeMap;

use crate::config::SETTINGS_FILE;
use crate::config::check::is_domain;
use crate::snapshot::TenantSnapshot;

use super::layout;
use super::names::Written;
use super::target::MARKER;
use super::yaml::{comment, scalar};
use super::{Entry, ExportFile, ExportOptions, PlanStyle, Plans, UserSelection};

/// The schema file written next to `licensectl.yaml`, which the modelines point at.
pub const SCHEMA_FILE: &str = "licensectl.schema.json";

/// What goes into the principal files.
pub(super) struct Principals {
    /// Users by domain directory name, each with its bucketing key.
    pub users: BTreeMap<String, Vec<(String, Entry)>>,
    /// Groups, each with its bucketing key.
    pub groups: Vec<(String, Entry)>,
    /// The most common usage location of the exported users.
    pub common_location: Option<String>,
}

/// The tenant as the config pins it: its domain when known (and shaped like one), else
/// its id.
fn pin(snapshot: &TenantSnapshot) -> String {
    snapshot
        .tenant_domain
        .as_deref()
        .filter(|d| is_domain(d))
        .map_or_else(|| snapshot.tenant_id.to_string(), str::to_owned)
}

/// The flags that reproduce this export.
fn flags(options: &ExportOptions) -> String {
    let mut out = match options.users {
        UserSelection::Licensed => "--users licensed".to_owned(),
        UserSelection::All => "--users all".to_owned(),
    };
    match options.plans {
        Some(PlanStyle::Enabled) => out.push_str(" --plans enabled"),
        Some(PlanStyle::Disabled) => out.push_str(" --plans disabled"),
        None => {}
    }
    if !options.usage_locations {
        out.push_str(" --no-usage-locations");
    }
    out
}

/// The first lines of every YAML file: the schema modeline (relative to a file `depth`
/// directories below the config root) and the export marker.
fn header(depth: usize, tenant: &str) -> String {
    format!(
        "# yaml-language-server: $schema={}{SCHEMA_FILE}\n{MARKER} from tenant {}; edit freely.\n",
        "../".repeat(depth),
        comment(tenant)
    )
}

fn with_why(line: String, written: &Written) -> String {
    with_notes(line, written.why.iter().map(String::as_str))
}

/// `line` with the notes, if any, as a trailing comment.
fn with_notes<'a>(line: String, notes: impl Iterator<Item = &'a str>) -> String {
    let notes: Vec<&str> = notes.collect();
    if notes.is_empty() {
        format!("{line}\n")
    } else {
        format!("{line}  # {}\n", comment(&notes.join("; ")))
    }
}

fn plan_list(out: &mut String, key: &str, list: &[Written]) {
    if list.is_empty() {
        out.push_str(&format!("        {key}: []\n"));
        return;
    }
    out.push_str(&format!("        {key}:\n"));
    for plan in list {
        out.push_str(&with_why(
            format!("          - {}", scalar(&plan.text)),
            plan,
        ));
    }
}

fn entry(out: &mut String, entry: &Entry) {
    out.push_str(&with_why(
        format!("  {}:", scalar(&entry.key.text)),
        &entry.key,
    ));
    if entry.licenses.is_empty() {
        out.push_str("    licenses: []\n");
    } else {
        out.push_str("    licenses:\n");
        for license in &entry.licenses {
            let inherited = (!license.also_inherited_from.is_empty()).then(|| {
                format!(
                    "also inherited from group {}",
                    license.also_inherited_from.join(", ")
                )
            });
            out.push_str(&with_notes(
                format!("      - sku: {}", scalar(&license.sku.text)),
                license.sku.why.iter().chain(&inherited).map(String::as_str),
            ));
            match &license.plans {
                Plans::All => {}
                Plans::Enabled(list) => plan_list(out, "enabled_plans", list),
                Plans::Disabled(list) => plan_list(out, "disabled_plans", list),
            }
        }
    }
    if let Some(code) = &entry.usage_location {
        out.push_str(&format!("    usage_location: {}\n", scalar(code)));
    }
}

/// A principal file: header, `section:` and the entries, sorted by key.
fn principal_file(depth: usize, tenant: &str, section: &str, entries: &mut [&Entry]) -> String {
    entries.sort_by_cached_key(|e| e.key.sort_key());
    let mut out = header(depth, tenant);
    out.push_str(section);
    out.push_str(":\n");
    for (i, e) in entries.iter().enumerate() {
        if i > 0 {
            out.push('\n');
        }
        entry(&mut out, e);
    }
    out
}

/// The files of one section (`groups` or one domain's users): one file `{base}.yaml`
/// when small enough, else `{base}/{prefix}.yaml` files.
fn section_files(
    base: &str,
    depth: usize,
    tenant: &str,
    section: &str,
    items: Vec<(String, Entry)>,
    max: usize,
    out: &mut Vec<ExportFile>,
) {
    if items.len() <= max {
        let mut entries: Vec<&Entry> = items.iter().map(|(_, e)| e).collect();
        out.push(ExportFile {
            path: format!("{base}.yaml"),
            contents: principal_file(depth, tenant, section, &mut entries),
        });
        return;
    }
    for (prefix, bucket) in layout::split(items, max) {
        let mut entries: Vec<&Entry> = bucket.iter().collect();
        out.push(ExportFile {
            path: format!("{base}/{}.yaml", layout::file_stem(&prefix)),
            contents: principal_file(depth + 1, tenant, section, &mut entries),
        });
    }
}

/// Every file of the export, sorted by path.
pub(super) fn files(
    snapshot: &TenantSnapshot,
    options: &ExportOptions,
    principals: Principals,
) -> Vec<ExportFile> {
    let tenant = match &snapshot.tenant_domain {
        Some(domain) => format!("{domain} ({})", snapshot.tenant_id),
        None => snapshot.tenant_id.to_string(),
    };
    let mut settings = header(0, &tenant);
    settings.push_str(&format!(
        "# Compare the tenant with these files: licensectl export {} --diff -o <this directory>\n",
        flags(options)
    ));
    settings.push_str(&format!("version: 1\ntenant: {}\n", scalar(&pin(snapshot))));
    if let Some(code) = &principals.common_location {
        settings.push_str(&format!(
            "\n# The usage location given to managed users that gain a license and have none; {code}\n\
             # is the most common one among the exported users. Uncomment to use it:\n\
             # defaults:\n\
             #   usage_location: {}\n",
            scalar(code)
        ));
    }
    let mut out = vec![
        ExportFile {
            path: SETTINGS_FILE.to_owned(),
            contents: settings,
        },
        ExportFile {
            path: SCHEMA_FILE.to_owned(),
            contents: crate::config::schema::schema_json(),
        },
    ];
    let max = options.max_per_file.max(1);
    if !principals.groups.is_empty() {
        section_files(
            "groups",
            0,
            &tenant,
            "groups",
            principals.groups,
            max,
            &mut out,
        );
    }
    for (domain, users) in principals.users {
        section_files(
            &format!("users/{domain}"),
            1,
            &tenant,
            "users",
            users,
            max,
            &mut out,
        );
    }
    out.sort_by(|a, b| a.path.cmp(&b.path));
    out
}
