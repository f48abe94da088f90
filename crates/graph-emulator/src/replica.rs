//! Eventual consistency: reads may return an object as it was before a recent write.
//!
//! Microsoft Entra does not promise that a read right after a successful write shows it:
//! "A successful write to Microsoft Entra does not guarantee that an immediate read will
//! reflect that change" (Microsoft Entra Identity blog, "Designing for Eventual Consistency
//! for Microsoft Entra", 2026-03-24,
//! <https://devblogs.microsoft.com/identity/designing-for-eventual-consistency-for-microsoft-entra/>;
//! `GET /users` "might have replication delays for users that were recently created,
//! updated, or deleted", <https://learn.microsoft.com/en-us/graph/api/user-list>).
//!
//! The emulator keeps the truth (the primary) in [`Tenant`] and, for each user and group
//! written in the last `lag`, the versions each write replaced. A read through a
//! [`View`] sees, for an object with writes younger than `lag`, the version from before
//! the oldest such write — with probability `stale_probability` per object and request
//! (1: always stale until the lag has passed, the hardest case), decided by a hash of the
//! request's salt, so a run is repeatable for a seed and one request sees one version of
//! each object. Write responses are computed from the primary: they are authoritative.
//! Pure data; the caller passes the time.

use std::collections::{HashMap, VecDeque};
use std::time::{Duration, Instant};

use licensectl_model::snapshot::{AssignmentStateKind, Group, User};

use super::state::Tenant;

/// The version an object had until `at`.
#[derive(Debug, Clone)]
struct Superseded<T> {
    at: Instant,
    old: T,
}

/// Versions replaced by writes that are not yet replicated everywhere.
#[derive(Debug, Clone, Default)]
pub(crate) struct Replication {
    lag: Duration,
    stale_probability: f64,
    users: HashMap<usize, VecDeque<Superseded<User>>>,
    groups: HashMap<usize, VecDeque<Superseded<Group>>>,
    recorded: u64,
}

fn push<T>(
    map: &mut HashMap<usize, VecDeque<Superseded<T>>>,
    lag: Duration,
    index: usize,
    old: T,
    at: Instant,
) {
    let versions = map.entry(index).or_default();
    while versions.front().is_some_and(|v| v.at + lag <= at) {
        versions.pop_front();
    }
    versions.push_back(Superseded { at, old });
}

fn prune<T>(map: &mut HashMap<usize, VecDeque<Superseded<T>>>, lag: Duration, now: Instant) {
    map.retain(|_, versions| versions.back().is_some_and(|v| v.at + lag > now));
}

/// The version a replica shows at `now`: the one replaced by the oldest write that is
/// younger than `lag`, if any.
fn pending<T>(
    map: &HashMap<usize, VecDeque<Superseded<T>>>,
    lag: Duration,
    index: usize,
    now: Instant,
) -> Option<&T> {
    map.get(&index)?
        .iter()
        .find(|v| v.at + lag > now)
        .map(|v| &v.old)
}

impl Replication {
    /// Replication with reads lagging `lag` behind writes; each read of an object written
    /// within the lag is stale with probability `stale_probability` (clamped to 0..=1).
    pub(crate) fn new(lag: Duration, stale_probability: f64) -> Self {
        let p = if stale_probability.is_nan() {
            1.0
        } else {
            stale_probability.clamp(0.0, 1.0)
        };
        Self {
            lag,
            stale_probability: p,
            ..Self::default()
        }
    }

    fn enabled(&self) -> bool {
        !self.lag.is_zero() && self.stale_probability > 0.0
    }

    fn housekeeping(&mut self, at: Instant) {
        self.recorded += 1;
        if self.recorded.is_multiple_of(1024) {
            prune(&mut self.users, self.lag, at);
            prune(&mut self.groups, self.lag, at);
        }
    }

    /// Records that user `u` was `old` until a write at `at`.
    pub(crate) fn record_user(&mut self, u: usize, old: User, at: Instant) {
        if self.enabled() {
            push(&mut self.users, self.lag, u, old, at);
            self.housekeeping(at);
        }
    }

    /// Records that group `g` was `old` until a write at `at`.
    pub(crate) fn record_group(&mut self, g: usize, old: Group, at: Instant) {
        if self.enabled() {
            push(&mut self.groups, self.lag, g, old, at);
            self.housekeeping(at);
        }
    }
}

