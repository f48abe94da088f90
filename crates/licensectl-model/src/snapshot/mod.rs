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
mod fast;
mod fields;
mod model;
mod split;

use check::UserHashes;
pub use check::UserIndex;
pub use fields::UserFields;
use hashbrown::DefaultHashBuilder;
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

/// Bytes read from the file at a time.
const BLOCK_BYTES: usize = 1 << 20;

/// The `users` elements parsed together (a chunk ends at the first element boundary past
/// this many bytes).
const CHUNK_BYTES: usize = 2 << 20;

/// How [`TenantSnapshot::read_with`] reads a file: the file is read `block_bytes` at a
/// time and its users are parsed in chunks of about `chunk_bytes`, one worker thread per
/// core, while the rest is read. The sizes change only the speed and memory of a read
/// (the fuzz target `snapshot_loader` checks that any sizes give what the whole-document
/// parse gives).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ReadOptions {
    /// The largest file read, in bytes ([`MAX_SNAPSHOT_BYTES`] by default).
    pub limit: u64,
    /// Bytes read at a time (1 MiB by default).
    pub block_bytes: usize,
    /// Bytes of users parsed together (2 MiB by default).
    pub chunk_bytes: usize,
    /// What is kept of each user ([`UserFields::All`] by default).
    pub users: UserFields,
}

impl Default for ReadOptions {
    fn default() -> Self {
        Self {
            limit: MAX_SNAPSHOT_BYTES,
            block_bytes: BLOCK_BYTES,
            chunk_bytes: CHUNK_BYTES,
            users: UserFields::All,
        }
    }
}

/// What [`read_split`] made of a file.
enum Split {
    /// Parsed: the head and every chunk of users, with each user's hashes for the
    /// index (computed by the workers with `hasher`, in the users' order).
    Done {
        snapshot: Box<TenantSnapshot>,
        hasher: DefaultHashBuilder,
        hashes: Vec<UserHashes>,
    },
    /// Not parsed this way (too unusual to split, a piece did not parse, or larger than
    /// the limit): `bytes` were read.
    Read { bytes: u64 },
}

/// Reads a snapshot in blocks, parsing its users in chunks on worker threads while the
/// rest is read, so that the file is never in memory whole and both cores parse.
fn read_split(
    reader: &mut impl Read,
    block_bytes: usize,
    chunk_bytes: usize,
    file_bytes: u64,
    fields: UserFields,
) -> std::io::Result<Split> {
    use std::sync::atomic::{AtomicBool, Ordering};
    use std::sync::{Mutex, mpsc};

    struct Chunks {
        next: usize,
        to_workers: mpsc::SyncSender<(usize, Vec<u8>, usize)>,
        recycled: mpsc::Receiver<Vec<u8>>,
    }
    impl split::Sink for Chunks {
        fn chunk(&mut self, chunk: Vec<u8>, elements: usize) {
            // A worker that stopped has failed already; the result says so.
            let _ = self.to_workers.send((self.next, chunk, elements));
            self.next += 1;
        }
        fn fresh(&mut self, capacity: usize) -> Vec<u8> {
            self.recycled
                .try_recv()
                .unwrap_or_else(|_| Vec::with_capacity(capacity))
        }
    }

    let workers = std::thread::available_parallelism().map_or(2, |n| n.get().clamp(1, 8));
    let (to_workers, from_reader) = mpsc::sync_channel::<(usize, Vec<u8>, usize)>(workers * 2);
    let (recycle, recycled) = mpsc::channel::<Vec<u8>>();
    let (to_merge, results) = mpsc::channel::<Parsed>();
    let from_reader = Mutex::new(from_reader);
    // Set by a worker whose chunk did not parse: the reader stops, the others only drain.
    let failed = AtomicBool::new(false);
    let hasher = DefaultHashBuilder::default();
    let mut splitter = split::Splitter::new(chunk_bytes);
    let mut merge = Merge::new(file_bytes);
    let mut bytes: u64 = 0;
    let mut first = true;
    let (read, chunks) = std::thread::scope(|scope| {
        for _ in 0..workers {
            let recycle = recycle.clone();
            let to_merge = to_merge.clone();
            let from_reader = &from_reader;
            let failed = &failed;
            let hasher = &hasher;
            scope.spawn(move || {
                loop {
                    // The lock is held only to take the next chunk.
                    let next = from_reader.lock().map(|r| r.recv());
                    let Ok(Ok((index, mut chunk, elements))) = next else {
                        return;
                    };
                    let users = if failed.load(Ordering::Relaxed) {
                        None
                    } else {
                        let users = parse_users(&chunk, elements, fields);
                        if users.is_none() {
                            failed.store(true, Ordering::Relaxed);
                        }
                        users
                    };
                    // Hashed for the index while the users are in this core's cache.
                    let hashes = users
                        .iter()
                        .flatten()
                        .map(|u| UserHashes::of(hasher, u))
                        .collect();
                    let _ = to_merge.send(Parsed {
                        index,
                        bytes: chunk.len(),
                        users,
                        hashes,
                    });
                    chunk.clear();
                    let _ = recycle.send(chunk);
                }
            });
        }
        // The workers hold the only senders left: the results end when they do.
        drop(to_merge);
        let mut sink = Chunks {
            next: 0,
            to_workers,
            recycled,
        };
        let mut block = vec![0; block_bytes.max(1)];
        let read = loop {
            let n = match reader.read(&mut block) {
                Ok(0) => break Ok(()),
                Ok(n) => n,
                Err(error) if error.kind() == std::io::ErrorKind::Interrupted => continue,
                Err(error) => break Err(error),
            };
            bytes += n as u64;
            let mut data = &block[..n];
            if first {
                first = false;
                data = data.strip_prefix(BOM).unwrap_or(data);
            }
            splitter.feed(data, &mut sink);
            // Move the users parsed so far into place, so that each chunk's list is freed
            // (and reused) at once rather than all of them held until the end.
            while let Ok(parsed) = results.try_recv() {
                merge.take(parsed);
            }
            if splitter.gave_up || failed.load(Ordering::Relaxed) {
                break Ok(());
            }
        };
        let chunks = sink.next;
        drop(sink);
        for parsed in results.iter() {
            merge.take(parsed);
        }
        (read, chunks)
    });
    read?;
    if !splitter.finish() || failed.into_inner() || !merge.complete(chunks) {
        return Ok(Split::Read { bytes });
    }
    let Ok(mut snapshot) = serde_json::from_slice::<TenantSnapshot>(&splitter.head) else {
        return Ok(Split::Read { bytes });
    };
    if !snapshot.users.is_empty() {
        return Ok(Split::Read { bytes });
    }
    snapshot.users = merge.users;
    Ok(Split::Done {
        snapshot: Box::new(snapshot),
        hasher,
        hashes: merge.hashes,
    })
}

