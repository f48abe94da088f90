//! Saved-plan parsing (`SavedPlan::from_json`) on arbitrary text: it must never panic, and
//! a plan it accepts writes back as JSON that reads back equal.
#![no_main]

use std::path::Path;

use libfuzzer_sys::fuzz_target;
use licensectl::plan::saved::SavedPlan;

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    let path = Path::new("plan.json");
    let Ok(saved) = SavedPlan::from_json(text, path) else {
        return;
    };
    let again = SavedPlan::from_json(&saved.to_json(), path).expect("written back, reads back");
    assert_eq!(again.to_json(), saved.to_json());
});
