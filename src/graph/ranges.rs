//! Reads users (every licensed one, or every one a filter admits) as ranges of user
//! principal names, side by side: the fewest requests (each user is read about once,
//! unlike one pager per SKU) in about as many rounds as there are pages divided by the
//! requests allowed in flight.
//!
//! Graph sorts by `userPrincipalName` and filters it with `ge`/`le` (advanced query:
//! `ConsistencyLevel: eventual` with `$count=true`,
//! <https://learn.microsoft.com/en-us/graph/aad-advanced-queries>). The read starts with
//! the lowest and the highest UPNs (one page each way), cuts the UPNs between them into
//! one range per request in flight, and, after each range's first page gives its count,
//! cuts again where it was read up to a range with more pages left than its share.
//! Graph applies the range filters, so the ranges cover
//! every user whatever its collation; boundaries are interpolated in our own order and
//! only their balance depends on it. Two checks keep the read complete: pages must come
//! in UPN order (else no range is cut again: each is read to its end), and the users read
//! must number at least the first page's `@odata.count` (else everything is read again,
//! one page after another). A range whose `@odata.count` is every user of the read means
//! Graph ignored the range filter: everything is read one page after another. A Graph
//! that refuses the order or a range filter (400) is read one page after another as
//! well (the caller, `read.rs`, falls back).
//!
//! This module reads; it must not plan, print or decide anything but how to page.

use std::collections::HashSet;
use std::sync::PoisonError;

use reqwest::Url;

use crate::ids::UserId;
use crate::snapshot::User;

use super::client::{GraphClient, PAGE_SIZE, Page, Paging, USER_SELECT};
use super::error::{GraphError, GraphErrorCode};
use super::read::{ReadEvent, ReadProgress};

/// The filter on every licensed user.
pub(crate) const LICENSED: &str = "assignedLicenses/$count ne 0";

/// The users a read goes through: those `filter` admits (every user when `None`), with
/// the properties `select` names.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Base<'a> {
    pub filter: Option<&'a str>,
    pub select: &'a str,
}

impl Base<'_> {
    /// Every licensed user, with licensectl's `$select`.
    pub(crate) fn licensed() -> Base<'static> {
        Base {
            filter: Some(LICENSED),
            select: USER_SELECT,
        }
    }

    /// The first page URL of the users in `range`, with `@odata.count` (an advanced
    /// query), in UPN order when `order` is given (descending when `Some(true)`).
    pub(crate) fn url(
        &self,
        client: &GraphClient,
        range: &UpnRange,
        order: Option<bool>,
    ) -> Result<Url, GraphError> {
        let mut url = client.url("users")?;
        {
            let mut q = url.query_pairs_mut();
            q.append_pair("$select", self.select);
            q.append_pair("$top", &PAGE_SIZE.to_string());
            if let Some(f) = range.filter(self.filter) {
                q.append_pair("$filter", &f);
            }
            q.append_pair("$count", "true");
            if let Some(descending) = order {
                q.append_pair(
                    "$orderby",
                    if descending {
                        "userPrincipalName desc"
                    } else {
                        "userPrincipalName"
                    },
                );
            }
        }
        Ok(url)
    }
}

/// The header of an advanced query.
const EVENTUAL: [(&str, &str); 1] = [("ConsistencyLevel", "eventual")];

/// UPNs from `lo` to `hi`, both included (lowercase; `None`: unbounded).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub(crate) struct UpnRange {
    pub lo: Option<String>,
    pub hi: Option<String>,
}

impl UpnRange {
    /// `base` (a `$filter`, or none) narrowed to the range.
    fn filter(&self, base: Option<&str>) -> Option<String> {
        let mut clauses: Vec<String> = base.map(str::to_owned).into_iter().collect();
        if let Some(lo) = &self.lo {
            clauses.push(format!("userPrincipalName ge {}", quote(lo)));
        }
        if let Some(hi) = &self.hi {
            clauses.push(format!("userPrincipalName le {}", quote(hi)));
        }
        (!clauses.is_empty()).then(|| clauses.join(" and "))
    }

    /// Whether `key` (a lowercased UPN) is in the range, in our order.
    fn contains(&self, key: &str) -> bool {
        self.lo.as_deref().is_none_or(|lo| key >= lo)
            && self.hi.as_deref().is_none_or(|hi| key <= hi)
    }
}