/// One chunk's users, parsed by a worker (`None` when they did not parse).
struct Parsed {
    index: usize,
    /// The chunk's size in bytes.
    bytes: usize,
    users: Option<Vec<User>>,
    /// Each user's hashes, in order.
    hashes: Vec<UserHashes>,
}

/// The users of every chunk, put together in the file's order as the chunks come in.
struct Merge {
    file_bytes: u64,
    /// The next chunk to append.
    next: usize,
    /// Chunks parsed ahead of the next one.
    waiting: std::collections::BTreeMap<usize, (Vec<User>, Vec<UserHashes>)>,
    users: Vec<User>,
    /// Each user's hashes, in the same order.
    hashes: Vec<UserHashes>,
    /// A chunk did not parse.
    failed: bool,
}

impl Merge {
    fn new(file_bytes: u64) -> Self {
        Self {
            file_bytes,
            next: 0,
            waiting: std::collections::BTreeMap::new(),
            users: Vec::new(),
            hashes: Vec::new(),
            failed: false,
        }
    }

    fn take(&mut self, parsed: Parsed) {
        let Some(users) = parsed.users else {
            self.failed = true;
            return;
        };
        if self.users.capacity() == 0 && !users.is_empty() {
            // Room for the whole file at this chunk's density (a little over), so that
            // the list of every user is allocated once instead of doubling; never more
            // than a user per 64 bytes of file.
            let per_byte = users.len() as f64 / parsed.bytes.max(1) as f64;
            let estimate = (self.file_bytes as f64 * per_byte * 1.02) as u64;
            let cap = usize::try_from(estimate.min(self.file_bytes / 64 + 1)).unwrap_or(0);
            self.users.reserve(cap);
            self.hashes.reserve(cap);
        }
        self.waiting.insert(parsed.index, (users, parsed.hashes));
        while let Some((mut users, mut hashes)) = self.waiting.remove(&self.next) {
            self.users.append(&mut users);
            self.hashes.append(&mut hashes);
            self.next += 1;
        }
    }

    /// True when all `chunks` parsed and are in place.
    fn complete(&self, chunks: usize) -> bool {
        !self.failed && self.next == chunks && self.waiting.is_empty()
    }
}

/// Parses a chunk of users (a JSON array of about `elements` users) into a list sized
/// for them, keeping `fields` of each; `None` when it does not parse.
fn parse_users(chunk: &[u8], elements: usize, fields: UserFields) -> Option<Vec<User>> {
    // Checked as UTF-8 once, the chunk is parsed as text: `from_slice` would check every
    // string (keys included) on its own, which profiles at 5 % of a large plan's samples.
    // Whatever fails here would fail `from_slice` too (JSON allows non-ASCII bytes only
    // inside strings, which must be UTF-8), and the whole-file parse then names it.
    let text = std::str::from_utf8(chunk).ok()?;
    if fields == UserFields::Licensing
        && let Some(users) = fast::licensing_users(text, elements)
    {
        return Some(users);
    }
    serde_users(text, elements, fields)
}

