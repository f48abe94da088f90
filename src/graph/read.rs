//! Reading a tenant's live license state into a [`TenantSnapshot`].
//!
//! What is read, and how cheaply:
//! - `subscribedSkus` and the tenant's initial domain from `organization` (one request
//!   each, in parallel);
//! - every licensed user, either with one sequential pager
//!   (`assignedLicenses/$count ne 0`, an advanced query) or with one pager per SKU
//!   (`assignedLicenses/any(x:x/skuId eq …)`) run in parallel, merged and de-duplicated —
//!   see [`LicensedUsersStrategy`] for which is used when;
//! - the managed users that are not licensed, looked up by UPN with `in` filters of 15
//!   UPNs, twenty such filters per `$batch` (300 UPNs per HTTP request, one resource unit
//!   per 15 users, where single GETs would cost one per user);
//! - the managed groups and every group that assigns a license to a user read (by id,
//!   with the same batched `in` filters: 300 groups per request), with their direct user
//!   members and license processing state;
//! - the members of those groups that hold no license (a failed group license shows only
//!   in `licenseAssignmentStates`), looked up by id the same way.
//!
//! - when the config has attribute rules, every user in `rules_scope` (narrowed by an
//!   exact `$filter` on `accountEnabled`/`userType` when the scope allows it) with the
//!   attributes the rules use, and the groups `member_of` names, with their members.
//!   When no filter narrows the scope, that read of every user takes the place of the
//!   licensed users' read (it carries the same fields).
//!
//! With `full`, every user (with the attributes the rules use, when there are rules) and
//! every group is read instead (the emulator round trip, adoption). The module reports progress through [`ReadProgress`] and prints nothing.

use std::collections::{BTreeMap, BTreeSet, HashSet};

use futures::stream::{self, StreamExt, TryStreamExt};
use serde::Deserialize;

use crate::ids::{GroupId, TenantId, UserId};
use crate::snapshot::{Group, SNAPSHOT_VERSION, TenantSnapshot, User};

use super::client::{BatchRequest, GROUP_SELECT, GraphClient, PAGE_SIZE, USER_SELECT};
use super::error::GraphError;
use super::ranges;

/// Largest number of values in one `in (...)` filter (https://learn.microsoft.com/en-us/graph/aad-advanced-queries, "in" operator limits).
pub const IN_FILTER_MAX: usize = 15;

/// How to read every licensed user. The CLI's `--strategy` help is the `help` of each
/// value; the measurements behind `Auto` are in docs/live.md and BENCHMARKS.md.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, clap::ValueEnum)]
pub enum LicensedUsersStrategy {
    /// Decide by the data: read the first page in UPN order, whose `@odata.count` gives
    /// the number of licensed users, then read the rest in UPN ranges side by side
    /// ([`LicensedUsersStrategy::Ranges`]) when at least [`RANGES_MIN_PAGES`] pages are
    /// left, else one page after another.
    #[default]
    #[value(
        help = "Read the first page in UPN order, then the rest in UPN ranges when three pages or more are left, else one page after another"
    )]
    Auto,
    /// One pager over `assignedLicenses/$count ne 0`.
    #[value(help = "One request after the other: fewest requests, slowest on large tenants")]
    Sequential,
    /// Ranges of user principal names read side by side, a range cut again where it was
    /// read up to while it has more pages left than its share (`src/graph/ranges.rs`).
    #[value(
        help = "UPN ranges in parallel: about the fewest requests, in about pages / --max-concurrency rounds"
    )]
    Ranges,
    /// One pager per SKU, merged.
    #[value(help = "One reader per SKU in parallel: reads users holding several SKUs once per SKU")]
    PerSku,
}