fn quote(value: &str) -> String {
    format!("'{}'", value.replace('\'', "''"))
}

fn key(u: &User) -> String {
    u.user_principal_name.to_lowercase()
}

/// Positions compared after the common prefix (a product of eight radices of at most
/// a few dozen stays exact in an f64).
const DIGITS: usize = 8;

/// The characters a position may hold, sorted: those of `seen`, with every letter when
/// one is a letter and every digit when one is a digit (a sample rarely shows them all).
fn alphabet(seen: impl Iterator<Item = char>) -> Vec<char> {
    let mut out: Vec<char> = Vec::new();
    for c in seen {
        if c.is_ascii_lowercase() {
            out.extend('a'..='z');
        } else if c.is_ascii_digit() {
            out.extend('0'..='9');
        } else {
            out.push(c);
        }
    }
    out.sort_unstable();
    out.dedup();
    out
}

/// Mixed-radix digits after the common prefix: position `j` holds the rank of its
/// character in `alphabets[j]` (the end of the string counts as the first character).
struct Radix {
    alphabets: Vec<Vec<char>>,
}

impl Radix {
    fn radix(&self, j: usize) -> f64 {
        self.alphabets[j].len().max(1) as f64
    }

    /// `tail` (the string after the prefix) as a fraction in [0, 1).
    fn value(&self, tail: &str) -> f64 {
        let mut chars = tail.chars();
        let (mut value, mut scale) = (0.0, 1.0);
        for j in 0..DIGITS {
            scale /= self.radix(j);
            let Some(c) = chars.next() else {
                break;
            };
            // The rank of the last character of the alphabet at or below `c`.
            let rank = self.alphabets[j]
                .partition_point(|a| *a <= c)
                .saturating_sub(1);
            value += rank as f64 * scale;
        }
        value
    }

    /// The string of fraction `x`, after the prefix.
    fn text(&self, mut x: f64) -> String {
        let mut out = String::new();
        for j in 0..DIGITS {
            let Some(last) = self.alphabets[j].len().checked_sub(1) else {
                break;
            };
            x *= self.radix(j);
            let d = (x.floor().max(0.0) as usize).min(last);
            x -= d as f64;
            out.push(self.alphabets[j][d]);
        }
        out
    }
}

/// Up to `parts - 1` boundaries strictly between `lo` and `hi` (lowercased UPNs,
/// `lo < hi`), ascending and distinct, that cut the strings between them into `parts`
/// about equal spans, counting after their common prefix in the characters each position
/// holds in `sample` (UPNs read so far) and in the two ends. Fewer when the two are too
/// close to cut.
pub(crate) fn boundaries(lo: &str, hi: &str, parts: usize, sample: &[String]) -> Vec<String> {
    if parts < 2 || lo >= hi {
        return Vec::new();
    }
    let prefix: String = lo
        .chars()
        .zip(hi.chars())
        .take_while(|(a, b)| a == b)
        .map(|(a, _)| a)
        .collect();
    let tail = |s: &str| s[prefix.len()..].to_owned();
    let (lo_tail, hi_tail) = (tail(lo), tail(hi));
    let nearby: Vec<&str> = sample
        .iter()
        .filter_map(|s| s.strip_prefix(prefix.as_str()))
        .collect();
    let alphabets = (0..DIGITS)
        .map(|j| {
            alphabet(
                [lo_tail.as_str(), hi_tail.as_str()]
                    .into_iter()
                    .chain(nearby.iter().copied())
                    .filter_map(|s| s.chars().nth(j)),
            )
        })
        .collect();
    let radix = Radix { alphabets };
    let (from, to) = (radix.value(&lo_tail), radix.value(&hi_tail));
    let mut out: Vec<String> = Vec::with_capacity(parts - 1);
    for k in 1..parts {
        let x = from + (to - from) * k as f64 / parts as f64;
        let s = format!("{prefix}{}", radix.text(x));
        if s.as_str() > lo && s.as_str() < hi && out.last().is_none_or(|last| *last < s) {
            out.push(s);
        }
    }
    out
}

/// One range being read.
struct Chain {
    range: UpnRange,
    paging: Paging,
    /// `@odata.count` of the range.
    count: Option<u64>,
    read: u64,
    /// The last UPN read (lowercased).
    last: Option<String>,
}

