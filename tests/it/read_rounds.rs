//! Issue 17: what a live read costs in requests. A live `plan` reads what `snapshot`
//! reads plus what the config's groups need: every group the config names is looked up in
//! one `$batch` of `displayName in (...)` / `mailNickname in (...)` filters (not one request
//! per name and property), and a name matching several groups brings back all of them, so
//! the planner still reports it as ambiguous. Counted by the client against the emulator.

use graph_emulator::EmulatorOptions;
use graph_emulator::auth::{DEFAULT_CLIENT_ID, DEFAULT_CLIENT_SECRET};
use graph_emulator::generate::{GenerateOptions, generate};
use licensectl::graph::{
    ClientStats, LicensedUsersStrategy, NoProgress, PAGE_SIZE, ReadScope, RetryPolicy, RulesRead,
    read_tenant,
};
use licensectl::ids::GroupId;
use licensectl::snapshot::TenantSnapshot;

use crate::util::{Emulated, graph_client};

/// The generated tenant of these tests, served by the emulator.
async fn served(users: usize) -> (TenantSnapshot, Emulated) {
    let tenant = generate(&GenerateOptions {
        users,
        groups: 20,
        seed: 17,
        ..GenerateOptions::default()
    })
    .expect("generates");
    let emulated = Emulated::serve(tenant.clone(), EmulatorOptions::default()).await;
    (tenant, emulated)
}

