//! The snapshot loader on arbitrary bytes (`TenantSnapshot::from_slice`): it must never
//! panic; a snapshot it accepts has no problems, writes back as JSON that reads back equal,
//! and can be planned against the example config and rendered without a panic (seat
//! arithmetic, lookups and renderers on whatever a snapshot may hold). The same bytes read
//! as a file in small blocks, with users parsed in small chunks side by side
//! (`TenantSnapshot::read_with`), give exactly what the whole-document parse gives: the
//! same snapshot, or the same error — and so does a read keeping only the license fields
//! (`UserFields::Licensing`), with the whole parse's users stripped the same way. The
//! index of the users a read hands on (`TenantSnapshot::read_indexed`, built from the
//! hashes the read's workers computed) finds every user it read by id and by UPN.
#![no_main]

use std::sync::OnceLock;

use libfuzzer_sys::fuzz_target;
use licensectl::config::{ConfigFiles, DesiredState, load_files};
use licensectl::plan::{PlanOptions, plan};
use licensectl::render::{Mode, json, markdown, text};
use licensectl::snapshot::{ReadOptions, TenantSnapshot, UserFields};

fn contoso() -> &'static DesiredState {
    static DESIRED: OnceLock<DesiredState> = OnceLock::new();
    DESIRED.get_or_init(|| {
        let files = [
            (
                "licensectl.yaml",
                include_str!("../../examples/contoso/licensectl.yaml"),
            ),
            (
                "licenses/engineering.yaml",
                include_str!("../../examples/contoso/licenses/engineering.yaml"),
            ),
            (
                "licenses/executives.yaml",
                include_str!("../../examples/contoso/licenses/executives.yaml"),
            ),
            (
                "licenses/groups.yaml",
                include_str!("../../examples/contoso/licenses/groups.yaml"),
            ),
            (
                "licenses/sales.yaml",
                include_str!("../../examples/contoso/licenses/sales.yaml"),
            ),
        ];
        let mut desired = load_files(ConfigFiles::new("contoso", files))
            .desired
            .expect("the example config is valid");
        // Plan against whatever tenant the input is.
        desired.settings.tenant = None;
        desired
    })
}

/// A file of this process to write each input to.
fn scratch() -> &'static std::path::PathBuf {
    static PATH: OnceLock<std::path::PathBuf> = OnceLock::new();
    PATH.get_or_init(|| {
        std::env::temp_dir().join(format!("licensectl-fuzz-{}.json", std::process::id()))
    })
}

fuzz_target!(|data: &[u8]| {
    let path = scratch().as_path();
    let whole = TenantSnapshot::from_slice(data, path);
    std::fs::write(path, data).expect("writes the input");
    // Block and chunk sizes from the input's length: small, so that blocks and chunks end
    // anywhere (blocks of up to 509 bytes keep the reads few enough for the fuzzer's pace).
    for users in [UserFields::All, UserFields::Licensing] {
        let options = ReadOptions {
            block_bytes: 1 + data.len() % 509,
            chunk_bytes: 1 + data.len() % 97,
            users,
            ..ReadOptions::default()
        };
        let split = TenantSnapshot::read_indexed(path, &options);
        if let Ok((snapshot, index)) = &split {
            let users = &snapshot.users;
            assert!(index.fits(users));
            for (i, user) in users.iter().enumerate() {
                assert_eq!(index.position(users, &user.id), Some(i));
                let upn = &user.user_principal_name;
                assert_eq!(index.position_by_upn(users, upn), Some(i));
            }
        }
        let split = split.map(|(snapshot, _)| snapshot);
        let whole = whole.as_ref().map(|snapshot| {
            let mut kept = snapshot.clone();
            for user in &mut kept.users {
                user.keep(users);
            }
            kept
        });
        match (&whole, &split) {
            (Ok(a), Ok(b)) => assert_eq!(a, b, "the split read keeping {users:?} differs"),
            (Err(a), Err(b)) => assert_eq!(a.to_string(), b.to_string()),
            _ => panic!("the {users:?} read and the whole parse disagree: {whole:?} / {split:?}"),
        }
    }
    let Ok(snapshot) = whole else {
        return;
    };
    assert!(snapshot.problems().is_empty());
    let _ = snapshot.unknown_values();
    let again = TenantSnapshot::from_json(&snapshot.to_json_pretty(), path)
        .expect("a snapshot written back reads back");
    assert_eq!(again, snapshot);
    for allow_unsafe in [false, true] {
        let planned = plan(
            contoso(),
            &snapshot,
            &PlanOptions {
                allow_unsafe,
                ..PlanOptions::default()
            },
        );
        for mode in [Mode::Plan, Mode::Drift] {
            let _ = text::render(&planned, mode);
            let _ = markdown::render(&planned, mode);
            let _ = json::render(&planned, mode);
        }
    }
});