impl Chain {
    fn new(range: UpnRange, url: &Url) -> Self {
        Self {
            range,
            paging: Paging::new(url),
            count: None,
            read: 0,
            last: None,
        }
    }

    /// Pages of the range not read yet, by its count.
    fn pages_left(&self) -> u64 {
        self.count.map_or(0, |c| {
            c.saturating_sub(self.read).div_ceil(u64::from(PAGE_SIZE))
        })
    }
}

/// Whether `page` is in UPN order (descending when `descending`) inside `range`.
fn in_order(page: &[User], range: &UpnRange, descending: bool) -> bool {
    let keys: Vec<String> = page.iter().map(key).collect();
    keys.iter().all(|k| range.contains(k))
        && keys.windows(2).all(|w| {
            if descending {
                w[0] >= w[1]
            } else {
                w[0] <= w[1]
            }
        })
}

/// Every user of `base`, read in ranges. `first` is the first page of [`Base::url`] over
/// every UPN, ascending (the caller may have read it beside other reads), `first_url` its
/// URL.
async fn in_ranges(
    client: &GraphClient,
    base: Base<'_>,
    first: Page<User>,
    first_url: &Url,
    progress: &dyn ReadProgress,
) -> Result<Vec<User>, GraphError> {
    let slots = client.limiter().max().max(1);
    let total = first.count;
    let whole = UpnRange::default();
    let mut ascending = Chain::new(whole.clone(), first_url);
    let ordered = in_order(&first.value, &whole, false);
    let next = record(&mut ascending, &first)?;
    // Room for every user the count announces, so that the list is not regrown and
    // copied while half a million users come in; Graph's count is not trusted beyond a
    // million (the list grows past that as users really arrive).
    let mut read = Read::with_capacity(total.unwrap_or(0).min(RESERVE_MAX));
    read.sample.extend(first.value.iter().map(key));
    read.add(first.value, None);
    let Some(next) = next else {
        return Ok(read.users);
    };
    if !ordered || slots < 2 {
        return sequential_rest(client, ascending, next, read, progress).await;
    }

    // Round 1: the ascending pager's second page beside the first descending page.
    let desc_url = base.url(client, &whole, Some(true))?;
    let (second, top) = futures::try_join!(
        client.get_json::<Page<User>>(next.clone(), &EVENTUAL),
        client.get_json::<Page<User>>(desc_url.clone(), &EVENTUAL)
    )?;
    let mut descending = Chain::new(whole.clone(), &desc_url);
    let ordered = in_order(&second.value, &whole, false) && in_order(&top.value, &whole, true);
    read.sample
        .extend(second.value.iter().chain(&top.value).map(key));
    let after_second = record(&mut ascending, &second)?;
    let top_more = record(&mut descending, &top)?;
    read.add(second.value, Some(progress));
    let lowest_of_top = top.value.last().map(key);
    read.add(top.value, Some(progress));
    let (Some(after_second), Some(_)) = (after_second, top_more) else {
        // One of the two pagers reached its end: together they read every user.
        return complete(client, base, read, total, progress).await;
    };
    let (Some(lo), Some(hi)) = (ascending.last.clone(), lowest_of_top) else {
        return complete(client, base, read, total, progress).await;
    };
    if !ordered {
        return sequential_rest(client, ascending, after_second, read, progress).await;
    }
    if lo >= hi {
        // The two ends met.
        return complete(client, base, read, total, progress).await;
    }

    // The UPNs between the two ends: one range per request in flight. Then level by
    // level every range reads one page (a new one its first, with its count), and a
    // range with more pages left than its share of the rest is cut where it was read up
    // to. The cuts follow from the counts alone, not from timing: the same tenant is read
    // with the same requests.
    let start = UpnRange {
        lo: Some(lo),
        hi: Some(hi),
    };
    let mut work: Vec<Work> = cut(&start, &start, slots, &read.sample)
        .into_iter()
        .map(Work::New)
        .collect();
    let mut open: Vec<(Chain, Url)> = Vec::new();
    let mut ordered = true;
    for level in 0..LEVELS {
        let fetched = futures::future::try_join_all(work.into_iter().map(|w| async move {
            let (chain, url) = match w {
                Work::New(range) => {
                    let url = base.url(client, &range, Some(false))?;
                    (Chain::new(range, &url), url)
                }
                Work::Next(chain, url) => (*chain, url),
            };
            let page = client.get_json::<Page<User>>(url, &EVENTUAL).await?;
            Ok::<_, GraphError>((chain, page))
        }))
        .await?;
        for (mut chain, page) in fetched {
            // A range between the two ends holds fewer users than all of them: a count of
            // every user of the read means Graph did not apply the range filter, and every
            // range would read the whole tenant.
            if chain.count.is_none()
                && let (Some(count), Some(total)) = (page.count, total)
                && total > 0
                && count >= total
            {
                tracing::warn!(
                    count,
                    total,
                    "a range of UPNs counts every user of the read (Graph ignored the range filter): reading them one page after another"
                );
                return read_again(client, base, Some(total), progress).await;
            }
            ordered = ordered && in_order(&page.value, &chain.range, false);
            read.sample.extend(page.value.iter().map(key));
            let next = record(&mut chain, &page)?;
            read.add(page.value, Some(progress));
            if let Some(next) = next {
                open.push((chain, next));
            }
        }
        if !ordered || level + 1 == LEVELS || open.is_empty() {
            break;
        }
        let left: Vec<u64> = open.iter().map(|(c, _)| c.pages_left()).collect();
        let share = left.iter().sum::<u64>().div_ceil(slots as u64).max(1);
        work = Vec::with_capacity(open.len());
        let mut cuts = 0;
        for ((chain, next), pages) in std::mem::take(&mut open).into_iter().zip(left) {
            let pieces = match &chain.last {
                Some(last) if pages >= 2 && pages > share => {
                    let rest = UpnRange {
                        lo: Some(last.clone()),
                        hi: chain.range.hi.clone(),
                    };
                    cut(
                        &rest,
                        &chain.range,
                        pages.div_ceil(share) as usize,
                        &read.sample,
                    )
                }
                _ => Vec::new(),
            };
            if pieces.len() > 1 {
                // The range's nextLink is dropped: the pieces cover what it had left.
                cuts += 1;
                work.extend(pieces.into_iter().map(Work::New));
            } else {
                work.push(Work::Next(Box::new(chain), next));
            }
        }
        if cuts == 0 {
            open = work
                .into_iter()
                .filter_map(|w| match w {
                    Work::Next(chain, next) => Some((*chain, next)),
                    Work::New(_) => None,
                })
                .collect();
            break;
        }
    }

    // Every range to its end, side by side, each page added as it comes (the lock is
    // never held across a request).
    let shared = std::sync::Mutex::new(read);
    futures::future::try_join_all(open.into_iter().map(|(chain, next)| {
        let shared = &shared;
        async move {
            client
                .continue_pages(Some(next), chain.paging, &EVENTUAL, |page: Vec<User>| {
                    // A poisoned lock means a panic while adding a page, which ends
                    // the read anyway; the users added so far stand.
                    let mut read = shared.lock().unwrap_or_else(PoisonError::into_inner);
                    read.add(page, Some(progress));
                })
                .await
        }
    }))
    .await?;
    let read = shared.into_inner().unwrap_or_else(PoisonError::into_inner);
    complete(client, base, read, total, progress).await
}