/// splitmix64: a well-mixed hash of one word.
fn mix(mut x: u64) -> u64 {
    x = x.wrapping_add(0x9E37_79B9_7F4A_7C15);
    x = (x ^ (x >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
    x = (x ^ (x >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
    x ^ (x >> 31)
}

/// The salt of one request: different for every request, the same sequence for a seed.
pub(crate) fn request_salt(seed: u64, request: u64) -> u64 {
    mix(seed ^ mix(request))
}

const USER: u64 = 1 << 62;
const GROUP: u64 = 2 << 62;

/// What one request reads: the tenant as a replica shows it at `now`.
#[derive(Debug, Clone, Copy)]
pub(crate) struct View<'t> {
    tenant: &'t Tenant,
    now: Instant,
    salt: u64,
}

impl<'t> View<'t> {
    /// A view of `tenant` at `now` for the request with `salt`.
    pub(crate) fn new(tenant: &'t Tenant, now: Instant, salt: u64) -> Self {
        Self { tenant, now, salt }
    }

    /// The tenant itself, for what does not replicate in this model (SKUs, indexes).
    pub(crate) fn tenant(&self) -> &'t Tenant {
        self.tenant
    }

    fn stale(&self, kind: u64, index: usize) -> bool {
        let p = self.tenant.replication.stale_probability;
        if p >= 1.0 {
            return true;
        }
        let h = mix(self.salt ^ kind ^ index as u64);
        // The top 53 bits as a fraction of one.
        ((h >> 11) as f64) / ((1u64 << 53) as f64) < p
    }

    /// User `u` as this read sees it.
    pub(crate) fn user(&self, u: usize) -> &'t User {
        let r = &self.tenant.replication;
        if !r.users.is_empty()
            && let Some(old) = pending(&r.users, r.lag, u, self.now)
            && self.stale(USER, u)
        {
            return old;
        }
        &self.tenant.users[u]
    }

    /// Group `g` as this read sees it.
    pub(crate) fn group(&self, g: usize) -> &'t Group {
        let r = &self.tenant.replication;
        if !r.groups.is_empty()
            && let Some(old) = pending(&r.groups, r.lag, g, self.now)
            && self.stale(GROUP, g)
        {
            return old;
        }
        &self.tenant.groups[g]
    }

    /// True when some direct member of group `g` has a license from it in `Error` or
    /// `ActiveWithError` (`hasMembersWithLicenseErrors`,
    /// <https://learn.microsoft.com/en-us/graph/api/resources/group>).
    pub(crate) fn group_has_member_errors(&self, g: usize) -> bool {
        let group = self.group(g);
        group.members.iter().any(|m| {
            self.tenant.user_by_id(*m).is_some_and(|u| {
                self.user(u).license_assignment_states.iter().any(|s| {
                    s.assigned_by_group == Some(group.id)
                        && matches!(
                            s.state,
                            AssignmentStateKind::Error | AssignmentStateKind::ActiveWithError
                        )
                })
            })
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use licensectl_model::ids::UserId;

    fn user(name: &str) -> User {
        User::new(UserId(uuid::Uuid::nil()), name)
    }

    #[test]
    fn a_replica_shows_the_version_before_the_oldest_unreplicated_write() {
        let lag = Duration::from_secs(10);
        let mut r = Replication::new(lag, 1.0);
        let t0 = Instant::now();
        r.record_user(0, user("v0"), t0);
        r.record_user(0, user("v1"), t0 + Duration::from_secs(4));
        let at = |s: u64| pending(&r.users, lag, 0, t0 + Duration::from_secs(s));
        assert_eq!(at(1).map(|u| u.user_principal_name.as_str()), Some("v0"));
        assert_eq!(at(11).map(|u| u.user_principal_name.as_str()), Some("v1"));
        assert!(at(15).is_none(), "both writes replicated");
    }

    #[test]
    fn no_lag_records_nothing() {
        let mut r = Replication::new(Duration::ZERO, 1.0);
        r.record_user(0, user("v0"), Instant::now());
        assert!(r.users.is_empty());
        let mut r = Replication::new(Duration::from_secs(1), 0.0);
        r.record_user(0, user("v0"), Instant::now());
        assert!(r.users.is_empty());
    }

    #[test]
    fn salts_differ_per_request_and_repeat_per_seed() {
        let a: Vec<u64> = (0..4).map(|i| request_salt(7, i)).collect();
        let b: Vec<u64> = (0..4).map(|i| request_salt(7, i)).collect();
        assert_eq!(a, b);
        assert_ne!(a[0], a[1]);
        assert_ne!(request_salt(8, 0), a[0]);
    }
}
