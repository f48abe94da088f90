//! Tenant snapshots: the live license state of a tenant as one JSON document.
//!
//! A snapshot holds Microsoft Graph's own resource shapes with Graph's camelCase field
//! names (`subscribedSkus`, `users`, `groups`), plus a format `version` and the tenant id.
//! It is what `licensectl snapshot` writes, what `plan --snapshot` reads, and what the
//! emulator serves. This module parses and indexes snapshots; it must not talk to Graph
//! (the `graph` module does) and must not plan (the `plan` module does).
//!
//! Parsing accepts what real Graph sends: GUIDs in any case, `error` as `null` or
//! `"None"`, unknown extra fields (ignored), and a UTF-8 byte order mark. It refuses what
//! Graph cannot send ([`TenantSnapshot::problems`]: duplicate ids and UPNs, impossible
//! counts), files that are not regular files (`/dev/zero`, a FIFO), and files larger
//! than a limit ([`MAX_SNAPSHOT_BYTES`] unless the caller gives another), before reading
//! them.
//!
//! Format versions: 1 (users with their license fields), 2 (users also carry the
//! directory attributes rules match on, and the snapshot the tenant's
//! `subscriptions`). Both are read; version 2 is written.

mod check;
mod model;

pub use model::*;

use std::io::Read;
use std::path::{Path, PathBuf};

/// The snapshot format version this build writes.
pub const SNAPSHOT_VERSION: u32 = 2;

/// The snapshot format versions this build reads.
pub const READABLE_VERSIONS: &[u32] = &[1, 2];

/// Largest snapshot file read by default, in bytes: 4 GiB, far above the largest tenant
/// (500,000 users with every attribute is about 1 GiB).
pub const MAX_SNAPSHOT_BYTES: u64 = 4 << 30;

const BOM: &[u8] = b"\xEF\xBB\xBF";

/// Errors reading or writing a snapshot file.
///
/// Each cause is printed once: the I/O error is the `source` of `Read`/`Write` (an error
/// chain prints it after the message); the JSON error of `Parse` is its message itself,
/// after the position it names, so it is kept as data rather than as a source.
#[derive(Debug, thiserror::Error)]
pub enum SnapshotError {
    /// The file could not be read.
    #[error("cannot read snapshot {path}")]
    Read {
        /// The file.
        path: PathBuf,
        /// The I/O error.
        source: std::io::Error,
    },
    /// The file is not a valid snapshot.
    #[error(
        "{path}:{}:{}: invalid tenant snapshot: {}",
        .error.line(),
        .error.column(),
        json_error_message(&.error.to_string())
    )]
    Parse {
        /// The file.
        path: PathBuf,
        /// The JSON error (its `line()` and `column()` are 1-based).
        error: serde_json::Error,
    },
    /// The snapshot declares a format version this build does not know.
    #[error(
        "{path}: snapshot version {found} is not supported (this licensectl reads versions 1 and {SNAPSHOT_VERSION}); write a new snapshot with `licensectl snapshot`"
    )]
    Version {
        /// The file.
        path: PathBuf,
        /// The version found in the file.
        found: u32,
    },
    /// The snapshot holds what Graph cannot send (duplicates, impossible counts).
    #[error("{path}: invalid tenant snapshot: {}", problems.join("; "))]
    Invalid {
        /// The file.
        path: PathBuf,
        /// Every problem, one line each.
        problems: Vec<String>,
    },
    /// The path is not a regular file (a device, a FIFO, a directory): never read.
    #[error("cannot read snapshot {path}: it is not a regular file")]
    NotAFile {
        /// The file.
        path: PathBuf,
    },
    /// The file is larger than the limit: not read.
    #[error(
        "snapshot {path} is {bytes} bytes, more than the {limit} a snapshot may hold; raise the limit with LICENSECTL_MAX_SNAPSHOT_BYTES if the tenant really needs it"
    )]
    TooLarge {
        /// The file.
        path: PathBuf,
        /// Its size (at least; reading stopped past the limit).
        bytes: u64,
        /// The limit.
        limit: u64,
    },
    /// The file could not be written.
    #[error("cannot write snapshot {path}")]
    Write {
        /// The file.
        path: PathBuf,
        /// The I/O error.
        source: std::io::Error,
    },
}

