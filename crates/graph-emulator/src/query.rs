//! OData query options: `$select`, `$top`, `$filter` (the subset licensectl needs),
//! `$count` and opaque `$skiptoken`s.

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;

use licensectl_model::ids::{SkuId, parse_guid};

use super::error::GraphError;

/// The parsed query string of one request.
#[derive(Debug, Clone, Default)]
pub(crate) struct Query {
    /// `(name, value)` pairs, decoded, in order.
    pub pairs: Vec<(String, String)>,
}

impl Query {
    /// Parses a raw query string.
    pub(crate) fn parse(raw: &str) -> Self {
        let pairs = form_urlencoded_pairs(raw);
        Self { pairs }
    }

    /// The value of option `name` (case-insensitive, with or without `$`).
    pub(crate) fn get(&self, name: &str) -> Option<&str> {
        let bare = name.trim_start_matches('$');
        self.pairs
            .iter()
            .find(|(k, _)| k.trim_start_matches('$').eq_ignore_ascii_case(bare))
            .map(|(_, v)| v.as_str())
    }

    /// True when `$select` is present.
    pub(crate) fn has_select(&self) -> bool {
        self.get("$select").is_some()
    }
}

fn form_urlencoded_pairs(raw: &str) -> Vec<(String, String)> {
    raw.split('&')
        .filter(|p| !p.is_empty())
        .map(|p| {
            let (k, v) = p.split_once('=').unwrap_or((p, ""));
            (decode(k), decode(v))
        })
        .collect()
}

fn decode(s: &str) -> String {
    let replaced = s.replace('+', " ");
    percent_decode(&replaced)
}

fn percent_decode(s: &str) -> String {
    let bytes = s.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i] == b'%'
            && let Some(h) = bytes.get(i + 1..i + 3)
            && let Ok(hex) = std::str::from_utf8(h)
            && let Ok(b) = u8::from_str_radix(hex, 16)
        {
            out.push(b);
            i += 3;
            continue;
        }
        out.push(bytes[i]);
        i += 1;
    }
    String::from_utf8_lossy(&out).into_owned()
}

/// Percent-encodes a query value for a nextLink.
pub(crate) fn encode_component(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for b in s.bytes() {
        match b {
            b'A'..=b'Z'
            | b'a'..=b'z'
            | b'0'..=b'9'
            | b'-'
            | b'_'
            | b'.'
            | b'~'
            | b'$'
            | b','
            | b'/'
            | b':'
            | b'('
            | b')'
            | b'@' => out.push(b as char),
            _ => out.push_str(&format!("%{b:02X}")),
        }
    }
    out
}

