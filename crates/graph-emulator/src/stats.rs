//! Request statistics served at `/_emulator/stats`.

use std::collections::BTreeMap;

use serde::Serialize;

/// Counters since start or the last reset.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Stats {
    /// Graph requests answered (top-level and batch items).
    pub requests: u64,
    /// Counts by `METHOD /endpoint/{id}` and HTTP status.
    pub by_endpoint: BTreeMap<String, BTreeMap<u16, u64>>,
    /// Successful writes (assignLicense, PATCH).
    pub writes: u64,
    /// Requests answered 429 (by the throttle or an injected fault).
    pub throttled: u64,
    /// Injected faults (any kind).
    pub faults: u64,
    /// `$batch` requests.
    pub batches: u64,
    /// Requests inside batches.
    pub batch_items: u64,
    /// Token requests (any outcome).
    pub token_requests: u64,
    /// Resource units charged (`x-ms-resource-unit` of every answer other than 429).
    pub resource_units: u64,
    /// Connections dropped by an injected `drop` fault (not counted in `requests`).
    pub dropped: u64,
}

impl Stats {
    /// Records one answered request that was charged `ru` resource units.
    pub fn record(&mut self, endpoint: &str, status: u16, write: bool, ru: u32) {
        self.requests += 1;
        if status != 429 {
            self.resource_units += u64::from(ru);
        }
        *self
            .by_endpoint
            .entry(endpoint.to_owned())
            .or_default()
            .entry(status)
            .or_default() += 1;
        if write && (200..300).contains(&status) {
            self.writes += 1;
        }
        if status == 429 {
            self.throttled += 1;
        }
    }
}