/// A `serde_json` error message without its trailing " at line L column C" (the caller
/// already prints `file:line:column`).
pub fn json_error_message(message: &str) -> String {
    match message.rfind(" at line ") {
        Some(at) if message[at..].contains(" column ") => message[..at].to_owned(),
        _ => message.to_owned(),
    }
}

impl TenantSnapshot {
    /// Parses a snapshot from JSON text; `path` names the source in errors.
    pub fn from_json(text: &str, path: &Path) -> Result<Self, SnapshotError> {
        Self::from_slice(text.as_bytes(), path)
    }

    /// Parses a snapshot from JSON bytes (a UTF-8 byte order mark is skipped) and checks
    /// it ([`TenantSnapshot::problems`]); `path` names the source in errors.
    pub fn from_slice(bytes: &[u8], path: &Path) -> Result<Self, SnapshotError> {
        let bytes = bytes.strip_prefix(BOM).unwrap_or(bytes);
        let snapshot: TenantSnapshot = match serde_json::from_slice(bytes) {
            Ok(snapshot) => snapshot,
            Err(error) => {
                // A file of another version may fail for a field it spells differently:
                // say that rather than the field.
                #[derive(serde::Deserialize)]
                struct Probe {
                    version: u32,
                }
                if let Ok(Probe { version }) = serde_json::from_slice::<Probe>(bytes)
                    && !READABLE_VERSIONS.contains(&version)
                {
                    return Err(SnapshotError::Version {
                        path: path.to_owned(),
                        found: version,
                    });
                }
                return Err(SnapshotError::Parse {
                    path: path.to_owned(),
                    error,
                });
            }
        };
        if !READABLE_VERSIONS.contains(&snapshot.version) {
            return Err(SnapshotError::Version {
                path: path.to_owned(),
                found: snapshot.version,
            });
        }
        let problems = snapshot.problems();
        if !problems.is_empty() {
            return Err(SnapshotError::Invalid {
                path: path.to_owned(),
                problems,
            });
        }
        Ok(snapshot)
    }

    /// Reads and parses a snapshot file of at most [`MAX_SNAPSHOT_BYTES`].
    pub fn read(path: &Path) -> Result<Self, SnapshotError> {
        Self::read_limited(path, MAX_SNAPSHOT_BYTES)
    }

    /// Reads and parses a snapshot file of at most `limit` bytes: a path that is not a
    /// regular file, or a file above the limit, is refused before it is read.
    pub fn read_limited(path: &Path, limit: u64) -> Result<Self, SnapshotError> {
        let read_error = |source| SnapshotError::Read {
            path: path.to_owned(),
            source,
        };
        let metadata = std::fs::metadata(path).map_err(read_error)?;
        if !metadata.is_file() {
            return Err(SnapshotError::NotAFile {
                path: path.to_owned(),
            });
        }
        let too_large = |bytes| SnapshotError::TooLarge {
            path: path.to_owned(),
            bytes,
            limit,
        };
        if metadata.len() > limit {
            return Err(too_large(metadata.len()));
        }
        let file = std::fs::File::open(path).map_err(read_error)?;
        // Regular files only (checked on the open file too, in case the path changed).
        if !file.metadata().map_err(read_error)?.is_file() {
            return Err(SnapshotError::NotAFile {
                path: path.to_owned(),
            });
        }
        let mut bytes = Vec::with_capacity(usize::try_from(metadata.len()).unwrap_or(0));
        file.take(limit.saturating_add(1))
            .read_to_end(&mut bytes)
            .map_err(read_error)?;
        if bytes.len() as u64 > limit {
            return Err(too_large(bytes.len() as u64));
        }
        Self::from_slice(&bytes, path)
    }