/// A `$select` list resolved against the known properties of a resource.
/// `None` means the default property set.
pub(crate) fn parse_select(
    q: &Query,
    known: &[&[&'static str]],
    type_name: &str,
) -> Result<Option<Vec<&'static str>>, GraphError> {
    let Some(raw) = q.get("$select") else {
        return Ok(None);
    };
    let mut out = Vec::new();
    for name in raw.split(',').map(str::trim).filter(|s| !s.is_empty()) {
        let Some(canonical) = known
            .iter()
            .flat_map(|set| set.iter())
            .find(|k| k.eq_ignore_ascii_case(name))
        else {
            return Err(GraphError::bad_request(format!(
                "Could not find a property named '{name}' on type '{type_name}'."
            )));
        };
        if !out.contains(canonical) {
            out.push(*canonical);
        }
    }
    Ok(Some(out))
}

/// `$top`: default 100, 1..=999.
pub(crate) fn parse_top(q: &Query) -> Result<usize, GraphError> {
    match q.get("$top") {
        None => Ok(100),
        Some(raw) => match raw.trim().parse::<usize>() {
            Ok(n) if (1..=999).contains(&n) => Ok(n),
            // Observed: 400 Request_UnsupportedQuery
            // (https://github.com/microsoftgraph/msgraph-sdk-powershell/issues/3201).
            _ => Err(GraphError::unsupported_query(format!(
                "Invalid page size specified: '{raw}'. Must be between 1 and 999 inclusive."
            ))),
        },
    }
}

/// True when the request is an advanced query (`ConsistencyLevel: eventual` + `$count=true`).
pub(crate) fn is_advanced(q: &Query, consistency_eventual: bool) -> bool {
    consistency_eventual
        && q.get("$count")
            .is_some_and(|v| v.eq_ignore_ascii_case("true"))
}

/// A skiptoken: opaque to clients, it carries the position where the next page starts.
pub(crate) fn make_skiptoken(position: usize) -> String {
    let raw = format!(
        "emu1:{position}:{}",
        position.wrapping_mul(2_654_435_761) % 1_000_003
    );
    format!("RFNwdAIA{}", URL_SAFE_NO_PAD.encode(raw))
}

/// Decodes a skiptoken made by [`make_skiptoken`].
pub(crate) fn read_skiptoken(token: &str) -> Result<usize, GraphError> {
    let bad = || {
        GraphError::bad_request(
            "The specified page token value has expired and can not be included in your request.",
        )
    };
    let body = token.strip_prefix("RFNwdAIA").ok_or_else(bad)?;
    let bytes = URL_SAFE_NO_PAD.decode(body).map_err(|_| bad())?;
    let text = String::from_utf8(bytes).map_err(|_| bad())?;
    let mut parts = text.split(':');
    let (Some("emu1"), Some(pos), Some(check)) = (parts.next(), parts.next(), parts.next()) else {
        return Err(bad());
    };
    let pos: usize = pos.parse().map_err(|_| bad())?;
    if check != (pos.wrapping_mul(2_654_435_761) % 1_000_003).to_string() {
        return Err(bad());
    }
    Ok(pos)
}

/// One `$filter` clause.
#[derive(Debug, Clone, PartialEq)]
pub(crate) enum Clause {
    /// `prop eq 'v'` (strings compare case-insensitively, as the directory does).
    Eq(String, Literal),
    /// `prop ne 'v'` (advanced queries only).
    Ne(String, Literal),
    /// `prop in ('a','b')`.
    In(String, Vec<Literal>),
    /// `startswith(prop,'v')`.
    StartsWith(String, String),
    /// `prop/any(x:x/skuId eq GUID)`.
    AnySku(String, SkuId),
    /// `prop/$count eq N` or `ne N`.
    Count(String, bool, u64),
    /// `prop ge 'v'` or `prop le 'v'`.
    Cmp(String, Order, String),
}

/// `s` lowercased character by character: the key `ge`/`le` and `$orderby` compare.
pub(crate) fn fold(s: &str) -> String {
    s.chars().flat_map(char::to_lowercase).collect()
}

/// `a` against `b`, both [`fold`]ed, without allocating.
pub(crate) fn cmp_folded(a: &str, b: &str) -> std::cmp::Ordering {
    a.chars()
        .flat_map(char::to_lowercase)
        .cmp(b.chars().flat_map(char::to_lowercase))
}

/// The comparison of a [`Clause::Cmp`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Order {
    /// `ge`: at or after the value.
    Ge,
    /// `le`: at or before the value.
    Le,
}

impl Order {
    /// Whether `actual` passes against `value`. The directory's collation for `ge`/`le`
    /// is not documented; the emulator compares the lowercased text code point by code
    /// point (modelled, docs/emulator.md).
    pub(crate) fn holds(self, actual: &str, value: &str) -> bool {
        let ordering = cmp_folded(actual, value);
        match self {
            Order::Ge => ordering.is_ge(),
            Order::Le => ordering.is_le(),
        }
    }
}

/// A literal in a filter.
#[derive(Debug, Clone, PartialEq)]
pub(crate) enum Literal {
    /// `'text'`.
    Str(String),
    /// `true`/`false`.
    Bool(bool),
    /// `null`.
    Null,
    /// An unquoted GUID.
    Guid(uuid::Uuid),
    /// A number.
    Num(i64),
}

impl Literal {
    /// The literal as text for string comparisons.
    pub(crate) fn as_text(&self) -> Option<String> {
        match self {
            Literal::Str(s) => Some(s.clone()),
            Literal::Guid(g) => Some(g.to_string()),
            _ => None,
        }
    }
}

fn invalid(filter: &str) -> GraphError {
    GraphError::bad_request(format!(
        "Invalid filter clause: syntax error in '{filter}'."
    ))
}