/// Users room is made for from `@odata.count` at most.
const RESERVE_MAX: u64 = 1 << 20;

/// Levels of cutting: the first cut between the two ends, and two more.
const LEVELS: usize = 3;

/// The next page to read of a range: the first of a new one, or the next of one read.
enum Work {
    New(UpnRange),
    Next(Box<Chain>, Url),
}

/// `rest` (inside `within`) cut into up to `parts` ranges; the outer bounds are
/// `within`'s where `rest` has none.
fn cut(rest: &UpnRange, within: &UpnRange, parts: usize, sample: &[String]) -> Vec<UpnRange> {
    let (Some(lo), Some(hi)) = (
        rest.lo.as_deref(),
        rest.hi.as_deref().or(within.hi.as_deref()),
    ) else {
        return vec![rest.clone()];
    };
    let points = boundaries(lo, hi, parts, sample);
    let mut out = Vec::with_capacity(points.len() + 1);
    let mut from = rest.lo.clone();
    for p in points {
        out.push(UpnRange {
            lo: from,
            hi: Some(p.clone()),
        });
        from = Some(p);
    }
    out.push(UpnRange {
        lo: from,
        hi: rest.hi.clone(),
    });
    out
}

/// Records `page` of `chain`: its count, what was read up to, and the next page's URL.
fn record(chain: &mut Chain, page: &Page<User>) -> Result<Option<Url>, GraphError> {
    if chain.count.is_none() {
        chain.count = page.count;
    }
    chain.read += page.value.len() as u64;
    if let Some(u) = page.value.last() {
        chain.last = Some(key(u));
    }
    chain
        .paging
        .page(page.value.len(), page.count, page.next_link.as_deref())
}