/// HTTP requests and `$batch` items one read of `tenant` with `scope` sends, and the read.
async fn read_counting(emulated: &Emulated, scope: &ReadScope) -> (u64, u64, TenantSnapshot) {
    let client = graph_client(
        &emulated.running.url,
        &emulated.tid,
        DEFAULT_CLIENT_ID,
        DEFAULT_CLIENT_SECRET,
        RetryPolicy::default(),
        8,
    );
    let read = read_tenant(
        &client,
        emulated.tid.parse().expect("tenant id"),
        scope,
        &NoProgress,
    )
    .await
    .expect("reads");
    let s = client.stats();
    (
        ClientStats::get(&s.requests),
        ClientStats::get(&s.batch_items),
        read,
    )
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn issue17_a_live_plan_looks_up_every_named_group_in_one_batch() {
    let mut tenant = generate(&GenerateOptions {
        users: 3_000,
        groups: 20,
        seed: 17,
        ..GenerateOptions::default()
    })
    .expect("generates");
    // A second group with the first one's displayName, assigning no license and without
    // members: only a lookup by name finds it.
    let mut twin = tenant.groups[0].clone();
    twin.id = "b1700000-0000-4000-8000-000000000017"
        .parse()
        .expect("group id");
    twin.mail_nickname = Some("twin-of-the-first".into());
    twin.assigned_licenses.clear();
    twin.members.clear();
    let ambiguous = twin.display_name.clone();
    tenant.groups.push(twin.clone());
    let emulated = Emulated::serve(tenant.clone(), EmulatorOptions::default()).await;

    let (snapshot_requests, snapshot_items, snapshot) =
        read_counting(&emulated, &ReadScope::default()).await;
    assert!(
        snapshot.groups.len() >= 15,
        "the generated licensing groups are read: {}",
        snapshot.groups.len()
    );
    // The config names every group: most by displayName, the rest by mailNickname, plus a
    // name no group has (the planner reports it; the read just finds nothing).
    let mut names: Vec<String> = tenant
        .groups
        .iter()
        .enumerate()
        .map(|(i, g)| match (&g.mail_nickname, i % 4) {
            (Some(nick), 0) => nick.clone(),
            _ => g.display_name.clone(),
        })
        .collect();
    names.push("no-such-group".into());
    let scope = ReadScope {
        managed_group_names: names.clone(),
        ..ReadScope::default()
    };
    let (plan_requests, plan_items, plan) = read_counting(&emulated, &scope).await;

    // The snapshot's `$batch` of `id in (...)` is replaced by one `$batch` of name filters
    // (the groups found by name are not looked up again), and the twin's members are read.
    assert_eq!(
        plan_requests,
        snapshot_requests + 1,
        "one $batch for {} names and one member page for the group only the config names",
        names.len()
    );
    let chunks = names.len().div_ceil(15) as u64;
    assert_eq!(
        plan_items - snapshot_items,
        2 * chunks - snapshot.groups.len().div_ceil(15) as u64,
        "one displayName and one mailNickname filter per 15 names"
    );
    let ids = |t: &TenantSnapshot| -> Vec<GroupId> { t.groups.iter().map(|g| g.id).collect() };
    let mut want = ids(&snapshot);
    want.push(twin.id);
    want.sort();
    let mut got = ids(&plan);
    got.sort();
    assert_eq!(got, want, "every licensing group, and the twin");
    let same_name = plan
        .groups
        .iter()
        .filter(|g| g.display_name.eq_ignore_ascii_case(&ambiguous))
        .count();
    assert_eq!(same_name, 2, "both groups named {ambiguous} are read");
    for g in &snapshot.groups {
        let read = plan.groups.iter().find(|p| p.id == g.id).expect("read");
        assert_eq!(read.members, g.members, "members of {}", g.display_name);
    }
    assert_eq!(plan.users.len(), snapshot.users.len());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn issue17_rules_over_every_user_read_the_users_once() {
    let (tenant, emulated) = served(3_000).await;
    let scope = ReadScope {
        strategy: LicensedUsersStrategy::Sequential,
        ..ReadScope::default()
    };
    let (snapshot_requests, _, snapshot) = read_counting(&emulated, &scope).await;
    let rules = ReadScope {
        rules: Some(RulesRead {
            attributes: vec!["department"],
            filter: None,
            all_groups: false,
        }),
        ..scope
    };
    let (rules_requests, _, read) = read_counting(&emulated, &rules).await;
    let pages = |n: usize| n.div_ceil(PAGE_SIZE as usize) as u64;
    let licensed = tenant
        .users
        .iter()
        .filter(|u| !u.assigned_licenses.is_empty())
        .count();
    assert!(licensed < tenant.users.len(), "some users hold no license");
    assert_eq!(read.users.len(), tenant.users.len(), "every user is read");
    assert_eq!(
        rules_requests,
        snapshot_requests - pages(licensed) + pages(tenant.users.len()),
        "the pages of every user take the place of the licensed users' pages"
    );
    for u in &snapshot.users {
        let same = read.users.iter().find(|r| r.id == u.id).expect("read");
        assert_eq!(
            same.assigned_licenses, u.assigned_licenses,
            "{}",
            u.user_principal_name
        );
    }
    let departments = read
        .users
        .iter()
        .filter(|r| r.attributes.department.is_some())
        .count();
    assert!(departments > 0, "the rules' attribute is read");
    for r in &read.users {
        let t = tenant
            .users
            .iter()
            .find(|t| t.id == r.id)
            .expect("in the tenant");
        assert_eq!(
            r.attributes.department, t.attributes.department,
            "{}",
            r.user_principal_name
        );
    }
    let groups = |t: &TenantSnapshot| -> Vec<GroupId> { t.groups.iter().map(|g| g.id).collect() };
    assert_eq!(
        groups(&read),
        groups(&snapshot),
        "the same licensing groups"
    );
}

/// The licensed users' ids of a read (or of a tenant).
fn licensed_ids(read: &TenantSnapshot) -> std::collections::BTreeSet<licensectl::ids::UserId> {
    read.users
        .iter()
        .filter(|u| !u.assigned_licenses.is_empty())
        .map(|u| u.id)
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn issue17_upn_ranges_read_every_licensed_user_in_about_the_fewest_requests() {
    let mut tenant = generate(&GenerateOptions {
        users: 30_000,
        groups: 20,
        seed: 17,
        directory_attributes: false,
        ..GenerateOptions::default()
    })
    .expect("generates");
    // UPNs that are hard to cut evenly: a third share a long prefix in capitals, a
    // third start with an apostrophe's name, the rest are the generator's.
    for (i, u) in tenant.users.iter_mut().enumerate() {
        match i % 3 {
            0 => u.user_principal_name = format!("EMPLOYEE.ACCOUNT.{i:06}@contoso.com"),
            1 => u.user_principal_name = format!("o'{}", u.user_principal_name),
            _ => {}
        }
    }
    let emulated = Emulated::serve(tenant.clone(), EmulatorOptions::default()).await;
    let want = licensed_ids(&tenant);
    let scope = |strategy| ReadScope {
        strategy,
        ..ReadScope::default()
    };
    let (sequential, _, read) =
        read_counting(&emulated, &scope(LicensedUsersStrategy::Sequential)).await;
    assert_eq!(licensed_ids(&read), want);
    let mut ranges_requests = Vec::new();
    for strategy in [
        LicensedUsersStrategy::Ranges,
        LicensedUsersStrategy::Ranges,
        LicensedUsersStrategy::Auto,
    ] {
        let (requests, _, read) = read_counting(&emulated, &scope(strategy)).await;
        assert_eq!(
            licensed_ids(&read),
            want,
            "{strategy:?}: every licensed user"
        );
        let mut ids: Vec<_> = read.users.iter().map(|u| u.id).collect();
        let n = ids.len();
        ids.dedup();
        assert_eq!(ids.len(), n, "{strategy:?}: each user once");
        // Each range may end with a partial page: at most one more request per range.
        assert!(
            requests <= sequential + 16,
            "{strategy:?}: {requests} requests against {sequential} one after another"
        );
        ranges_requests.push(requests);
    }
    assert!(
        ranges_requests.windows(2).all(|w| w[0] == w[1]),
        "the cuts follow the counts, not timing: {ranges_requests:?}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn issue17_a_graph_refusing_or_ignoring_upn_order_or_ranges_is_read_one_page_after_another() {
    let tenant = generate(&GenerateOptions {
        users: 6_000,
        groups: 4,
        seed: 17,
        directory_attributes: false,
        ..GenerateOptions::default()
    })
    .expect("generates");
    let want = licensed_ids(&tenant);
    use graph_emulator::RangeFilters;
    for (upn_order, string_ranges) in [
        (false, RangeFilters::Applied),
        (true, RangeFilters::Refused),
        (true, RangeFilters::Ignored),
    ] {
        let emulated = Emulated::serve(
            tenant.clone(),
            EmulatorOptions {
                upn_order,
                string_ranges,
                ..EmulatorOptions::default()
            },
        )
        .await;
        for strategy in [LicensedUsersStrategy::Auto, LicensedUsersStrategy::Ranges] {
            let scope = ReadScope {
                strategy,
                ..ReadScope::default()
            };
            let (requests, _, read) = read_counting(&emulated, &scope).await;
            assert_eq!(
                licensed_ids(&read),
                want,
                "{strategy:?}, sorting {upn_order}, ge/le {string_ranges:?}: every licensed user"
            );
            // Ignored filters are noticed at the first ranges' counts: at most one round
            // of ranges (8) more than the pages of one sequential read and the ends.
            let pages = (want.len() as u64).div_ceil(u64::from(PAGE_SIZE));
            assert!(
                requests <= 2 * pages + 8 + 16,
                "{strategy:?}, ge/le {string_ranges:?}: {requests} requests for {pages} pages"
            );
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn issue17_rules_over_every_user_read_them_in_upn_ranges_with_their_attributes() {
    let (tenant, emulated) = served(12_000).await;
    let rules = |strategy| ReadScope {
        strategy,
        rules: Some(RulesRead {
            attributes: vec!["department"],
            filter: None,
            all_groups: false,
        }),
        ..ReadScope::default()
    };
    let (sequential, _, one_by_one) =
        read_counting(&emulated, &rules(LicensedUsersStrategy::Sequential)).await;
    let (ranged, _, read) = read_counting(&emulated, &rules(LicensedUsersStrategy::Auto)).await;
    assert_eq!(read.users.len(), tenant.users.len(), "every user is read");
    assert_eq!(
        read.users, one_by_one.users,
        "the same users, attributes and licenses"
    );
    assert_eq!(read.groups, one_by_one.groups, "the same licensing groups");
    // Each range may end with a partial page: at most one more request per range.
    assert!(
        ranged <= sequential + 16,
        "{ranged} requests in ranges against {sequential} one page after another"
    );
}