impl LicensedUsersStrategy {
    /// How a read of every user (or every licensed one) goes on after its first page;
    /// per SKU reads the others as `Auto` does.
    fn pace(self) -> ranges::Pace {
        match self {
            LicensedUsersStrategy::Sequential => ranges::Pace::Sequential,
            LicensedUsersStrategy::Ranges => ranges::Pace::Ranges,
            LicensedUsersStrategy::Auto | LicensedUsersStrategy::PerSku => ranges::Pace::Auto,
        }
    }
}

/// Pages left after the first from which `Auto` reads in ranges: below it, ranges would
/// save no round (their first round reads the top page and the second page).
pub const RANGES_MIN_PAGES: u64 = 3;

/// Rounds of requests (each waiting for the previous one) that reading `pages` pages per
/// SKU needs with `slots` requests in flight.
pub fn per_sku_rounds(pages: &[u64], slots: usize) -> u64 {
    let total: u64 = pages.iter().sum();
    let longest = pages.iter().copied().max().unwrap_or(0);
    longest.max(total.div_ceil(slots.max(1) as u64))
}

/// What to read besides SKUs and licensed users.
#[derive(Debug, Clone, Default)]
pub struct ReadScope {
    /// UPNs of the users the config manages.
    pub managed_upns: Vec<String>,
    /// Group ids the config names.
    pub managed_group_ids: Vec<GroupId>,
    /// Group displayNames or mailNicknames the config names.
    pub managed_group_names: Vec<String>,
    /// Read every user and every group (not only licensed or managed ones).
    pub full: bool,
    /// How to read licensed users.
    pub strategy: LicensedUsersStrategy,
    /// What the config's attribute rules need read, when it has rules.
    pub rules: Option<RulesRead>,
}

/// What attribute rules need from a live read: every user in `rules_scope` (not only the
/// licensed ones), with the attributes the rules use.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct RulesRead {
    /// Graph user properties to `$select` besides the license fields
    /// (`department`, `onPremisesExtensionAttributes`, …).
    pub attributes: Vec<&'static str>,
    /// A `$filter` that holds for every user in `rules_scope` (on `accountEnabled` and
    /// `userType`, which Graph filters exactly with `eq`), or `None` to read every user.
    pub filter: Option<String>,
    /// Read every group with its members (a `member_of` condition matches groups by a
    /// pattern); groups named exactly are in `ReadScope::managed_group_*`.
    pub all_groups: bool,
}

/// `USER_SELECT` plus `extra` (each once).
fn user_select(extra: &[&str]) -> String {
    let mut fields: Vec<&str> = USER_SELECT.split(',').collect();
    for field in extra {
        if !fields.contains(field) {
            fields.push(field);
        }
    }
    fields.join(",")
}

/// Every user `rules` needs (those its filter admits), with the attributes it selects.
async fn rule_users(
    client: &GraphClient,
    rules: &RulesRead,
    pace: ranges::Pace,
) -> Result<Vec<User>, GraphError> {
    let select = user_select(&rules.attributes);
    let base = ranges::Base {
        filter: rules.filter.as_deref(),
        select: &select,
    };
    ranges::read(client, base, pace, &NoProgress).await
}

/// Progress events of a read.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ReadEvent {
    /// A phase started; `total` items expected when known.
    Phase {
        /// Short name of the phase.
        name: &'static str,
        /// Expected items, when known.
        total: Option<u64>,
    },
    /// `n` more items were read in the current phase.
    Items(u64),
}

/// Receives progress events (the CLI draws a bar or prints lines).
pub trait ReadProgress: Send + Sync {
    /// One event.
    fn event(&self, event: ReadEvent);
}

/// Ignores progress.
#[derive(Debug, Default)]
pub struct NoProgress;

impl ReadProgress for NoProgress {
    fn event(&self, _: ReadEvent) {}
}

#[derive(Deserialize)]
struct SkuCount {
    #[serde(rename = "skuId")]
    sku_id: crate::ids::SkuId,
    #[serde(rename = "consumedUnits", default)]
    consumed_units: i64,
}

