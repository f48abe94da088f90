//! The snapshot loader on arbitrary bytes (`TenantSnapshot::from_slice`): it must never
//! panic; a snapshot it accepts has no problems, writes back as JSON that reads back equal,
//! and can be planned against the example config and rendered without a panic (seat
//! arithmetic, lookups and renderers on whatever a snapshot may hold).
#![no_main]

use std::path::Path;
use std::sync::OnceLock;

use libfuzzer_sys::fuzz_target;
use licensectl::config::{ConfigFiles, DesiredState, load_files};
use licensectl::plan::{PlanOptions, plan};
use licensectl::render::{Mode, json, markdown, text};
use licensectl::snapshot::TenantSnapshot;

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

fuzz_target!(|data: &[u8]| {
    let path = Path::new("fuzz.json");
    let Ok(snapshot) = TenantSnapshot::from_slice(data, path) else {
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