    /// Serializes the snapshot as pretty JSON with a trailing newline.
    pub fn to_json_pretty(&self) -> String {
        // Serializing plain data structs with string keys cannot fail.
        let mut text = serde_json::to_string_pretty(self).unwrap_or_default();
        text.push('\n');
        text
    }

    /// Writes the snapshot to `path` as pretty JSON.
    pub fn write(&self, path: &Path) -> Result<(), SnapshotError> {
        std::fs::write(path, self.to_json_pretty()).map_err(|source| SnapshotError::Write {
            path: path.to_owned(),
            source,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(text: &str) -> Result<TenantSnapshot, SnapshotError> {
        TenantSnapshot::from_json(text, Path::new("tenant.json"))
    }

    const USER_WITH_STATES: &str = r#"{
      "version": 1,
      "tenantId": "48A80680-7326-48CD-9935-B556B81D3A4E",
      "somethingNew": {"ignored": true},
      "users": [{
        "id": "651080BA-71FB-5B9F-A1C0-924F2E50BA4C",
        "userPrincipalName": "alice@contoso.com",
        "usageLocation": "DE",
        "assignedLicenses": [{"skuId": "05E9A617-0261-4CEE-BB44-138D3EF5D965", "disabledPlans": []}],
        "licenseAssignmentStates": [
          {"skuId": "05e9a617-0261-4cee-bb44-138d3ef5d965", "assignedByGroup": null, "state": "Active", "error": "None", "disabledPlans": []},
          {"skuId": "05e9a617-0261-4cee-bb44-138d3ef5d965", "assignedByGroup": "3d81e50b-4d4f-5742-8c3f-f13fbef42f20", "state": "Error", "error": "CountViolation"},
          {"skuId": "05e9a617-0261-4cee-bb44-138d3ef5d965", "assignedByGroup": "3d81e50b-4d4f-5742-8c3f-f13fbef42f21", "state": "ActiveWithError", "error": null},
          {"skuId": "05e9a617-0261-4cee-bb44-138d3ef5d965", "assignedByGroup": "3d81e50b-4d4f-5742-8c3f-f13fbef42f22", "state": "Error", "error": "SomethingMicrosoftAddedLater"}
        ],
        "onPremisesSyncEnabled": true
      }]
    }"#;

    #[test]
    fn accepts_what_graph_sends() {
        let snapshot = parse(USER_WITH_STATES).expect("parses");
        assert_eq!(
            snapshot.tenant_id.to_string(),
            "48a80680-7326-48cd-9935-b556b81d3a4e"
        );
        let user = &snapshot.users[0];
        let errors: Vec<Option<AssignmentError>> = user
            .license_assignment_states
            .iter()
            .map(|s| s.error.clone())
            .collect();
        assert_eq!(
            errors,
            [
                None,
                Some(AssignmentError::CountViolation),
                None,
                Some(AssignmentError::Unknown(
                    "SomethingMicrosoftAddedLater".to_owned()
                ))
            ]
        );
        assert_eq!(user.direct_states().count(), 1);
        assert_eq!(user.inherited_states().count(), 3);
        assert_eq!(
            user.assigned_licenses[0].sku_id,
            user.license_assignment_states[0].sku_id
        );
    }

    /// Graph's string-typed values are open sets: a value this build does not know decodes
    /// (and is listed by `unknown_values`) instead of failing the whole snapshot.
    #[test]
    fn unknown_string_values_decode_and_are_listed() {
        let text = r#"{
          "version": 1,
          "tenantId": "48a80680-7326-48cd-9935-b556b81d3a4e",
          "subscribedSkus": [{
            "skuId": "05e9a617-0261-4cee-bb44-138d3ef5d965", "skuPartNumber": "SPE_E3",
            "appliesTo": "Device", "capabilityStatus": "PendingRenewal", "consumedUnits": 1,
            "prepaidUnits": {"enabled": 5},
            "servicePlans": [{"servicePlanId": "57ff2da0-773e-42df-b2af-ffb7a2317929",
                              "servicePlanName": "TEAMS1", "appliesTo": "Device"}]
          }],
          "users": [
            {"id": "651080ba-71fb-5b9f-a1c0-924f2e50ba4c", "userPrincipalName": "a@contoso.com",
             "licenseAssignmentStates": [
               {"skuId": "05e9a617-0261-4cee-bb44-138d3ef5d965", "state": "ActiveWithWarnings",
                "error": "QuotaViolation"}]},
            {"id": "651080ba-71fb-5b9f-a1c0-924f2e50ba4d", "userPrincipalName": "b@contoso.com",
             "licenseAssignmentStates": [
               {"skuId": "05e9a617-0261-4cee-bb44-138d3ef5d965", "state": "ActiveWithWarnings",
                "error": "Other"}]}
          ]
        }"#;
        let snapshot = parse(text).expect("unknown values decode");
        let sku = &snapshot.subscribed_skus[0];
        assert_eq!(sku.applies_to, AppliesTo::Unknown("Device".to_owned()));
        assert_eq!(
            sku.capability_status,
            CapabilityStatus::Unknown("PendingRenewal".to_owned())
        );
        let state = &snapshot.users[0].license_assignment_states[0];
        assert_eq!(
            state.state,
            AssignmentStateKind::Unknown("ActiveWithWarnings".to_owned())
        );
        assert_eq!(
            state.error,
            Some(AssignmentError::Unknown("QuotaViolation".to_owned()))
        );
        assert_eq!(
            snapshot.users[1].license_assignment_states[0].error,
            Some(AssignmentError::Other)
        );
        assert_eq!(
            snapshot
                .unknown_values()
                .into_iter()
                .map(|u| format!("{} {} x{} e.g. {}", u.property, u.value, u.count, u.example))
                .collect::<Vec<_>>(),
            [
                "appliesTo Device x1 e.g. SPE_E3",
                "capabilityStatus PendingRenewal x1 e.g. SPE_E3",
                "licenseAssignmentStates.error QuotaViolation x1 e.g. a@contoso.com",
                "licenseAssignmentStates.state ActiveWithWarnings x2 e.g. a@contoso.com",
                "servicePlans.appliesTo Device x1 e.g. SPE_E3",
            ]
        );
        // Written back exactly as read.
        let json = serde_json::to_value(&snapshot).expect("serializes");
        assert_eq!(
            json["users"][0]["licenseAssignmentStates"][0]["state"],
            "ActiveWithWarnings"
        );
        assert_eq!(
            json["subscribedSkus"][0]["capabilityStatus"],
            "PendingRenewal"
        );
    }

    #[test]
    fn the_contoso_example_parses() {
        let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../examples/contoso/tenant.json");
        let snapshot = TenantSnapshot::read(&path).expect("parses");
        assert_eq!(
            snapshot.tenant_domain.as_deref(),
            Some("contoso.onmicrosoft.com")
        );
        let mut ids: Vec<String> = snapshot.groups.iter().map(|g| g.id.to_string()).collect();
        ids.sort();
        ids.dedup();
        assert_eq!(ids.len(), snapshot.groups.len(), "group ids are unique");
    }

    #[test]
    fn io_errors_are_the_source_and_printed_once() {
        let missing = Path::new("no-such-dir/tenant.json");
        let error = TenantSnapshot::read(missing).expect_err("missing");
        assert_eq!(
            error.to_string(),
            "cannot read snapshot no-such-dir/tenant.json"
        );
        let source = std::error::Error::source(&error).expect("the I/O error is the source");
        assert_eq!(
            source
                .downcast_ref::<std::io::Error>()
                .map(std::io::Error::kind),
            Some(std::io::ErrorKind::NotFound)
        );
        let snapshot = parse(USER_WITH_STATES).expect("parses");
        let error = snapshot.write(missing).expect_err("no directory");
        assert_eq!(
            error.to_string(),
            "cannot write snapshot no-such-dir/tenant.json"
        );
        assert!(std::error::Error::source(&error).is_some());
    }

    #[test]
    fn parse_errors_keep_the_json_error_typed() {
        let error = parse("{\"version\": 1}").expect_err("refused");
        let SnapshotError::Parse { error: json, .. } = &error else {
            panic!("{error:?}");
        };
        assert_eq!(json.classify(), serde_json::error::Category::Data);
        assert!(
            std::error::Error::source(&error).is_none(),
            "the JSON error is the message, not a second cause"
        );
    }

    #[test]
    fn errors_name_the_file_position_and_problem() {
        let table: &[(&str, &str)] = &[
            (
                "{\n  \"version\": 1,\n  \"tenantId\": \"not-a-guid\"\n}",
                "tenant.json:4:1: invalid tenant snapshot: 'not-a-guid' is not a GUID",
            ),
            (
                "{\"version\": 1}",
                "tenant.json:1:14: invalid tenant snapshot: missing field `tenantId`",
            ),
            (
                "{\"version\": 1, \"tenantId\": \"48a80680-7326-48cd-9935-b556b81d3a4e\",\n \"subscribedSkus\": [{\"skuId\": \"05e9a617-0261-4cee-bb44-138d3ef5d965\", \"appliesTo\": 7}]}",
                "tenant.json:2:84: invalid tenant snapshot: invalid type: integer `7`, expected a string",
            ),
            (
                "",
                "tenant.json:1:0: invalid tenant snapshot: EOF while parsing a value",
            ),
            (
                "{\"version\": 3, \"tenantId\": \"48a80680-7326-48cd-9935-b556b81d3a4e\"}",
                "tenant.json: snapshot version 3 is not supported",
            ),
            (
                "{\"version\": 3, \"tenantId\": 7}",
                "tenant.json: snapshot version 3 is not supported",
            ),
        ];
        for (text, expected) in table {
            let error = parse(text).expect_err("refused").to_string();
            assert!(
                error.starts_with(expected),
                "{error}\n  expected: {expected}"
            );
            assert!(!error.contains(" at line "), "{error}");
        }
    }

    const TENANT: &str = "48a80680-7326-48cd-9935-b556b81d3a4e";
    const SKU: &str = "05e9a617-0261-4cee-bb44-138d3ef5d965";

    fn user(id: &str, upn: &str) -> String {
        format!(r#"{{"id": "{id}", "userPrincipalName": "{upn}"}}"#)
    }

    fn sku(id: &str, consumed: i64, enabled: i64) -> String {
        format!(
            r#"{{"skuId": "{id}", "skuPartNumber": "P{consumed}", "appliesTo": "User", "capabilityStatus": "Enabled", "consumedUnits": {consumed}, "prepaidUnits": {{"enabled": {enabled}}}}}"#
        )
    }

    fn document(version: u32, skus: &[String], users: &[String], groups: &[String]) -> String {
        format!(
            r#"{{"version": {version}, "tenantId": "{TENANT}", "subscribedSkus": [{}], "users": [{}], "groups": [{}]}}"#,
            skus.join(","),
            users.join(","),
            groups.join(",")
        )
    }

    #[test]
    fn duplicate_ids_upns_groups_and_skus_are_refused_and_each_is_named() {
        let u1 = "651080ba-71fb-5b9f-a1c0-924f2e50ba4c";
        let u2 = "651080ba-71fb-5b9f-a1c0-924f2e50ba4d";
        let u3 = "651080ba-71fb-5b9f-a1c0-924f2e50ba4e";
        let g = "3d81e50b-4d4f-5742-8c3f-f13fbef42f20";
        let group = format!(r#"{{"id": "{g}", "displayName": "sg"}}"#);
        let text = document(
            2,
            &[sku(SKU, 1, 5), sku(&SKU.to_uppercase(), 2, 5)],
            &[
                user(u1, "alice@contoso.com"),
                user(u1, "bob@contoso.com"),
                user(u2, "Carol@Contoso.com"),
                user(u3, "carol@contoso.com"),
            ],
            &[group.clone(), group],
        );
        let error = parse(&text).expect_err("duplicates").to_string();
        for named in [
            "1 duplicate user id: 651080ba-71fb-5b9f-a1c0-924f2e50ba4c (2 times)",
            "1 duplicate userPrincipalName (compared ignoring case): carol@contoso.com (2 times)",
            "1 duplicate group id: 3d81e50b-4d4f-5742-8c3f-f13fbef42f20 (2 times)",
            "1 duplicate SKU id: 05e9a617-0261-4cee-bb44-138d3ef5d965 (2 times)",
        ] {
            assert!(error.contains(named), "{error}\n  lacks: {named}");
        }
        assert!(
            error.starts_with("tenant.json: invalid tenant snapshot: "),
            "{error}"
        );
    }

    #[test]
    fn impossible_counts_are_refused_at_load() {
        for (consumed, enabled) in [(-1, 5), (0, i64::MIN), (0, i64::from(i32::MAX) + 1)] {
            let text = document(2, &[sku(SKU, consumed, enabled)], &[], &[]);
            let error = parse(&text).expect_err("impossible").to_string();
            assert!(error.contains("impossible counts"), "{error}");
        }
        // Units consumed above those enabled are real (expired units keep assignments).
        parse(&document(2, &[sku(SKU, 9, 5)], &[], &[])).expect("consumed > enabled");
    }

    #[test]
    fn sku_ids_of_another_tenant_are_refused() {
        let other = format!(
            r#"{{"id": "72f988bf-86f1-41af-91ab-2d7cd011db47_{SKU}", {}"#,
            &sku(SKU, 1, 5)[1..]
        );
        let error = parse(&document(2, &[other], &[], &[]))
            .expect_err("other")
            .to_string();
        assert!(
            error.contains("of tenant 72f988bf-86f1-41af-91ab-2d7cd011db47"),
            "{error}"
        );
        let own = format!(r#"{{"id": "{TENANT}_{SKU}", {}"#, &sku(SKU, 1, 5)[1..]);
        parse(&document(2, &[own], &[], &[])).expect("own tenant");
    }

    #[test]
    fn versions_1_and_2_are_read_and_a_byte_order_mark_is_accepted() {
        for version in [1, 2] {
            let text = document(version, &[sku(SKU, 1, 5)], &[], &[]);
            assert_eq!(parse(&text).expect("reads").version, version);
            let with_bom = [BOM, text.as_bytes()].concat();
            let snapshot = TenantSnapshot::from_slice(&with_bom, Path::new("t.json"))
                .expect("a BOM is skipped");
            assert_eq!(snapshot.version, version);
        }
        // Not UTF-8: refused by the parser, never converted lossily.
        let mut bytes = document(2, &[], &[user(TENANT, "al")], &[]).into_bytes();
        let at = bytes.iter().position(|b| *b == b'a').expect("a");
        bytes[at] = 0xFF;
        assert!(TenantSnapshot::from_slice(&bytes, Path::new("t.json")).is_err());
    }

    #[test]
    fn non_regular_and_oversized_files_are_refused_before_reading() {
        let started = std::time::Instant::now();
        let error = TenantSnapshot::read(Path::new("/dev/zero")).expect_err("device");
        assert!(matches!(error, SnapshotError::NotAFile { .. }), "{error:?}");
        assert!(started.elapsed() < std::time::Duration::from_secs(1));
        let dir = std::env::temp_dir().join(format!("licensectl-model-{}", std::process::id()));
        std::fs::create_dir_all(&dir).expect("dir");
        let path = dir.join("t.json");
        std::fs::write(&path, document(2, &[], &[], &[])).expect("write");
        let error = TenantSnapshot::read_limited(&path, 10).expect_err("too large");
        assert!(
            error
                .to_string()
                .contains("more than the 10 a snapshot may hold"),
            "{error}"
        );
        TenantSnapshot::read_limited(&path, 1 << 20).expect("within the limit");
        let _ = std::fs::remove_dir_all(&dir);
    }
}