/// Splits on ` and ` outside quotes and parentheses.
pub(crate) fn split_and(s: &str) -> Vec<String> {
    let mut parts = Vec::new();
    let mut depth = 0i32;
    let mut in_quote = false;
    let mut current = String::new();
    let chars: Vec<char> = s.chars().collect();
    let mut i = 0;
    while i < chars.len() {
        let c = chars[i];
        if c == '\'' {
            in_quote = !in_quote;
        } else if !in_quote && c == '(' {
            depth += 1;
        } else if !in_quote && c == ')' {
            depth -= 1;
        }
        if !in_quote && depth == 0 && c == ' ' {
            let rest: String = chars[i..].iter().take(5).collect();
            if rest.eq_ignore_ascii_case(" and ") {
                parts.push(std::mem::take(&mut current));
                i += 5;
                continue;
            }
        }
        current.push(c);
        i += 1;
    }
    parts.push(current);
    parts
}

fn parse_literal(raw: &str, filter: &str) -> Result<Literal, GraphError> {
    let t = raw.trim();
    if let Some(inner) = t.strip_prefix('\'').and_then(|r| r.strip_suffix('\'')) {
        return Ok(Literal::Str(inner.replace("''", "'")));
    }
    match t.to_ascii_lowercase().as_str() {
        "true" => return Ok(Literal::Bool(true)),
        "false" => return Ok(Literal::Bool(false)),
        "null" => return Ok(Literal::Null),
        _ => {}
    }
    if let Ok(n) = t.parse::<i64>() {
        return Ok(Literal::Num(n));
    }
    if let Ok(g) = parse_guid(t) {
        return Ok(Literal::Guid(g));
    }
    Err(invalid(filter))
}

fn parse_list(raw: &str, filter: &str) -> Result<Vec<Literal>, GraphError> {
    let inner = raw
        .trim()
        .strip_prefix('(')
        .and_then(|r| r.strip_suffix(')'))
        .ok_or_else(|| invalid(filter))?;
    let mut items = Vec::new();
    let mut current = String::new();
    let mut in_quote = false;
    for c in inner.chars() {
        if c == '\'' {
            in_quote = !in_quote;
        }
        if c == ',' && !in_quote {
            items.push(parse_literal(&current, filter)?);
            current.clear();
        } else {
            current.push(c);
        }
    }
    if !current.trim().is_empty() {
        items.push(parse_literal(&current, filter)?);
    }
    Ok(items)
}

fn parse_clause(c: &str, filter: &str) -> Result<Clause, GraphError> {
    let c = c.trim();
    let lower = c.to_ascii_lowercase();
    if lower.starts_with("startswith(") {
        let inner = c["startswith(".len()..]
            .strip_suffix(')')
            .ok_or_else(|| invalid(filter))?;
        let (prop, value) = inner.split_once(',').ok_or_else(|| invalid(filter))?;
        let Literal::Str(v) = parse_literal(value, filter)? else {
            return Err(invalid(filter));
        };
        return Ok(Clause::StartsWith(prop.trim().to_owned(), v));
    }
    if let Some(pos) = lower.find("/any(") {
        let prop = c[..pos].trim().to_owned();
        let inner = c[pos + 5..]
            .trim_end()
            .strip_suffix(')')
            .ok_or_else(|| invalid(filter))?;
        let (var, body) = inner.split_once(':').ok_or_else(|| invalid(filter))?;
        let body = body.trim();
        let words: Vec<&str> = body.split_whitespace().collect();
        let [lhs, op, value] = words.as_slice() else {
            return Err(invalid(filter));
        };
        if !lhs.eq_ignore_ascii_case(&format!("{}/skuId", var.trim()))
            || !op.eq_ignore_ascii_case("eq")
        {
            return Err(GraphError::unsupported_query(format!(
                "Unsupported query: only '{prop}/any(x:x/skuId eq <guid>)' is supported inside any()."
            )));
        }
        let v = value.trim_matches('\'');
        let guid = parse_guid(v).map_err(|_| GraphError::bad_guid(v))?;
        return Ok(Clause::AnySku(prop, SkuId(guid)));
    }
    if let Some(pos) = lower.find("/$count") {
        let prop = c[..pos].trim().to_owned();
        let words: Vec<&str> = c[pos + 7..].split_whitespace().collect();
        let [op, n] = words.as_slice() else {
            return Err(invalid(filter));
        };
        let n: u64 = n.parse().map_err(|_| invalid(filter))?;
        let ne = match op.to_ascii_lowercase().as_str() {
            "eq" => false,
            "ne" => true,
            _ => return Err(invalid(filter)),
        };
        return Ok(Clause::Count(prop, ne, n));
    }
    let mut it = c.splitn(3, char::is_whitespace);
    let (Some(prop), Some(op), Some(rest)) = (it.next(), it.next(), it.next()) else {
        return Err(invalid(filter));
    };
    let prop = prop.to_owned();
    match op.to_ascii_lowercase().as_str() {
        "eq" => Ok(Clause::Eq(prop, parse_literal(rest, filter)?)),
        "ne" => Ok(Clause::Ne(prop, parse_literal(rest, filter)?)),
        "in" => {
            let items = parse_list(rest, filter)?;
            Ok(Clause::In(prop, items))
        }
        // On strings only: the emulator compares no dates or numbers.
        op_lower @ ("ge" | "le") if matches!(parse_literal(rest, filter), Ok(Literal::Str(_))) => {
            let Ok(Literal::Str(v)) = parse_literal(rest, filter) else {
                return Err(invalid(filter));
            };
            let order = if op_lower == "ge" {
                Order::Ge
            } else {
                Order::Le
            };
            Ok(Clause::Cmp(prop, order, v))
        }
        _ => Err(GraphError::unsupported_query(format!(
            "Unsupported query: operator '{op}' is not supported in '{filter}'."
        ))),
    }
}