/// Reads the tenant `tenant_id` (from the token's `tid`) as a snapshot.
///
/// The reads that do not depend on one another run side by side within the client's
/// concurrency limit: the SKUs, the organization, the users (licensed, or every one) and
/// the users in `rules_scope`, and the groups the config names (or every group) with their
/// members. What depends on the users read comes after: the managed users that hold no
/// license and the groups that assign a license to a user read (with their members), then
/// the members of those groups that are not read yet.
pub async fn read_tenant(
    client: &GraphClient,
    tenant_id: TenantId,
    scope: &ReadScope,
    progress: &dyn ReadProgress,
) -> Result<TenantSnapshot, GraphError> {
    let slots = client.limiter().max();
    // The group reads that overlap the users leave one slot to the users' pager, which is
    // what the read waits for.
    let side_slots = slots.saturating_sub(1).max(1);
    let all_groups = scope.full || scope.rules.as_ref().is_some_and(|r| r.all_groups);
    // Every user (or every user in rules_scope) is read in UPN ranges, unless the read
    // is asked to go one page after another.
    let pace = scope.strategy.pace();
    // The groups that assign licenses to the users of the first licensed page, sent by
    // the users' side as soon as it has that page: read (with their members) beside the
    // rest of the users instead of after them. Dropped unsent when no such page is read.
    let (early_tx, early_rx) = futures::channel::oneshot::channel::<Vec<GroupId>>();
    let users_side = async {
        let reads_licensed = !scope.full && scope.rules.as_ref().is_none_or(|r| r.filter.is_some());
        // Without the licensed users' read there is no first page: the groups side goes
        // on at once.
        let early_tx = reads_licensed.then_some(early_tx);
        if scope.full {
            // With rules, every user with the attributes they use (a full snapshot of a
            // rules config plans offline like the live read).
            let extra = scope
                .rules
                .as_ref()
                .map_or(&[][..], |r| r.attributes.as_slice());
            let select = user_select(extra);
            let base = ranges::Base {
                filter: None,
                select: &select,
            };
            progress.event(ReadEvent::Phase {
                name: "users",
                total: None,
            });
            let (skus_domains, all) = futures::try_join!(
                skus_and_domains(client),
                ranges::read(client, base, pace, progress)
            )?;
            report_skus(progress, &skus_domains);
            Ok::<_, GraphError>((skus_domains, all))
        } else if scope.rules.as_ref().is_some_and(|r| r.filter.is_none()) {
            // The rules read every user (with the license fields): reading the licensed
            // ones as well would read them twice.
            let skus_domains = skus_and_domains(client).await?;
            report_skus(progress, &skus_domains);
            Ok((skus_domains, Vec::new()))
        } else {
            licensed_users(client, scope.strategy, progress, early_tx).await
        }
    };
    // The users in rules_scope replace the licensed users' copies (they carry the
    // attributes); read side by side with them, reported once both are done.
    let rules_side = async {
        match &scope.rules {
            Some(rules) if !scope.full => rule_users(client, rules, pace).await,
            _ => Ok(Vec::new()),
        }
    };
    let groups_side = async {
        if all_groups {
            let groups = client.list_all(client.groups_url(None)?, &[]).await?;
            return with_members(client, groups, side_slots, &NoProgress).await;
        }
        let (named, early) = futures::try_join!(
            named_groups(client, &scope.managed_group_names, &scope.managed_group_ids),
            async { Ok(early_rx.await.unwrap_or_default()) }
        )?;
        let known: HashSet<GroupId> = named.iter().map(|g| g.id).collect();
        let early: BTreeSet<String> = early
            .into_iter()
            .filter(|id| !known.contains(id))
            .map(|id| id.to_string())
            .collect();
        let early: Vec<&str> = early.iter().map(String::as_str).collect();
        let (mut named, early) = futures::try_join!(
            with_members(client, named, side_slots, &NoProgress),
            async {
                let found: Vec<Group> =
                    where_in(client, "groups", GROUP_SELECT, "id", &early).await?;
                with_members(client, found, side_slots, &NoProgress).await
            }
        )?;
        named.extend(early);
        Ok(named)
    };
    let (((subscribed_skus, domains), read), rule_read, early_groups) =
        futures::try_join!(users_side, rules_side, groups_side)?;
    let domains = domains.unwrap_or_default();

    // Every user read, in the order read: a later copy of a user replaces an earlier one
    // (`latest_per_id`). A vector, not a map: half a million users are moved once.
    let mut users: Vec<User> = read;
    if scope.rules.is_some() && !scope.full {
        progress.event(ReadEvent::Phase {
            name: "users in rules_scope",
            total: Some(rule_read.len() as u64),
        });
        progress.event(ReadEvent::Items(rule_read.len() as u64));
        // With their attributes, replacing the licensed users' copies.
        users.extend(rule_read);
    }
    let mut users = latest_per_id(users);

    let mut groups: BTreeMap<GroupId, Group> =
        early_groups.into_iter().map(|g| (g.id, g)).collect();
    if !scope.full {
        let known: HashSet<String> = users
            .iter()
            .map(|u| u.user_principal_name.to_lowercase())
            .collect();
        let missing: Vec<&str> = scope
            .managed_upns
            .iter()
            .filter(|upn| !known.contains(&upn.to_lowercase()))
            .map(String::as_str)
            .collect();
        // The groups that assign a license to a user read and are not read yet.
        let assigning: Vec<String> = if all_groups {
            Vec::new()
        } else {
            let ids: BTreeSet<GroupId> = users
                .iter()
                .flat_map(|u| u.inherited_states().filter_map(|s| s.assigned_by_group))
                .filter(|id| !groups.contains_key(id))
                .collect();
            ids.iter().map(ToString::to_string).collect()
        };
        progress.event(ReadEvent::Phase {
            name: "managed users and licensing groups",
            total: Some((missing.len() + assigning.len()) as u64),
        });
        let later_groups = async {
            let refs: Vec<&str> = assigning.iter().map(String::as_str).collect();
            let found: Vec<Group> = where_in(client, "groups", GROUP_SELECT, "id", &refs).await?;
            progress.event(ReadEvent::Items(found.len() as u64));
            with_members(client, found, slots, &NoProgress).await
        };
        let (managed, later) = futures::try_join!(
            async {
                let found = users_by_upn(client, &missing).await?;
                progress.event(ReadEvent::Items(found.len() as u64));
                Ok(found)
            },
            later_groups
        )?;
        users.extend(managed);
        users = latest_per_id(users);
        groups.extend(later.into_iter().map(|g| (g.id, g)));

        // Members of the groups read who hold no license (typically because the group's
        // license failed for them: the error shows only in their licenseAssignmentStates).
        let read: HashSet<UserId> = users.iter().map(|u| u.id).collect();
        let mut missing: Vec<UserId> = groups
            .values()
            .flat_map(|g| g.members.iter())
            .copied()
            .filter(|id| !read.contains(id))
            .collect();
        missing.sort();
        missing.dedup();
        let missing: Vec<String> = missing.iter().map(ToString::to_string).collect();
        if !missing.is_empty() {
            progress.event(ReadEvent::Phase {
                name: "unlicensed group members",
                total: Some(missing.len() as u64),
            });
            let refs: Vec<&str> = missing.iter().map(String::as_str).collect();
            let found = users_where_in(client, "id", &refs).await?;
            progress.event(ReadEvent::Items(found.len() as u64));
            users.extend(found);
            users = latest_per_id(users);
        }
    }
    // By UPN (folded once per user, not once per comparison), then id.
    users.sort_by_cached_key(|u| (u.user_principal_name.to_lowercase(), u.id));
    let mut groups: Vec<Group> = groups.into_values().collect();
    groups.sort_by(|a, b| a.display_name.cmp(&b.display_name).then(a.id.cmp(&b.id)));
    Ok(TenantSnapshot {
        version: SNAPSHOT_VERSION,
        tenant_id,
        tenant_domain: primary_domain(&domains),
        verified_domains: {
            let mut names: Vec<String> = domains.iter().map(|d| d.name.clone()).collect();
            names.sort_by_key(|n| n.to_ascii_lowercase());
            names
        },
        subscribed_skus,
        users,
        groups,
        subscriptions: Vec::new(),
        directory_audits: None,
        apps: Vec::new(),
        service_plan_rules: Default::default(),
    })
}