/// The users read so far, each once (ranges meet at their boundaries, and the two ends'
/// first pages may overlap the ranges' first pages).
#[derive(Default)]
struct Read {
    users: Vec<User>,
    seen: HashSet<UserId>,
    /// The UPNs (lowercased) of the pages read before the last cut: what the cuts
    /// learn each position's characters from.
    sample: Vec<String>,
}

impl Read {
    /// Room for `users` users.
    fn with_capacity(users: u64) -> Self {
        let n = usize::try_from(users).unwrap_or(0);
        Self {
            users: Vec::with_capacity(n),
            seen: HashSet::with_capacity(n),
            sample: Vec::new(),
        }
    }

    /// Adds the users of `page` not read yet, reported to `progress`.
    fn add(&mut self, page: Vec<User>, progress: Option<&dyn ReadProgress>) {
        let before = self.users.len();
        for u in page {
            if self.seen.insert(u.id) {
                self.users.push(u);
            }
        }
        if let Some(progress) = progress {
            progress.event(ReadEvent::Items((self.users.len() - before) as u64));
        }
    }
}

/// The rest of `chain` one page after another, after what was `read`.
async fn sequential_rest(
    client: &GraphClient,
    chain: Chain,
    next: Url,
    mut read: Read,
    progress: &dyn ReadProgress,
) -> Result<Vec<User>, GraphError> {
    tracing::debug!("reading the rest of the licensed users one page after another");
    client
        .continue_pages(Some(next), chain.paging, &EVENTUAL, |page: Vec<User>| {
            read.add(page, Some(progress));
        })
        .await?;
    Ok(read.users)
}

/// The users `read` when they number at least `total`; otherwise every user of `base`
/// read again, one page after another (the ranges missed some).
async fn complete(
    client: &GraphClient,
    base: Base<'_>,
    read: Read,
    total: Option<u64>,
    progress: &dyn ReadProgress,
) -> Result<Vec<User>, GraphError> {
    let distinct = read.users.len() as u64;
    let Some(total) = total else {
        return Ok(read.users);
    };
    if distinct >= total {
        return Ok(read.users);
    }
    tracing::warn!(
        read = distinct,
        count = total,
        "the UPN ranges read fewer licensed users than @odata.count: reading them again one page after another"
    );
    read_again(client, base, Some(total), progress).await
}

/// How [`read`] goes on after the first page.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Pace {
    /// One page after another.
    Sequential,
    /// In ranges when at least [`super::read::RANGES_MIN_PAGES`] pages are left.
    Auto,
    /// In ranges.
    Ranges,
}

/// The first page of `base`: in UPN order unless `pace` is sequential, asked again
/// unordered when Graph refuses the order (with a warning). Its URL and whether it is
/// ordered come with it.
pub(crate) async fn first_page(
    client: &GraphClient,
    base: Base<'_>,
    pace: Pace,
) -> Result<(Page<User>, Url, bool), GraphError> {
    let ordered = pace != Pace::Sequential;
    let url = base.url(client, &UpnRange::default(), ordered.then_some(false))?;
    match client.get_json::<Page<User>>(url.clone(), &EVENTUAL).await {
        Err(e) if ordered && refused(&e) => {
            tracing::warn!(
                error = %e,
                "Graph refused the users in UPN order: reading them one page after another"
            );
            let url = base.url(client, &UpnRange::default(), None)?;
            let page = client
                .get_json::<Page<User>>(url.clone(), &EVENTUAL)
                .await?;
            Ok((page, url, false))
        }
        answer => answer.map(|page| (page, url, ordered)),
    }
}