/// Parses a `$filter` into clauses joined by `and`.
pub(crate) fn parse_filter(filter: &str) -> Result<Vec<Clause>, GraphError> {
    split_and(filter)
        .iter()
        .map(|c| parse_clause(c, filter))
        .collect()
}

/// More than 15 values in an `in` (or `or` chain): 400 `Request_UnsupportedQuery`, as
/// observed (<https://github.com/microsoftgraph/msgraph-sdk-powershell/issues/3229>); the
/// limit is documented in
/// <https://learn.microsoft.com/en-us/graph/aad-advanced-queries#query-scenarios-that-require-advanced-query-capabilities>.
pub(crate) fn too_many_values(n: usize) -> GraphError {
    GraphError::unsupported_query(format!(
        "Too many child clauses specified in search filter expression containing 'OR' operators: {n}. Max allowed: 15."
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn skiptokens_round_trip_and_reject_tampering() {
        let t = make_skiptoken(12345);
        assert_eq!(read_skiptoken(&t).expect("valid"), 12345);
        assert!(read_skiptoken("RFNwdAIAZW11MToxOjE").is_err());
        assert!(read_skiptoken("garbage").is_err());
    }

    #[test]
    fn filters_parse() {
        let cases: &[(&str, Clause)] = &[
            (
                "assignedLicenses/any(x:x/skuId eq 6fd2c87f-b296-42f0-b197-1e91e994b900)",
                Clause::AnySku(
                    "assignedLicenses".into(),
                    "6fd2c87f-b296-42f0-b197-1e91e994b900"
                        .parse()
                        .expect("guid"),
                ),
            ),
            (
                "userPrincipalName eq 'o''brien@contoso.com'",
                Clause::Eq(
                    "userPrincipalName".into(),
                    Literal::Str("o'brien@contoso.com".into()),
                ),
            ),
            (
                "assignedLicenses/$count ne 0",
                Clause::Count("assignedLicenses".into(), true, 0),
            ),
            (
                "startswith(displayName,'sg-')",
                Clause::StartsWith("displayName".into(), "sg-".into()),
            ),
        ];
        for (text, expected) in cases {
            let parsed = parse_filter(text).expect(text);
            assert_eq!(parsed, vec![expected.clone()], "{text}");
        }
        let both = parse_filter(
            "accountEnabled eq true and userPrincipalName in ('a@x.com', 'b and c@x.com')",
        )
        .expect("parses");
        assert_eq!(both.len(), 2);
        assert!(parse_filter("userPrincipalName gt 'a'").is_err());
        assert!(parse_filter("assignedLicenses/any(x:x/skuId eq nope)").is_err());
    }
}