/// `users` with one copy of each user, the last one read, ordered by id (in place: a
/// stable sort keeps the order of reading among a user's copies).
fn latest_per_id(mut users: Vec<User>) -> Vec<User> {
    users.sort_by_key(|u| u.id);
    users.reverse();
    users.dedup_by_key(|u| u.id);
    users
}

/// The subscribed SKUs and the tenant's verified domains (`None` without the permission
/// to read `/organization`), in parallel.
async fn skus_and_domains(client: &GraphClient) -> Result<SkusAndDomains, GraphError> {
    // `/organization` needs Organization.Read.All (or Directory.*), which a
    // least-privilege app does not have: without it the snapshot records no domain.
    let (skus, domains) =
        futures::try_join!(client.subscribed_skus(), tenant_domains_if_allowed(client))?;
    Ok((skus, domains))
}

/// Reports the SKUs read as a phase of their own.
fn report_skus(progress: &dyn ReadProgress, skus: &SkusAndDomains) {
    progress.event(ReadEvent::Phase {
        name: "subscribed SKUs",
        total: Some(skus.0.len() as u64),
    });
    progress.event(ReadEvent::Items(skus.0.len() as u64));
}

type SkusAndDomains = (
    Vec<crate::snapshot::SubscribedSku>,
    Option<Vec<VerifiedDomain>>,
);