/// Every user of `base` after its `first` page (from [`first_page`], at `url`,
/// `ordered` or not; already reported to `progress`): in ranges as `pace` says when the
/// page is ordered and more pages follow, else one page after another. A range Graph
/// refuses reads everything again one page after another (with a warning).
pub(crate) async fn read_rest(
    client: &GraphClient,
    base: Base<'_>,
    (first, url, ordered): (Page<User>, Url, bool),
    pace: Pace,
    progress: &dyn ReadProgress,
) -> Result<Vec<User>, GraphError> {
    let pages_left = first.count.map(|c| {
        c.saturating_sub(first.value.len() as u64)
            .div_ceil(u64::from(PAGE_SIZE))
    });
    let ranged = match pace {
        Pace::Ranges => true,
        Pace::Auto => pages_left.is_some_and(|p| p >= super::read::RANGES_MIN_PAGES),
        Pace::Sequential => false,
    };
    if ordered && ranged && first.next_link.is_some() {
        tracing::debug!(count = first.count, "reading users in UPN ranges");
        let total = first.count;
        return match in_ranges(client, base, first, &url, progress).await {
            Err(e) if refused(&e) => {
                tracing::warn!(
                    error = %e,
                    "Graph refused a range of UPNs: reading the users again one page after another"
                );
                read_again(client, base, total, progress).await
            }
            read => read,
        };
    }
    let mut paging = Paging::new(&url);
    let next = paging.page(first.value.len(), first.count, first.next_link.as_deref())?;
    let mut all = first.value;
    client
        .continue_pages(next, paging, &EVENTUAL, |page: Vec<User>| {
            progress.event(ReadEvent::Items(page.len() as u64));
            all.extend(page);
        })
        .await?;
    Ok(all)
}

/// Every user of `base`, as [`first_page`] and [`read_rest`] read them.
pub(crate) async fn read(
    client: &GraphClient,
    base: Base<'_>,
    pace: Pace,
    progress: &dyn ReadProgress,
) -> Result<Vec<User>, GraphError> {
    let first = first_page(client, base, pace).await?;
    progress.event(ReadEvent::Items(first.0.value.len() as u64));
    read_rest(client, base, first, pace, progress).await
}

/// Whether Graph refused a query as such (400 `Request_UnsupportedQuery` or
/// `Request_BadRequest`): a Graph that does not sort or compare UPNs as documented.
pub(crate) fn refused(e: &GraphError) -> bool {
    matches!(e, GraphError::Api { error, .. }
        if error.status == 400
            && matches!(error.code, GraphErrorCode::UnsupportedQuery | GraphErrorCode::BadRequest))
}