/// [`parse_users`] through `serde` alone.
fn serde_users(text: &str, elements: usize, fields: UserFields) -> Option<Vec<User>> {
    use serde::de::{DeserializeSeed, SeqAccess, Visitor};

    struct Exact(usize, UserFields);
    impl<'de> Visitor<'de> for Exact {
        type Value = Vec<User>;
        fn expecting(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
            f.write_str("a list of users")
        }
        fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Vec<User>, A::Error> {
            // The count is the splitter's guess: never trusted for more than the chunk.
            let mut users = Vec::with_capacity(self.0.min(1 << 16));
            match self.1 {
                UserFields::All => {
                    while let Some(user) = seq.next_element()? {
                        users.push(user);
                    }
                }
                UserFields::Licensing => {
                    while let Some(user) = seq.next_element::<fields::LicensingUser>()? {
                        users.push(User::from(user));
                    }
                }
            }
            Ok(users)
        }
    }
    impl<'de> DeserializeSeed<'de> for Exact {
        type Value = Vec<User>;
        fn deserialize<D: serde::Deserializer<'de>>(self, d: D) -> Result<Vec<User>, D::Error> {
            d.deserialize_seq(self)
        }
    }
    let mut deserializer = serde_json::Deserializer::from_str(text);
    let users = Exact(elements, fields)
        .deserialize(&mut deserializer)
        .ok()?;
    deserializer.end().ok()?;
    Some(users)
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
        Self::from_slice_indexed(bytes, path).map(|(snapshot, _)| snapshot)
    }

    /// [`TenantSnapshot::from_slice`], and the index of the users its check built.
    fn from_slice_indexed(bytes: &[u8], path: &Path) -> Result<(Self, UserIndex), SnapshotError> {
        let bytes = bytes.strip_prefix(BOM).unwrap_or(bytes);
        Self::parse_slice(bytes, path)?.checked_indexed(path, None)
    }

    /// Parses a snapshot from JSON bytes (no byte order mark), unchecked.
    fn parse_slice(bytes: &[u8], path: &Path) -> Result<Self, SnapshotError> {
        match serde_json::from_slice(bytes) {
            Ok(snapshot) => Ok(snapshot),
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
                Err(SnapshotError::Parse {
                    path: path.to_owned(),
                    error,
                })
            }
        }
    }

    /// Reads and parses a snapshot file of at most [`MAX_SNAPSHOT_BYTES`].
    pub fn read(path: &Path) -> Result<Self, SnapshotError> {
        Self::read_limited(path, MAX_SNAPSHOT_BYTES)
    }

    /// Reads and parses a snapshot file of at most `limit` bytes: a path that is not a
    /// regular file, or a file above the limit, is refused before it is read.
    pub fn read_limited(path: &Path, limit: u64) -> Result<Self, SnapshotError> {
        Self::read_with(
            path,
            &ReadOptions {
                limit,
                ..ReadOptions::default()
            },
        )
    }

    /// Reads and parses a snapshot file as `options` say (see [`ReadOptions`]); the result
    /// does not depend on the block and chunk sizes.
    pub fn read_with(path: &Path, options: &ReadOptions) -> Result<Self, SnapshotError> {
        Self::read_indexed(path, options).map(|(snapshot, _)| snapshot)
    }

    /// [`TenantSnapshot::read_with`], and the index of its users that the soundness check
    /// built (for a planner to look users up in, without building it again).
    pub fn read_indexed(
        path: &Path,
        options: &ReadOptions,
    ) -> Result<(Self, UserIndex), SnapshotError> {
        let limit = options.limit;
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
        let mut limited = file.take(limit.saturating_add(1));
        match read_split(
            &mut limited,
            options.block_bytes,
            options.chunk_bytes,
            metadata.len(),
            options.users,
        )
        .map_err(read_error)?
        {
            Split::Read { bytes } if bytes > limit => Err(too_large(bytes)),
            Split::Done {
                snapshot,
                hasher,
                hashes,
            } => snapshot.checked_indexed(path, Some((hasher, &hashes))),
            // Too unusual to split, or a piece did not parse: read the file whole, so that
            // any error is the one the whole document gives, at its line and column.
            Split::Read { .. } => {
                let file = std::fs::File::open(path).map_err(read_error)?;
                let mut bytes = Vec::with_capacity(usize::try_from(metadata.len()).unwrap_or(0));
                file.take(limit.saturating_add(1))
                    .read_to_end(&mut bytes)
                    .map_err(read_error)?;
                if bytes.len() as u64 > limit {
                    return Err(too_large(bytes.len() as u64));
                }
                let (mut snapshot, index) = Self::from_slice_indexed(&bytes, path)?;
                // What a user keeps changes neither its id nor its UPN: the index holds.
                for user in &mut snapshot.users {
                    user.keep(options.users);
                }
                Ok((snapshot, index))
            }
        }
    }

    /// The version and soundness checks of a parsed snapshot, and the index of the users
    /// the check built. `hashed`: the users' hashes for the index, computed already (see
    /// [`UserIndex`]'s `build`).
    fn checked_indexed(
        self,
        path: &Path,
        hashed: Option<(DefaultHashBuilder, &[UserHashes])>,
    ) -> Result<(Self, UserIndex), SnapshotError> {
        if !READABLE_VERSIONS.contains(&self.version) {
            return Err(SnapshotError::Version {
                path: path.to_owned(),
                found: self.version,
            });
        }
        let (problems, index) = self.problems_and_index_hashed(hashed);
        if !problems.is_empty() {
            return Err(SnapshotError::Invalid {
                path: path.to_owned(),
                problems,
            });
        }
        Ok((self, index))
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

    /// Graph sends all fifteen extension attributes, most `null`: the set ones are kept
    /// (a repeated key keeps its last value), read by number, and written back by key.
    #[test]
    fn extension_attributes_keep_the_set_values() {
        let text = document(
            2,
            &[],
            &[r#"{"id": "651080ba-71fb-5b9f-a1c0-924f2e50ba4c", "userPrincipalName": "a@contoso.com",
                 "onPremisesExtensionAttributes": {"extensionAttribute1": "frontline",
                   "extensionAttribute2": null, "extensionAttribute10": "x",
                   "extensionAttribute10": "terminated", "extensionAttribute15": null}}"#
                .to_owned()],
            &[],
        );
        let snapshot = parse(&text).expect("parses");
        let user = &snapshot.users[0];
        assert_eq!(user.extension_attribute(1), Some("frontline"));
        assert_eq!(user.extension_attribute(2), None);
        assert_eq!(user.extension_attribute(10), Some("terminated"));
        assert_eq!(user.extension_attribute(15), None);
        let written = serde_json::to_value(user).expect("serializes");
        assert_eq!(
            written["onPremisesExtensionAttributes"],
            serde_json::json!({"extensionAttribute1": "frontline", "extensionAttribute10": "terminated"})
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
                // At the end of the value (a GUID read from the string itself).
                "tenant.json:3:26: invalid tenant snapshot: 'not-a-guid' is not a GUID",
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

    /// The index the check builds finds every user by id and by UPN in any case (ASCII
    /// and not), on both the one-thread and the two-thread paths; a repeated UPN finds its
    /// first user; the index of a list is refused for a list of another length.
    #[test]
    fn the_checks_index_finds_every_user_by_id_and_by_upn_ignoring_case() {
        let id = |n: usize| -> crate::ids::UserId {
            format!("00000000-0000-4000-8000-{n:012x}")
                .parse()
                .expect("id")
        };
        for n in [10, 60_000] {
            let mut users: Vec<User> = (0..n)
                .map(|i| User::new(id(i), format!("User{i}@Contoso.com")))
                .collect();
            users.push(User::new(id(n), "Ärztin.Ünal@contoso.com"));
            let snapshot = TenantSnapshot {
                users,
                ..parse(&document(2, &[], &[], &[])).expect("empty")
            };
            let (problems, index) = snapshot.problems_and_index();
            assert!(problems.is_empty(), "{problems:?}");
            let users = &snapshot.users;
            assert!(index.fits(users) && index.len() == n + 1);
            for (i, user) in users.iter().enumerate() {
                assert_eq!(index.position(users, &user.id), Some(i));
                let upn = &user.user_principal_name;
                for spelled in [upn.clone(), upn.to_lowercase(), upn.to_uppercase()] {
                    assert_eq!(index.position_by_upn(users, &spelled), Some(i), "{spelled}");
                }
            }
            assert_eq!(index.position(users, &id(n + 1)), None);
            assert_eq!(index.position_by_upn(users, "nobody@contoso.com"), None);
            assert!(!index.fits(&users[1..]));
        }
        let repeated = vec![
            User::new(id(1), "a@contoso.com"),
            User::new(id(2), "A@Contoso.com"),
        ];
        let index = UserIndex::new(&repeated);
        assert_eq!(index.position_by_upn(&repeated, "a@CONTOSO.com"), Some(0));
    }

    /// The split read's index comes from hashes its workers computed: a repeated id
    /// and a UPN repeated in another case are refused as the whole-document parse
    /// refuses them, chunk boundaries between the repeats or not.
    #[test]
    fn the_split_reads_hashed_index_refuses_repeats_as_the_whole_parse_does() {
        let dir = std::env::temp_dir().join(format!("lc-repeats-{}", std::process::id()));
        std::fs::create_dir_all(&dir).expect("dir");
        let mut users = many_users(300);
        users.push(user(
            "651080ba-71fb-5b9f-a1c0-00000000000a",
            "other@contoso.com",
        ));
        users.push(user(
            "651080ba-71fb-5b9f-a1c0-aaaaaaaaaaaa",
            "U17@CONTOSO.com",
        ));
        let text = document(2, &[], &users, &[]);
        let path = dir.join("repeats.json");
        std::fs::write(&path, &text).expect("write");
        let whole = match TenantSnapshot::from_json(&text, &path) {
            Err(SnapshotError::Invalid { problems, .. }) => problems,
            other => panic!("the whole parse accepted repeats: {other:?}"),
        };
        assert_eq!(whole.len(), 2, "{whole:?}");
        for chunk_bytes in [1, 4096, 1 << 20] {
            let options = ReadOptions {
                chunk_bytes,
                ..ReadOptions::default()
            };
            match TenantSnapshot::read_indexed(&path, &options) {
                Err(SnapshotError::Invalid { problems, .. }) => assert_eq!(problems, whole),
                other => panic!("chunks of {chunk_bytes}: {other:?}"),
            }
        }
        let _ = std::fs::remove_dir_all(&dir);
    }

    /// A read hands on the index its check built, on the split read and on the
    /// whole-file parse it falls back to (an unusual document), keeping every field or
    /// only the license fields.
    #[test]
    fn a_read_hands_on_the_index_of_the_users_it_read() {
        let dir = std::env::temp_dir().join(format!("lc-index-{}", std::process::id()));
        std::fs::create_dir_all(&dir).expect("dir");
        let users = many_users(300);
        let split = document(2, &[], &users, &[]);
        // A top-level key with an escape: too unusual to split.
        let whole = split.replacen("\"tenantId\"", "\"tenant\\u0049d\"", 1);
        for (name, text) in [("split.json", split), ("whole.json", whole)] {
            let path = dir.join(name);
            std::fs::write(&path, text).expect("write");
            for fields in [UserFields::All, UserFields::Licensing] {
                let options = ReadOptions {
                    users: fields,
                    ..ReadOptions::default()
                };
                let (snapshot, index) =
                    TenantSnapshot::read_indexed(&path, &options).expect("reads");
                assert_eq!(snapshot.users.len(), 300, "{name}");
                assert!(index.fits(&snapshot.users));
                for (i, user) in snapshot.users.iter().enumerate() {
                    assert_eq!(index.position(&snapshot.users, &user.id), Some(i));
                    assert_eq!(
                        index.position_by_upn(&snapshot.users, &user.user_principal_name),
                        Some(i)
                    );
                }
            }
        }
        let _ = std::fs::remove_dir_all(&dir);
    }

    #[test]
    fn repeated_ids_and_upns_are_named_sorted_with_their_counts_and_the_rest_counted() {
        // Above the two-thread threshold; 101 repeated UPNs (one more than are named),
        // given in descending order, one of them three times and in another case.
        let id = |n: usize| format!("00000000-0000-4000-8000-{n:012x}");
        let mut users: Vec<User> = (0..60_000)
            .map(|n| User::new(id(n).parse().expect("id"), format!("u{n:05}@contoso.com")))
            .collect();
        for n in (0..101).rev() {
            users.push(User::new(
                id(100_000 + n).parse().expect("id"),
                format!("U{n:05}@Contoso.com"),
            ));
        }
        users.push(User::new(
            id(200_000).parse().expect("id"),
            "u00007@contoso.com",
        ));
        users.push(User::new(id(7).parse().expect("id"), "other@contoso.com"));
        users.push(User::new(id(7).parse().expect("id"), "third@contoso.com"));
        users.push(User::new(id(3).parse().expect("id"), "fourth@contoso.com"));
        let snapshot = TenantSnapshot {
            users,
            ..parse(&document(2, &[], &[], &[])).expect("empty")
        };
        let problems = snapshot.problems();
        assert_eq!(
            problems[0],
            format!(
                "2 duplicate user ids: {} (2 times), {} (3 times)",
                id(3),
                id(7)
            )
        );
        let upns = &problems[1];
        assert!(
            upns.starts_with(
                "101 duplicate userPrincipalNames (compared ignoring case): \
                 u00000@contoso.com (2 times), u00001@contoso.com (2 times), "
            ),
            "{upns}"
        );
        assert!(upns.contains(", u00007@contoso.com (3 times), "), "{upns}");
        assert!(
            upns.ends_with(", u00099@contoso.com (2 times) and 1 more"),
            "{upns}"
        );
        assert_eq!(problems.len(), 2, "{problems:?}");
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

    /// What the split read gives for `text` read `block` bytes at a time with chunks of
    /// `chunk` bytes: the snapshot, or `None` when it falls back to the whole-file parse.
    fn split_read(text: &str, block: usize, chunk: usize) -> Option<TenantSnapshot> {
        split_read_keeping(text, block, chunk, UserFields::All)
    }

    /// [`split_read`] keeping `fields` of each user.
    fn split_read_keeping(
        text: &str,
        block: usize,
        chunk: usize,
        fields: UserFields,
    ) -> Option<TenantSnapshot> {
        let size = text.len() as u64;
        match read_split(&mut text.as_bytes(), block, chunk, size, fields).expect("reads") {
            Split::Done { snapshot, .. } => Some(*snapshot),
            Split::Read { bytes } => {
                assert_eq!(bytes as usize, text.len().min(bytes as usize));
                None
            }
        }
    }

    fn many_users(n: usize) -> Vec<String> {
        (0..n)
            .map(|i| {
                format!(
                    r#"{{"id": "651080ba-71fb-5b9f-a1c0-{i:012x}", "userPrincipalName": "u{i}@contoso.com", "displayName": "a \"quoted\" ] }} [ {{ , name\\", "department": "users\u0022: [", "assignedLicenses": [{{"skuId": "{SKU}", "disabledPlans": []}}], "licenseAssignmentStates": [{{"skuId": "{SKU}", "state": "Active", "error": "None"}}]}}"#
                )
            })
            .collect()
    }

    /// The split read checks each chunk as UTF-8 once, then parses it as text: multi-byte
    /// characters anywhere (cut across blocks too) read as the whole parse reads them,
    /// and a chunk that is not UTF-8 — inside a string, or a broken sequence at its end —
    /// falls back to the whole-file parse, which refuses it.
    #[test]
    fn chunks_are_checked_as_utf8_and_bad_bytes_fall_back_to_the_whole_parse() {
        let mut users = many_users(6);
        users[2] = users[2].replace("u2@contoso.com", "ü2😀@contoso.com");
        let text = document(2, &[sku(SKU, 1, 5)], &users, &[]);
        let whole = parse(&text).expect("parses");
        for (block, chunk) in [(1, 1), (3, 200), (7, 1 << 20)] {
            assert_eq!(split_read(&text, block, chunk).as_ref(), Some(&whole));
        }
        let at = text.find("😀").expect("the emoji");
        for bad in [vec![0xFF], vec![0xF0, 0x9F, 0x98], vec![0xC3]] {
            let bytes = [&text.as_bytes()[..at], &bad, &text.as_bytes()[at + 4..]].concat();
            assert!(TenantSnapshot::from_slice(&bytes, Path::new("t.json")).is_err());
            for (block, chunk) in [(1, 1), (3, 200), (7, 1 << 20)] {
                let size = bytes.len() as u64;
                let read = read_split(&mut bytes.as_slice(), block, chunk, size, UserFields::All)
                    .expect("reads");
                assert!(
                    matches!(read, Split::Read { .. }),
                    "{bad:?} {block} {chunk}"
                );
            }
        }
    }

    /// The split read gives exactly what parsing the whole document gives, whatever the
    /// block and chunk sizes, wherever `users` is, with brackets, commas and escaped
    /// quotes inside strings.
    #[test]
    fn split_read_equals_the_whole_document_parse() {
        let users = many_users(7);
        let compact = document(2, &[sku(SKU, 1, 5)], &users, &[]);
        let users_first = format!(
            "{{\n  \"users\" :\n [\n {} \n ] ,\n \"version\": 2, \"tenantId\": \"{TENANT}\"}}",
            users.join(" ,\n  ")
        );
        let empty = document(2, &[sku(SKU, 1, 5)], &[], &[]);
        let pretty = parse(&compact).expect("parses").to_json_pretty();
        for text in [&compact, &users_first, &empty, &pretty] {
            let whole = parse(text).expect("parses");
            for block in [1, 2, 3, 7, 64, 1 << 20] {
                for chunk in [1, 50, 300, 1 << 20] {
                    let split = split_read(text, block, chunk)
                        .unwrap_or_else(|| panic!("split {block}/{chunk}: {text}"));
                    assert_eq!(split, whole, "block {block}, chunk {chunk}");
                }
            }
        }
    }

    /// Pretty JSON whose indentation misleads the skip to an element's close (a nested
    /// object closing at the elements' indentation, elements on one line after the first,
    /// a first element on one line): the split read gives the whole parse's snapshot or
    /// falls back to it, never another.
    #[test]
    fn misleading_indentation_never_changes_what_the_split_read_gives() {
        let users = many_users(6);
        let pretty_user = |i: usize| {
            let user: serde_json::Value = serde_json::from_str(&users[i]).expect("user");
            serde_json::to_string_pretty(&user)
                .expect("json")
                .replace('\n', "\n    ")
        };
        let doc = |elements: &[String]| {
            format!(
                "{{\n  \"version\": 2,\n  \"tenantId\": \"{TENANT}\",\n  \"users\": [\n    {}\n  ]\n}}",
                elements.join(",\n    ")
            )
        };
        // A nested object whose `}` sits at the elements' indentation.
        let misleading = pretty_user(1).replacen(
            "\"assignedLicenses\": [",
            "\"assignedLicenses\": [{\n    },",
            1,
        );
        let texts = [
            doc(&(0..6).map(pretty_user).collect::<Vec<_>>()),
            doc(&[
                pretty_user(0),
                users[1].clone(),
                users[2].clone(),
                pretty_user(3),
            ]),
            doc(&[users[0].clone(), pretty_user(1), pretty_user(2)]),
            doc(&[
                pretty_user(0),
                misleading.clone(),
                pretty_user(2),
                pretty_user(3),
            ]),
            doc(&[pretty_user(0), users[1].clone()]),
        ];
        for text in &texts {
            let whole = parse(text);
            for block in [1, 2, 5, 13, 64, 1 << 20] {
                for chunk in [1, 200, 1 << 20] {
                    if let Some(split) = split_read(text, block, chunk) {
                        let whole = whole.as_ref().unwrap_or_else(|e| panic!("{e}: {text}"));
                        assert_eq!(&split, whole, "block {block}, chunk {chunk}: {text}");
                    }
                }
            }
        }
        // The well-indented document is split, skipping the elements after the first
        // (which must arrive in one read to show the shape) however the reads cut the
        // later closes.
        struct Uneven<'a> {
            data: &'a [u8],
            first: usize,
            then: usize,
        }
        impl std::io::Read for Uneven<'_> {
            fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
                let want = if self.first > 0 {
                    self.first
                } else {
                    self.then
                };
                let n = want.min(buf.len()).min(self.data.len());
                self.first = 0;
                buf[..n].copy_from_slice(&self.data[..n]);
                self.data = &self.data[n..];
                Ok(n)
            }
        }
        let text = &texts[0];
        let whole = parse(text).expect("parses");
        let first_close = text.find("\n    }").expect("close") + 6;
        for then in [1, 2, 3, 5, 6, 7, 13, 64] {
            let mut reader = Uneven {
                data: text.as_bytes(),
                first: first_close + 1,
                then,
            };
            let read = read_split(
                &mut reader,
                1 << 16,
                200,
                text.len() as u64,
                UserFields::All,
            );
            match read.expect("reads") {
                Split::Done {
                    snapshot: split, ..
                } => assert_eq!(*split, whole, "reads of {then}"),
                Split::Read { .. } => panic!("not split with reads of {then}"),
            }
        }
    }

    /// A user with every property a snapshot holds, each set.
    fn full_user(i: usize) -> String {
        format!(
            r#"{{"id": "651080ba-71fb-5b9f-a1c0-{i:012x}", "userPrincipalName": "u{i}@contoso.com", "displayName": "U \"{i}\"", "accountEnabled": true, "usageLocation": "DE",
            "assignedLicenses": [{{"skuId": "{SKU}", "disabledPlans": ["{SKU}"]}}],
            "licenseAssignmentStates": [{{"skuId": "{SKU}", "disabledPlans": [], "assignedByGroup": "3d81e50b-4d4f-5742-8c3f-f13fbef42f20", "state": "ActiveWithError", "error": "CountViolation", "lastUpdatedDateTime": "2025-01-15T08:00:00Z"}}],
            "department": "Sales\u00e9", "jobTitle": "Rep", "companyName": "Contoso", "country": "Germany", "state": "BY", "city": "München", "officeLocation": "M1", "employeeType": "Employee", "userType": "Member",
            "onPremisesSyncEnabled": true, "onPremisesExtensionAttributes": {{"extensionAttribute1": "a", "extensionAttribute2": null}},
            "createdDateTime": "2022-08-03T05:17:04Z",
            "signInActivity": {{"lastSignInDateTime": "2025-01-04T16:07:57Z", "lastNonInteractiveSignInDateTime": null, "lastSuccessfulSignInDateTime": "2025-01-04T16:07:57Z"}}}}"#
        )
    }

    /// The directory attributes are boxed only when one is set, written at the top level
    /// of the user in Graph's order, and a user without any equals one whose attributes
    /// were set and then cleared or set to `None`.
    #[test]
    fn directory_attributes_are_boxed_only_when_set_and_written_flat() {
        let text = document(
            2,
            &[sku(SKU, 1, 5)],
            &[
                user("7b4f7c2e-0000-4000-8000-000000000001", "a@x"),
                full_user(1),
            ],
            &[],
        );
        let read = parse(&text).expect("parses");
        assert!(!read.users[0].attributes.is_boxed());
        assert!(read.users[1].attributes.is_boxed());
        let json = serde_json::to_string(&read.users[1]).expect("serializes");
        let at = |key: &str| json.find(&format!("\"{key}\":"));
        assert!(at("licenseAssignmentStates") < at("department"), "{json}");
        assert!(at("department") < at("createdDateTime"), "{json}");
        assert!(at("createdDateTime") < at("signInActivity"), "{json}");
        assert!(at("signInActivity").is_some(), "{json}");
        let again: User = serde_json::from_str(&json).expect("reads back");
        assert_eq!(again, read.users[1]);

        let plain = read.users[0].clone();
        let mut touched = plain.clone();
        touched.attributes.department = Some("Sales".into());
        assert_ne!(touched, plain);
        touched.attributes.department = None;
        assert!(touched.attributes.is_boxed());
        assert_eq!(touched, plain, "an all-None box equals no box");
        touched.attributes.clear();
        assert!(!touched.attributes.is_boxed());
        assert_eq!(
            serde_json::to_string(&touched).ok(),
            serde_json::to_string(&plain).ok()
        );
    }

    /// A read keeping the license fields gives the whole read with everything else
    /// dropped, on the split path and on the whole-file path alike.
    #[test]
    fn a_licensing_read_is_the_whole_read_without_the_attributes() {
        let users: Vec<String> = (0..5).map(full_user).collect();
        let text = document(2, &[sku(SKU, 1, 5)], &users, &[]);
        let mut expected = parse(&text).expect("parses");
        assert!(expected.users[0].attributes.department.is_some());
        assert!(expected.users[0].sign_in_activity.is_some());
        for user in &mut expected.users {
            user.keep(UserFields::Licensing);
        }
        let user = &expected.users[0];
        assert_eq!(user.display_name.as_deref(), Some("U \"0\""));
        assert_eq!(
            user.license_assignment_states[0].last_updated_date_time,
            None
        );
        assert_eq!(user.attributes.department, None);
        assert_eq!(user.sign_in_activity, None);
        assert_eq!(user.attributes.on_premises_extension_attributes, None);
        for chunk in [1, 300, 1 << 20] {
            let lean = split_read_keeping(&text, 7, chunk, UserFields::Licensing).expect("split");
            assert_eq!(lean, expected, "chunk {chunk}");
        }
        // The whole-file path (here: a document the splitter does not take apart).
        let dir = std::env::temp_dir().join(format!("licensectl-lean-{}", std::process::id()));
        std::fs::create_dir_all(&dir).expect("dir");
        let path = dir.join("t.json");
        let users_twice = format!(
            r#"{{"version": 2, "tenantId": "{TENANT}", "users": [], "users": [{}]}}"#,
            users[0]
        );
        std::fs::write(&path, &users_twice).expect("write");
        let options = ReadOptions {
            users: UserFields::Licensing,
            ..ReadOptions::default()
        };
        let read = TenantSnapshot::read_with(&path, &options).map_err(|e| e.to_string());
        let whole = TenantSnapshot::from_json(&users_twice, &path).map_err(|e| e.to_string());
        assert_eq!(read.is_err(), whole.is_err(), "{read:?} / {whole:?}");
        let _ = std::fs::remove_dir_all(&dir);
    }

    /// A licensing read refuses what the whole read refuses in the properties it drops
    /// (then the whole-file parse names the error), and accepts what it accepts.
    #[test]
    fn a_licensing_read_checks_what_it_drops_as_the_whole_read_does() {
        for (property, ok) in [
            (r#""department": 5"#, false),
            (r#""jobTitle": ["a"]"#, false),
            (r#""createdDateTime": {}"#, false),
            (r#""city": "bad \x escape""#, false),
            (r#""city": "M\u00fcnchen""#, true),
            (r#""country": null"#, true),
            (r#""signInActivity": "yesterday""#, false),
            (r#""signInActivity": {"lastSignInDateTime": 1}"#, false),
            (
                r#""signInActivity": {"lastSignInDateTime": null, "lastSignInDateTime": null}"#,
                false,
            ),
            (r#""signInActivity": {"somethingNew": 1}"#, true),
            (r#""signInActivity": null"#, true),
            (
                r#""onPremisesExtensionAttributes": {"extensionAttribute3": 3}"#,
                false,
            ),
            (r#""onPremisesExtensionAttributes": []"#, false),
            (
                r#""onPremisesExtensionAttributes": {"extensionAttribute3": null}"#,
                true,
            ),
            (r#""onPremisesExtensionAttributes": null"#, true),
            (r#""onPremisesSyncEnabled": "yes""#, false),
            (r#""department": "a", "department": "b""#, false),
            (
                r#""licenseAssignmentStates": [{"skuId": "05e9a617-0261-4cee-bb44-138d3ef5d965", "state": "Active", "lastUpdatedDateTime": 7}]"#,
                false,
            ),
            (
                r#""licenseAssignmentStates": [{"skuId": "05e9a617-0261-4cee-bb44-138d3ef5d965", "state": "Active", "lastUpdatedDateTime": null}]"#,
                true,
            ),
            (r#""somethingNew": [1, {"a": null}]"#, true),
        ] {
            let user = format!(
                r#"{{"id": "651080ba-71fb-5b9f-a1c0-000000000001", {property}, "userPrincipalName": "u@contoso.com"}}"#
            );
            let text = document(2, &[sku(SKU, 1, 5)], &[user], &[]);
            let whole = parse(&text);
            assert_eq!(whole.is_ok(), ok, "whole read of {property}: {whole:?}");
            for keep in [UserFields::All, UserFields::Licensing] {
                let split = split_read_keeping(&text, 3, 1, keep);
                assert_eq!(split.is_some(), ok, "{keep:?} read of {property}");
            }
        }
    }

    #[test]
    fn every_read_covers_a_licensing_read_and_only_a_whole_read_covers_a_whole_read() {
        assert!(UserFields::All.covers(UserFields::All));
        assert!(UserFields::All.covers(UserFields::Licensing));
        assert!(UserFields::Licensing.covers(UserFields::Licensing));
        assert!(!UserFields::Licensing.covers(UserFields::All));
    }

    /// Documents the splitter does not take apart, or whose pieces do not parse, fall back
    /// to the whole-file parse, so that the error is the one the whole document gives.
    #[test]
    fn unusual_documents_fall_back_to_the_whole_file_parse() {
        let users = many_users(3);
        let one =
            |users: &str| format!(r#"{{"version": 2, "tenantId": "{TENANT}", "users": {users}}}"#);
        for text in [
            one(&format!("[{},]", users.join(","))),
            one(&format!("[,{}]", users.join(","))),
            one(&format!("[{},,{}]", users[0], users[1])),
            one(&format!("[{} {}]", users[0], users[1])),
            one("null"),
            one("{}"),
            one("\"users\""),
            format!(
                r#"{{"version": 2, "tenantId": "{TENANT}", "users": [], "users": [{}]}}"#,
                users[0]
            ),
            format!(
                r#"{{"version": 2, "tenantId": "{TENANT}", "\u0075sers": [{}]}}"#,
                users[0]
            ),
            one(&format!("[{}", users[0])),
            one(&format!("[{}]]", users[0])),
            format!("[{}]", users[0]),
        ] {
            for chunk in [1, 1 << 20] {
                assert_eq!(split_read(&text, 5, chunk), None, "{text}");
            }
        }
        // Read as a file, each of them gives the whole document's answer.
        let dir = std::env::temp_dir().join(format!("licensectl-split-{}", std::process::id()));
        std::fs::create_dir_all(&dir).expect("dir");
        let path = dir.join("t.json");
        let text = one(&format!("[{},]", users.join(",")));
        std::fs::write(&path, &text).expect("write");
        let read = TenantSnapshot::read(&path)
            .expect_err("trailing comma")
            .to_string();
        let whole = TenantSnapshot::from_json(&text, &path)
            .expect_err("refused")
            .to_string();
        assert_eq!(read, whole);
        assert!(read.contains("trailing comma"), "{read}");
        let _ = std::fs::remove_dir_all(&dir);
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