/// The subscribed SKUs and domains, and every user holding at least one license. The
/// first sequential page is read side by side with the SKUs (it needs none of them); one
/// pager per SKU needs the SKUs first. The progress total is what the pagers will read:
/// the first sequential page's `@odata.count`, or, read per SKU, the sum of the SKUs'
/// `consumedUnits` (a user holding several SKUs is read once per SKU).
async fn licensed_users(
    client: &GraphClient,
    strategy: LicensedUsersStrategy,
    progress: &dyn ReadProgress,
    early_groups: Option<futures::channel::oneshot::Sender<Vec<GroupId>>>,
) -> Result<(SkusAndDomains, Vec<User>), GraphError> {
    const PHASE: &str = "licensed users";
    let sku_counts = |skus: &[crate::snapshot::SubscribedSku]| -> Vec<SkuCount> {
        skus.iter()
            .filter(|s| s.consumed_units > 0)
            .map(|s| SkuCount {
                sku_id: s.sku_id,
                consumed_units: s.consumed_units,
            })
            .collect()
    };
    let per_sku_total =
        |used: &[SkuCount]| Some(used.iter().map(|s| s.consumed_units as u64).sum());
    if strategy == LicensedUsersStrategy::PerSku {
        // No first page to take the groups from: the groups side goes on without them.
        drop(early_groups);
        let skus_domains = skus_and_domains(client).await?;
        report_skus(progress, &skus_domains);
        let used = sku_counts(&skus_domains.0);
        progress.event(ReadEvent::Phase {
            name: PHASE,
            total: per_sku_total(&used),
        });
        let users = per_sku(client, &used, progress).await?;
        return Ok((skus_domains, users));
    }
    let pace = strategy.pace();
    let base = ranges::Base::licensed();
    let (skus_domains, first) = futures::try_join!(
        skus_and_domains(client),
        ranges::first_page(client, base, pace)
    )?;
    report_skus(progress, &skus_domains);
    progress.event(ReadEvent::Phase {
        name: PHASE,
        total: first.0.count,
    });
    progress.event(ReadEvent::Items(first.0.value.len() as u64));
    if let Some(tx) = early_groups {
        let ids: BTreeSet<GroupId> = first
            .0
            .value
            .iter()
            .flat_map(|u| u.inherited_states().filter_map(|s| s.assigned_by_group))
            .collect();
        // The receiver is gone only when the group side failed; its error is reported.
        let _ = tx.send(ids.into_iter().collect());
    }
    let users = ranges::read_rest(client, base, first, pace, progress).await?;
    Ok((skus_domains, users))
}