/// Every user of `base`, one page after another, reported as a phase of its own
/// (`total`: the count known so far).
async fn read_again(
    client: &GraphClient,
    base: Base<'_>,
    total: Option<u64>,
    progress: &dyn ReadProgress,
) -> Result<Vec<User>, GraphError> {
    let url = base.url(client, &UpnRange::default(), None)?;
    let mut all = Vec::new();
    progress.event(ReadEvent::Phase {
        name: "users (again, one page after another)",
        total,
    });
    client
        .for_each_page(url, &EVENTUAL, |page: Vec<User>| {
            progress.event(ReadEvent::Items(page.len() as u64));
            all.extend(page);
        })
        .await?;
    Ok(all)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn boundaries_lie_strictly_between_in_order() {
        let cases: &[(&str, &str)] = &[
            ("user001998@contoso.com", "user099001@contoso.com"),
            ("aaron.smith@contoso.com", "zoe.young@contoso.com"),
            ("a", "b"),
            ("a", "a0"),
            ("abc", "abd"),
            ("", "~"),
            ("x@y", "x@y\u{e9}"),
            ("\u{e9}a", "\u{e9}b"),
            ("zz~~~~~~~~~~", "zz~~~~~~~~~~~"),
        ];
        for (lo, hi) in cases {
            for parts in 2..=9 {
                let b = boundaries(lo, hi, parts, &[]);
                assert!(b.len() < parts, "{lo}..{hi} in {parts}: {b:?}");
                let mut prev = lo.to_string();
                for p in &b {
                    assert!(*p > prev, "{lo}..{hi} in {parts}: {b:?}");
                    prev = p.clone();
                }
                assert!(prev.as_str() < *hi || b.is_empty(), "{lo}..{hi}: {b:?}");
            }
        }
    }

    #[test]
    fn boundaries_cut_numbered_upns_evenly() {
        let b = boundaries("user000000@contoso.com", "user100000@contoso.com", 4, &[]);
        assert_eq!(b.len(), 3, "{b:?}");
        // The cuts fall at the quarters of the numbered span.
        for (p, want) in b.iter().zip(["user025", "user050", "user075"]) {
            assert!(p.starts_with(want), "{p} at {want}: {b:?}");
        }
        // Names: the letters after the common prefix, whatever the ends hold.
        let b = boundaries("aaron.smith@contoso.com", "zoe.young@contoso.com", 2, &[]);
        assert!(b[0].starts_with('m') || b[0].starts_with('n'), "{b:?}");
    }

    proptest::proptest! {
        #![proptest_config(proptest::prelude::ProptestConfig::with_cases(500))]
        /// Whatever the two ends and the UPNs read so far, the boundaries lie strictly
        /// between the ends, ascending, fewer than the parts asked for.
        #[test]
        fn boundaries_are_always_strictly_between_and_ascending(
            a in "[a-z0-9._'@\u{e9}~-]{0,14}",
            b in "[a-z0-9._'@\u{e9}~-]{0,14}",
            sample in proptest::collection::vec("[a-z0-9._@-]{0,12}", 0..20),
            parts in 2usize..12,
        ) {
            let (lo, hi) = if a <= b { (a, b) } else { (b, a) };
            let cuts = boundaries(&lo, &hi, parts, &sample);
            proptest::prop_assert!(cuts.len() < parts);
            let mut prev = lo.clone();
            for c in &cuts {
                proptest::prop_assert!(*c > prev && *c < hi, "{lo}..{hi}: {cuts:?}");
                prev = c.clone();
            }
        }
    }

    #[test]
    fn boundaries_need_room_between() {
        assert!(boundaries("b", "a", 4, &[]).is_empty());
        assert!(boundaries("a", "a", 4, &[]).is_empty());
        assert!(boundaries("a", "b", 1, &[]).is_empty());
    }

    #[test]
    fn cut_covers_the_range_without_gaps() {
        let range = UpnRange {
            lo: Some("d".into()),
            hi: Some("q".into()),
        };
        let pieces = cut(&range, &range, 5, &[]);
        assert_eq!(pieces.first().and_then(|r| r.lo.as_deref()), Some("d"));
        assert_eq!(pieces.last().and_then(|r| r.hi.as_deref()), Some("q"));
        for w in pieces.windows(2) {
            assert_eq!(w[0].hi, w[1].lo, "{pieces:?}");
        }
        assert_eq!(pieces.len(), 5, "{pieces:?}");
    }

    fn users(upns: &[&str]) -> Vec<User> {
        upns.iter()
            .enumerate()
            .map(|(i, upn)| {
                let id = format!("00000000-0000-4000-8000-{i:012}");
                User::new(id.parse().expect("id"), (*upn).to_owned())
            })
            .collect()
    }

    #[test]
    fn pages_out_of_upn_order_or_range_are_noticed() {
        let whole = UpnRange::default();
        let range = UpnRange {
            lo: Some("b".into()),
            hi: Some("d".into()),
        };
        assert!(in_order(&users(&["a@x", "B@x", "c@x"]), &whole, false));
        assert!(in_order(&users(&["c@x", "B@x", "a@x"]), &whole, true));
        assert!(!in_order(&users(&["a@x", "c@x", "B@x"]), &whole, false));
        assert!(!in_order(&users(&["a@x", "B@x"]), &whole, true));
        assert!(in_order(&users(&["b@x", "c@x"]), &range, false));
        assert!(!in_order(&users(&["b@x", "e@x"]), &range, false), "past hi");
        assert!(
            !in_order(&users(&["a@x", "c@x"]), &range, false),
            "before lo"
        );
        assert!(in_order(&[], &range, false));
    }

    #[test]
    fn range_filters_quote_apostrophes() {
        let range = UpnRange {
            lo: Some("o'brien".into()),
            hi: None,
        };
        assert_eq!(
            range.filter(Some(LICENSED)).as_deref(),
            Some("assignedLicenses/$count ne 0 and userPrincipalName ge 'o''brien'")
        );
        assert_eq!(
            range.filter(None).as_deref(),
            Some("userPrincipalName ge 'o''brien'")
        );
        assert_eq!(UpnRange::default().filter(None), None);
    }
}