/// One pager per SKU in `used`, in parallel, merged and de-duplicated.
async fn per_sku(
    client: &GraphClient,
    used: &[SkuCount],
    progress: &dyn ReadProgress,
) -> Result<Vec<User>, GraphError> {
    let pagers = used.iter().map(|sku| {
        let filter = format!("assignedLicenses/any(x:x/skuId eq {})", sku.sku_id);
        async move {
            let url = client.users_url(Some(&filter))?;
            let mut part = Vec::new();
            client
                .for_each_page(url, &[], |page: Vec<User>| {
                    progress.event(ReadEvent::Items(page.len() as u64));
                    part.extend(page);
                })
                .await?;
            Ok::<_, GraphError>(part)
        }
    });
    let parts: Vec<Vec<User>> = stream::iter(pagers)
        .buffer_unordered(used.len().max(1))
        .try_collect()
        .await?;
    let mut seen = HashSet::new();
    Ok(parts
        .into_iter()
        .flatten()
        .filter(|u| seen.insert(u.id))
        .collect())
}

fn quote(value: &str) -> String {
    format!("'{}'", value.replace('\'', "''"))
}

#[derive(Deserialize)]
struct ValuePage<T> {
    value: Vec<T>,
}

/// Looks users up by UPN: `in` filters of 15, twenty filters per `$batch`. UPNs that do
/// not exist are simply absent from the result (the planner reports them).
pub async fn users_by_upn(client: &GraphClient, upns: &[&str]) -> Result<Vec<User>, GraphError> {
    users_where_in(client, "userPrincipalName", upns).await
}

/// Looks users up by object id, the same way as [`users_by_upn`].
pub(crate) async fn users_by_id(
    client: &GraphClient,
    ids: &[UserId],
) -> Result<Vec<User>, GraphError> {
    let ids: Vec<String> = ids.iter().map(ToString::to_string).collect();
    let refs: Vec<&str> = ids.iter().map(String::as_str).collect();
    users_where_in(client, "id", &refs).await
}

/// Re-reads some principals (after writes): the subscribed SKUs (for seat counts), the
/// users `user_ids`, and the groups `group_ids` with their members and processing state.
pub(crate) async fn read_principals(
    client: &GraphClient,
    user_ids: &[UserId],
    group_ids: &[GroupId],
) -> Result<(Vec<crate::snapshot::SubscribedSku>, Vec<User>, Vec<Group>), GraphError> {
    let groups = async {
        let found = named_groups(client, &[], group_ids).await?;
        let mut read = with_members(client, found, client.limiter().max(), &NoProgress).await?;
        read.sort_by(|a, b| a.display_name.cmp(&b.display_name).then(a.id.cmp(&b.id)));
        Ok(read)
    };
    let (skus, users, groups) = futures::try_join!(
        client.subscribed_skus(),
        users_by_id(client, user_ids),
        groups,
    )?;
    Ok((skus, users, groups))
}

/// Looks users up by `field in (...)` filters of 15 values, twenty filters per `$batch`.
async fn users_where_in(
    client: &GraphClient,
    field: &str,
    values: &[&str],
) -> Result<Vec<User>, GraphError> {
    where_in(client, "users", USER_SELECT, field, values).await
}

/// Reads `collection` by `field in (...)` filters of 15 values, twenty filters per
/// `$batch` (300 values per HTTP request). Values that match nothing are absent.
async fn where_in<T: serde::de::DeserializeOwned>(
    client: &GraphClient,
    collection: &str,
    select: &str,
    field: &str,
    values: &[&str],
) -> Result<Vec<T>, GraphError> {
    let requests = in_filter_requests(collection, select, field, values, 0);
    fetch_filtered(client, &requests).await
}

/// `GET /{collection}` requests with `field in (...)` filters of at most
/// [`IN_FILTER_MAX`] `values` each, numbered from `first + 1`.
fn in_filter_requests(
    collection: &str,
    select: &str,
    field: &str,
    values: &[&str],
    first: usize,
) -> Vec<BatchRequest> {
    values
        .chunks(IN_FILTER_MAX)
        .enumerate()
        .map(|(i, chunk)| {
            let list: Vec<String> = chunk.iter().map(|u| quote(u)).collect();
            let filter = format!("{field} in ({})", list.join(","));
            let query = url::form_urlencoded::Serializer::new(String::new())
                .append_pair("$select", select)
                .append_pair("$top", &PAGE_SIZE.to_string())
                .append_pair("$filter", &filter)
                .finish();
            BatchRequest {
                id: (first + i + 1).to_string(),
                method: "GET".into(),
                url: format!("/{collection}?{query}"),
                headers: None,
                body: None,
            }
        })
        .collect()
}

/// Sends the GET `requests` as `$batch`es and collects the items of every answer; an
/// answer that still fails after the client's retries is the error.
async fn fetch_filtered<T: serde::de::DeserializeOwned>(
    client: &GraphClient,
    requests: &[BatchRequest],
) -> Result<Vec<T>, GraphError> {
    let answers = client.batch(requests).await?;
    let mut found = Vec::new();
    for (req, answer) in requests.iter().zip(answers) {
        if !answer.is_success() {
            return Err(GraphError::Api {
                method: "GET".into(),
                path: req.url.clone(),
                error: Box::new(answer.error()),
            });
        }
        let page: ValuePage<T> =
            serde_json::from_value(answer.body).map_err(|source| GraphError::Decode {
                method: "GET".into(),
                path: req.url.clone(),
                request_id: "batch item".into(),
                source,
            })?;
        found.extend(page.value);
    }
    Ok(found)
}

/// The groups named by `names` (by `displayName` or by `mailNickname`, as the planner
/// resolves them) and by `ids`, in one round: `displayName in (...)`, `mailNickname in
/// (...)` and `id in (...)` filters of at most 15 values
/// (https://learn.microsoft.com/en-us/graph/aad-advanced-queries, "in" operator limits; both
/// properties support `in` on groups:
/// https://learn.microsoft.com/en-us/graph/aad-advanced-queries#group-properties), twenty
/// filters per `$batch` (https://learn.microsoft.com/en-us/graph/json-batching). Every group
/// matching a name is returned, so the planner still tells a name that matches no group
/// from one that matches several.
async fn named_groups(
    client: &GraphClient,
    names: &[String],
    ids: &[GroupId],
) -> Result<Vec<Group>, GraphError> {
    let names: BTreeSet<&str> = names.iter().map(String::as_str).collect();
    let names: Vec<&str> = names.into_iter().collect();
    let ids: BTreeSet<String> = ids.iter().map(ToString::to_string).collect();
    let ids: Vec<&str> = ids.iter().map(String::as_str).collect();
    let mut requests = in_filter_requests("groups", GROUP_SELECT, "displayName", &names, 0);
    requests.extend(in_filter_requests(
        "groups",
        GROUP_SELECT,
        "mailNickname",
        &names,
        requests.len(),
    ));
    requests.extend(in_filter_requests(
        "groups",
        GROUP_SELECT,
        "id",
        &ids,
        requests.len(),
    ));
    let found: Vec<Group> = fetch_filtered(client, &requests).await?;
    let unique: BTreeMap<GroupId, Group> = found.into_iter().map(|g| (g.id, g)).collect();
    Ok(unique.into_values().collect())
}

/// Fills in the direct user members of `groups`, reading at most `slots` groups at once.
async fn with_members(
    client: &GraphClient,
    mut groups: Vec<Group>,
    slots: usize,
    progress: &dyn ReadProgress,
) -> Result<Vec<Group>, GraphError> {
    let members: Vec<(usize, Vec<String>)> =
        stream::iter(groups.iter().enumerate().map(|(i, g)| {
            let id = g.id.to_string();
            async move {
                let m = client.group_member_ids(&id).await?;
                progress.event(ReadEvent::Items(1));
                Ok::<_, GraphError>((i, m))
            }
        }))
        .buffer_unordered(slots.max(1))
        .try_collect()
        .await?;
    for (i, member_ids) in members {
        if let Some(g) = groups.get_mut(i) {
            let mut m: Vec<_> = member_ids.iter().filter_map(|s| s.parse().ok()).collect();
            m.sort();
            g.members = m;
        }
    }
    Ok(groups)
}

#[derive(Deserialize)]
struct Organization {
    #[serde(rename = "verifiedDomains", default)]
    verified_domains: Vec<VerifiedDomain>,
}

/// One of the tenant's verified domains (`organization.verifiedDomains`).
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
pub struct VerifiedDomain {
    /// The domain name.
    pub name: String,
    /// The `*.onmicrosoft.com` domain created with the tenant (never changes).
    #[serde(rename = "isInitial", default)]
    pub is_initial: bool,
    /// The default domain for new users.
    #[serde(rename = "isDefault", default)]
    pub is_default: bool,
}

/// The tenant's verified domains, from `GET /organization`.
pub async fn tenant_domains(client: &GraphClient) -> Result<Vec<VerifiedDomain>, GraphError> {
    let url = client.url("organization?$select=id,verifiedDomains")?;
    let orgs: Vec<Organization> = client.list_all(url, &[]).await?;
    Ok(orgs.into_iter().flat_map(|o| o.verified_domains).collect())
}

/// The tenant's verified domains, or `None` when the app may not read `/organization`
/// (403 `Authorization_RequestDenied`: it needs Organization.Read.All or Directory.*,
/// https://learn.microsoft.com/en-us/graph/api/organization-get#permissions).
pub async fn tenant_domains_if_allowed(
    client: &GraphClient,
) -> Result<Option<Vec<VerifiedDomain>>, GraphError> {
    match tenant_domains(client).await {
        Ok(domains) => Ok(Some(domains)),
        Err(GraphError::Api { error, .. })
            if error.status == 403
                || error.code == super::error::GraphErrorCode::AuthorizationRequestDenied =>
        {
            tracing::debug!(
                "no permission to read /organization; the tenant's domains stay unknown"
            );
            Ok(None)
        }
        Err(error) => Err(error),
    }
}

/// The domain a snapshot records: the initial domain, else the default, else the first.
pub(crate) fn primary_domain(domains: &[VerifiedDomain]) -> Option<String> {
    domains
        .iter()
        .find(|d| d.is_initial)
        .or_else(|| domains.iter().find(|d| d.is_default))
        .or_else(|| domains.first())
        .map(|d| d.name.clone())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn per_sku_rounds_are_the_longest_sku_or_the_pages_per_slot() {
        assert_eq!(per_sku_rounds(&[5, 1, 1], 8), 5);
        assert_eq!(per_sku_rounds(&[2; 10], 4), 5);
        assert_eq!(per_sku_rounds(&[], 8), 0);
    }
}
