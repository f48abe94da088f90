//! A direct reader for a chunk of users kept with [`UserFields::Licensing`] — the read
//! of every offline `plan` without attribute rules — that walks the JSON once without
//! `serde`'s per-key dispatch (which profiles at about a third of a large snapshot's
//! parse).
//!
//! It reads only a strict subset of what the `serde` read accepts, and gives up (`None`)
//! on anything else: an escape in any string, a key it does not know, a key given twice,
//! a number, a missing required field, a value of another type. It never decides that a
//! chunk is wrong: when it gives up, the caller parses the chunk with `serde`, which
//! accepts it or names the error. So what it returns must be exactly what the `serde`
//! read returns for the same text; the tests compare the two on mutated chunks, and the
//! fuzz target `snapshot_loader` compares the split read (which tries this first) with
//! the whole-document parse. A chunk it gives up on is read twice (by it as far as it
//! got, then by `serde`): a snapshot whose every chunk holds an escape (what `serde_json`
//! writes only for a quote, a backslash or a control character in a value) reads up to
//! about twice as slowly as through `serde` alone, when the escapes come late in each.
//!
//! [`UserFields::Licensing`]: super::UserFields::Licensing

use super::model::{
    AssignedLicense, AssignmentError, AssignmentStateKind, LicenseAssignmentState, User,
};
use crate::ids::{GroupId, ServicePlanId, SkuId, UserId, parse_guid};

/// The bytes that end the fast scan of a string: a quote, a backslash (an escape: given
/// up) and the control characters JSON refuses raw in a string.
const STRING_STOP: [bool; 256] = {
    let mut table = [false; 256];
    let mut i = 0;
    while i < 0x20 {
        table[i] = true;
        i += 1;
    }
    table[b'"' as usize] = true;
    table[b'\\' as usize] = true;
    table
};

/// Eight spaces, as one little-endian word.
const SPACES: u64 = u64::from_le_bytes([b' '; 8]);

/// The high bit of each byte of a word where `word` holds a byte that ends a string's
/// scan (see [`STRING_STOP`]). Only the lowest flagged byte is exact (a borrow may flag
/// bytes above it), which is the one the scan wants. The "has a zero byte" and "has a
/// byte less than n" tests of
/// https://graphics.stanford.edu/~seander/bithacks.html#ZeroInWord.
fn string_stops(word: u64) -> u64 {
    let backslash = zero_bytes(word ^ u64::from_le_bytes([b'\\'; 8]));
    let control = word.wrapping_sub(ONES * 0x20) & !word & HIGHS;
    quotes(word) | backslash | control
}

/// Each byte's lowest bit, and its highest.
const ONES: u64 = u64::from_le_bytes([0x01; 8]);
const HIGHS: u64 = u64::from_le_bytes([0x80; 8]);

/// The high bit of each zero byte of `x` (the lowest flagged exact, as above).
fn zero_bytes(x: u64) -> u64 {
    x.wrapping_sub(ONES) & !x & HIGHS
}

/// The high bit of each quote in `word` (the lowest flagged exact, as above).
fn quotes(word: u64) -> u64 {
    zero_bytes(word ^ u64::from_le_bytes([b'"'; 8]))
}

/// A user's keys in the order snapshots write them (`User`'s fields, its directory
/// attributes flattened): only a hint for [`Cursor::key`], never a requirement.
const USER_KEYS: &[&str] = &[
    "id",
    "userPrincipalName",
    "displayName",
    "accountEnabled",
    "usageLocation",
    "assignedLicenses",
    "licenseAssignmentStates",
    "department",
    "jobTitle",
    "companyName",
    "country",
    "state",
    "city",
    "officeLocation",
    "employeeType",
    "userType",
    "onPremisesSyncEnabled",
    "onPremisesExtensionAttributes",
    "createdDateTime",
    "signInActivity",
];

/// An `assignedLicense`'s keys in the order snapshots write them.
const ASSIGNED_LICENSE_KEYS: &[&str] = &["skuId", "disabledPlans"];

/// A `licenseAssignmentState`'s keys in the order snapshots write them.
const STATE_KEYS: &[&str] = &[
    "skuId",
    "disabledPlans",
    "assignedByGroup",
    "state",
    "error",
    "lastUpdatedDateTime",
];

/// `signInActivity`'s keys in the order snapshots write them.
const SIGN_IN_KEYS: &[&str] = &[
    "lastSignInDateTime",
    "lastNonInteractiveSignInDateTime",
    "lastSuccessfulSignInDateTime",
];

/// Reads `text`, a JSON array of users, as the licensing read does; `None` when it holds
/// anything this reader does not take (the `serde` read then decides). `elements` is the
/// splitter's guess of the count, trusted only for the first allocation.
pub(super) fn licensing_users(text: &str, elements: usize) -> Option<Vec<User>> {
    let mut cursor = Cursor { text, at: 0 };
    let mut users = Vec::with_capacity(elements.min(1 << 16));
    cursor.array(|cursor| {
        users.push(cursor.user()?);
        Some(())
    })?;
    cursor.whitespace();
    (cursor.at == text.len()).then_some(users)
}

/// Whether `a` and `b` are the same bytes, compared eight at a time inline (keys are
/// short: a call to `memcmp` for each cost more than the scan it saves).
#[inline]
fn same(a: &[u8], b: &[u8]) -> bool {
    if a.len() != b.len() {
        return false;
    }
    let (a_words, a_rest) = a.as_chunks::<8>();
    let (b_words, b_rest) = b.as_chunks::<8>();
    a_words
        .iter()
        .zip(b_words)
        .all(|(x, y)| u64::from_ne_bytes(*x) == u64::from_ne_bytes(*y))
        && a_rest.iter().zip(b_rest).all(|(x, y)| x == y)
}

/// A position in the chunk's text.
struct Cursor<'a> {
    text: &'a str,
    at: usize,
}

/// Records that field `bit` was read, giving up when it was read before (`serde` refuses
/// a repeated field).
fn first_time(seen: &mut u32, bit: u32) -> Option<()> {
    let mask = 1 << bit;
    if *seen & mask != 0 {
        return None;
    }
    *seen |= mask;
    Some(())
}

impl<'a> Cursor<'a> {
    fn bytes(&self) -> &'a [u8] {
        self.text.as_bytes()
    }

    /// Skips JSON's whitespace (space, tab, line feed, carriage return).
    #[inline]
    fn whitespace(&mut self) {
        // Between most tokens there is none, or one space: only longer runs call out.
        match self.bytes().get(self.at..self.at + 2) {
            Some([b'!'..=u8::MAX, _]) => {}
            Some([b' ', b'!'..=u8::MAX]) => self.at += 1,
            _ => self.skip_whitespace(),
        }
    }

    /// [`Self::whitespace`] for the rest: runs of spaces (pretty JSON's indentation)
    /// eight at a time.
    #[inline(never)]
    fn skip_whitespace(&mut self) {
        let bytes = self.bytes();
        loop {
            match bytes.get(self.at) {
                Some(b' ') => {
                    while let Some(word) = bytes
                        .get(self.at..)
                        .and_then(|rest| rest.first_chunk::<8>())
                    {
                        let other = u64::from_le_bytes(*word) ^ SPACES;
                        if other != 0 {
                            self.at += (other.trailing_zeros() / 8) as usize;
                            break;
                        }
                        self.at += 8;
                    }
                    while bytes.get(self.at) == Some(&b' ') {
                        self.at += 1;
                    }
                }
                Some(b'\n' | b'\t' | b'\r') => self.at += 1,
                _ => return,
            }
        }
    }

    /// After whitespace, the next byte (not consumed).
    fn peek(&mut self) -> Option<u8> {
        self.whitespace();
        self.bytes().get(self.at).copied()
    }

    /// After whitespace, consumes `byte` or gives up.
    fn expect(&mut self, byte: u8) -> Option<()> {
        (self.peek()? == byte).then(|| self.at += 1)
    }

    /// Consumes `word` (a literal's remaining letters) or gives up.
    fn word(&mut self, word: &[u8]) -> Option<()> {
        let end = self.at.checked_add(word.len())?;
        (self.bytes().get(self.at..end)? == word).then(|| self.at = end)
    }

    /// A string without escapes (after whitespace), as the text between its quotes.
    fn string(&mut self) -> Option<&'a str> {
        self.expect(b'"')?;
        let bytes = self.bytes();
        let start = self.at;
        let mut i = start;
        let end = loop {
            let Some(word) = bytes.get(i..).and_then(|rest| rest.first_chunk::<8>()) else {
                // Fewer than eight bytes left: one at a time.
                while !STRING_STOP[usize::from(*bytes.get(i)?)] {
                    i += 1;
                }
                if bytes[i] != b'"' {
                    return None;
                }
                break i;
            };
            let word = u64::from_le_bytes(*word);
            let stops = string_stops(word);
            if stops != 0 {
                // The lowest flagged byte is exact, and it is the word's first quote
                // when the quotes' own mask flags it (no quote below it can make that
                // mask's bit there false): no second look at the byte.
                let first = stops & stops.wrapping_neg();
                if quotes(word) & first == 0 {
                    return None;
                }
                break i + (first.trailing_zeros() / 8) as usize;
            }
            i += 8;
        };
        self.at = end + 1;
        // Both ends are ASCII quotes, so this is on character boundaries.
        self.text.get(start..end)
    }

    /// `null` (after whitespace): true when it was there and was consumed.
    fn null(&mut self) -> Option<bool> {
        if self.peek()? == b'n' {
            self.at += 1;
            self.word(b"ull")?;
            Some(true)
        } else {
            Some(false)
        }
    }

    /// A string or `null`.
    fn optional_string(&mut self) -> Option<Option<&'a str>> {
        if self.null()? {
            Some(None)
        } else {
            self.string().map(Some)
        }
    }

    /// `true`, `false` or `null`.
    fn optional_bool(&mut self) -> Option<Option<bool>> {
        match self.peek()? {
            b't' => {
                self.at += 1;
                self.word(b"rue")?;
                Some(Some(true))
            }
            b'f' => {
                self.at += 1;
                self.word(b"alse")?;
                Some(Some(false))
            }
            b'n' => {
                self.at += 1;
                self.word(b"ull")?;
                Some(None)
            }
            _ => None,
        }
    }

    /// A GUID string, as [`parse_guid`] reads it.
    fn guid(&mut self) -> Option<uuid::Uuid> {
        parse_guid(self.string()?).ok()
    }

    /// An array, `each` reading one element at a time.
    fn array(&mut self, mut each: impl FnMut(&mut Self) -> Option<()>) -> Option<()> {
        self.expect(b'[')?;
        if self.peek()? == b']' {
            self.at += 1;
            return Some(());
        }
        loop {
            each(self)?;
            match self.peek()? {
                b',' => self.at += 1,
                b']' => {
                    self.at += 1;
                    return Some(());
                }
                _ => return None,
            }
        }
    }

    /// An object, `each` reading the value of each key (given without its quotes).
    /// `order`: the keys in the order snapshots write them (see [`Self::key`]).
    fn object(
        &mut self,
        order: &[&str],
        mut each: impl FnMut(&mut Self, &'a str) -> Option<()>,
    ) -> Option<()> {
        self.expect(b'{')?;
        if self.peek()? == b'}' {
            self.at += 1;
            return Some(());
        }
        let mut next = 0;
        loop {
            let key = self.key(order, &mut next)?;
            self.expect(b':')?;
            each(self, key)?;
            match self.peek()? {
                b',' => self.at += 1,
                b'}' => {
                    self.at += 1;
                    return Some(());
                }
                _ => return None,
            }
        }
    }

    /// An object's key (after whitespace), as [`Self::string`] reads it. The key
    /// `order[next]` (the one after the key read last, in the order snapshots write
    /// them) is tried first by comparing bytes: when the text there is that key between
    /// quotes, it is that string (the keys hold no escapes), found without scanning for
    /// its end. `next` then moves past the key read.
    fn key(&mut self, order: &[&str], next: &mut usize) -> Option<&'a str> {
        if let Some(expected) = order.get(*next) {
            self.whitespace();
            let start = self.at + 1;
            let end = start + expected.len();
            if let Some(quoted) = self.bytes().get(self.at..=end)
                && quoted[0] == b'"'
                && quoted[quoted.len() - 1] == b'"'
                && same(&quoted[1..quoted.len() - 1], expected.as_bytes())
            {
                self.at = end + 1;
                *next += 1;
                return self.text.get(start..end);
            }
        }
        let key = self.string()?;
        *next = order
            .iter()
            .position(|&k| k == key)
            .map_or(order.len(), |at| at + 1);
        Some(key)
    }

    /// A list of service plan ids, without spare room.
    fn plans(&mut self) -> Option<Vec<ServicePlanId>> {
        let mut plans = Vec::new();
        self.array(|cursor| {
            plans.push(ServicePlanId(cursor.guid()?));
            Some(())
        })?;
        plans.shrink_to_fit();
        Some(plans)
    }

    /// A user, as `fields::LicensingUser` reads it and `User::from` keeps it.
    fn user(&mut self) -> Option<User> {
        let mut seen = 0u32;
        let mut id = None;
        let mut upn = None;
        let mut display_name = None;
        let mut account_enabled = None;
        let mut usage_location = None;
        let mut assigned_licenses = Vec::new();
        let mut states = Vec::new();
        self.object(USER_KEYS, |cursor, key| {
            match key {
                "id" => {
                    first_time(&mut seen, 0)?;
                    id = Some(UserId(cursor.guid()?));
                }
                "userPrincipalName" => {
                    first_time(&mut seen, 1)?;
                    upn = Some(cursor.string()?);
                }
                "displayName" => {
                    first_time(&mut seen, 2)?;
                    display_name = cursor.optional_string()?;
                }
                "accountEnabled" => {
                    first_time(&mut seen, 3)?;
                    account_enabled = cursor.optional_bool()?;
                }
                "usageLocation" => {
                    first_time(&mut seen, 4)?;
                    usage_location = cursor.optional_string()?;
                }
                "assignedLicenses" => {
                    first_time(&mut seen, 5)?;
                    cursor.array(|cursor| {
                        assigned_licenses.push(cursor.assigned_license()?);
                        Some(())
                    })?;
                }
                "licenseAssignmentStates" => {
                    first_time(&mut seen, 6)?;
                    cursor.array(|cursor| {
                        states.push(cursor.state()?);
                        Some(())
                    })?;
                }
                "onPremisesSyncEnabled" => {
                    first_time(&mut seen, 7)?;
                    cursor.optional_bool()?;
                }
                "onPremisesExtensionAttributes" => {
                    first_time(&mut seen, 8)?;
                    if !cursor.null()? {
                        cursor.object(&[], |cursor, _| cursor.optional_string().map(drop))?;
                    }
                }
                "signInActivity" => {
                    first_time(&mut seen, 9)?;
                    if !cursor.null()? {
                        let mut seen = 0u32;
                        cursor.object(SIGN_IN_KEYS, |cursor, key| {
                            let bit = match key {
                                "lastSignInDateTime" => 0,
                                "lastNonInteractiveSignInDateTime" => 1,
                                "lastSuccessfulSignInDateTime" => 2,
                                _ => return None,
                            };
                            first_time(&mut seen, bit)?;
                            cursor.optional_string().map(drop)
                        })?;
                    }
                }
                // Read, checked as strings, and dropped.
                dropped => {
                    let bit = match dropped {
                        "department" => 10,
                        "jobTitle" => 11,
                        "companyName" => 12,
                        "country" => 13,
                        "state" => 14,
                        "city" => 15,
                        "officeLocation" => 16,
                        "employeeType" => 17,
                        "userType" => 18,
                        "createdDateTime" => 19,
                        _ => return None,
                    };
                    first_time(&mut seen, bit)?;
                    cursor.optional_string()?;
                }
            }
            Some(())
        })?;
        assigned_licenses.shrink_to_fit();
        states.shrink_to_fit();
        let mut user = User::new(id?, upn?);
        user.display_name = display_name.map(str::to_owned);
        user.account_enabled = account_enabled;
        user.usage_location = usage_location.map(str::to_owned);
        user.assigned_licenses = assigned_licenses;
        user.license_assignment_states = states;
        Some(user)
    }

    /// An `assignedLicense`.
    fn assigned_license(&mut self) -> Option<AssignedLicense> {
        let mut seen = 0u32;
        let mut sku = None;
        let mut disabled_plans = Vec::new();
        self.object(ASSIGNED_LICENSE_KEYS, |cursor, key| {
            match key {
                "skuId" => {
                    first_time(&mut seen, 0)?;
                    sku = Some(SkuId(cursor.guid()?));
                }
                "disabledPlans" => {
                    first_time(&mut seen, 1)?;
                    disabled_plans = cursor.plans()?;
                }
                _ => return None,
            }
            Some(())
        })?;
        Some(AssignedLicense {
            sku_id: sku?,
            disabled_plans,
        })
    }

    /// A `licenseAssignmentState` without its `lastUpdatedDateTime`.
    fn state(&mut self) -> Option<LicenseAssignmentState> {
        let mut seen = 0u32;
        let mut sku = None;
        let mut disabled_plans = Vec::new();
        let mut assigned_by_group = None;
        let mut state = None;
        let mut error = None;
        self.object(STATE_KEYS, |cursor, key| {
            match key {
                "skuId" => {
                    first_time(&mut seen, 0)?;
                    sku = Some(SkuId(cursor.guid()?));
                }
                "disabledPlans" => {
                    first_time(&mut seen, 1)?;
                    disabled_plans = cursor.plans()?;
                }
                "assignedByGroup" => {
                    first_time(&mut seen, 2)?;
                    if !cursor.null()? {
                        assigned_by_group = Some(GroupId(cursor.guid()?));
                    }
                }
                "state" => {
                    first_time(&mut seen, 3)?;
                    state = Some(AssignmentStateKind::from(cursor.string()?));
                }
                "error" => {
                    first_time(&mut seen, 4)?;
                    error = match cursor.optional_string()? {
                        None | Some("None" | "") => None,
                        Some(other) => Some(AssignmentError::from(other)),
                    };
                }
                "lastUpdatedDateTime" => {
                    first_time(&mut seen, 5)?;
                    cursor.optional_string()?;
                }
                _ => return None,
            }
            Some(())
        })?;
        Some(LicenseAssignmentState {
            sku_id: sku?,
            disabled_plans,
            assigned_by_group,
            state: state?,
            error,
            last_updated_date_time: None,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::super::{UserFields, serde_users};
    use super::licensing_users;

    const SKU: &str = "6fd2c87f-b296-42f0-b197-1e91e994b900";
    const PLAN: &str = "7547a3fe-08ee-4ccb-b430-5077c5041653";
    const GROUP: &str = "11111111-2222-3333-4444-555555555555";

    /// A user with every property a snapshot writes (the licensing read drops some).
    fn full_user(i: usize) -> String {
        format!(
            r#"{{"id": "651080BA-71fb-5b9f-a1c0-{i:012x}", "userPrincipalName": "u{i}@contoso.com", "displayName": "Ünal {i}", "accountEnabled": true, "usageLocation": "US", "assignedLicenses": [{{"skuId": "{SKU}", "disabledPlans": ["{PLAN}"]}}, {{"skuId": "{{{SKU}}}", "disabledPlans": []}}], "licenseAssignmentStates": [{{"skuId": "{SKU}", "disabledPlans": ["{PLAN}"], "assignedByGroup": null, "state": "Active", "error": null, "lastUpdatedDateTime": "2025-01-15T08:00:00Z"}}, {{"skuId": "{SKU}", "disabledPlans": [], "assignedByGroup": "{GROUP}", "state": "Error", "error": "CountViolation", "lastUpdatedDateTime": null}}, {{"skuId": "{SKU}", "assignedByGroup": "{GROUP}", "state": "SomethingNew", "error": "None"}}, {{"skuId": "{SKU}", "state": "Disabled", "error": ""}}], "department": "Sales", "jobTitle": null, "companyName": "Contoso", "country": "US", "state": "WA", "city": "Redmond", "officeLocation": "B1", "employeeType": "Employee", "userType": "Member", "onPremisesSyncEnabled": null, "onPremisesExtensionAttributes": {{"extensionAttribute1": "x", "extensionAttribute2": null}}, "createdDateTime": "2022-08-03T05:17:04Z", "signInActivity": {{"lastSignInDateTime": "2025-01-04T16:07:57Z", "lastNonInteractiveSignInDateTime": null, "lastSuccessfulSignInDateTime": "2025-01-04T16:07:57Z"}}}}"#
        )
    }

    /// A user with only what is required.
    fn bare_user(i: usize) -> String {
        format!(
            r#"{{"userPrincipalName": "b{i}@contoso.com", "id": "651080ba-71fb-5b9f-a1c0-{i:012x}", "accountEnabled": false, "signInActivity": null, "onPremisesExtensionAttributes": {{}}}}"#
        )
    }

    fn chunk(users: &[String]) -> String {
        format!("[{}]", users.join(","))
    }

    fn pretty(text: &str) -> String {
        let value: serde_json::Value = serde_json::from_str(text).expect("json");
        serde_json::to_string_pretty(&value).expect("writes")
    }

    /// A string's scan ends at its first quote, backslash or control character, and
    /// takes the string only when that is a quote — for every byte value at every offset
    /// within and past the first eight-byte word, with a second stop byte after it.
    #[test]
    fn the_string_scan_stops_at_the_first_stop_byte_wherever_it_falls() {
        for offset in 0..20 {
            for byte in 0..=u8::MAX {
                for after in [b'"', b'\\', 0x01, b'a'] {
                    let mut text = vec![b'"'];
                    text.extend(std::iter::repeat_n(b'x', offset));
                    text.push(byte);
                    text.push(after);
                    text.extend_from_slice(b"\" tail\"");
                    // A byte at or above 0x80 alone is not UTF-8: the text must be.
                    let Ok(text) = String::from_utf8(text) else {
                        continue;
                    };
                    let stop = |b: u8| b == b'"' || b == b'\\' || b < 0x20;
                    let body = &text.as_bytes()[1..];
                    let expected = body
                        .iter()
                        .position(|&b| stop(b))
                        .and_then(|end| (body[end] == b'"').then(|| &text[1..=end]));
                    let mut cursor = super::Cursor { text: &text, at: 0 };
                    assert_eq!(cursor.string(), expected, "offset {offset}, byte {byte:#x}");
                    if let Some(found) = expected {
                        assert_eq!(cursor.at, found.len() + 2);
                    }
                }
            }
        }
    }

    /// The fast read takes what a snapshot holds — compact and pretty, every property,
    /// only the required ones, no users — and gives what the `serde` read gives.
    #[test]
    fn the_fast_read_takes_snapshot_users_and_gives_what_serde_gives() {
        let users = vec![full_user(1), bare_user(2), full_user(3)];
        for text in [
            chunk(&users),
            pretty(&chunk(&users)),
            "[]".into(),
            " [ ]\n".into(),
        ] {
            let fast = licensing_users(&text, 3).unwrap_or_else(|| panic!("taken: {text}"));
            let slow = serde_users(&text, 3, UserFields::Licensing).expect("serde reads it");
            assert_eq!(fast, slow, "{text}");
        }
        let fast = licensing_users(&chunk(&users), 3).expect("taken");
        assert_eq!(fast.len(), 3);
        assert_eq!(fast[0].license_assignment_states.len(), 4);
        assert_eq!(fast[0].display_name.as_deref(), Some("Ünal 1"));
        assert_eq!(fast[1].account_enabled, Some(false));
    }

    /// What the fast read does not take, though `serde` may: escapes, unknown or repeated
    /// keys, numbers, a missing required field, trailing text.
    #[test]
    fn the_fast_read_gives_up_on_what_it_does_not_take() {
        let base = bare_user(1);
        for text in [
            base.replace("b1@", r"b\u0031@"),
            base.replace("\"accountEnabled\"", "\"mail\": \"m\", \"accountEnabled\""),
            base.replace(
                "\"accountEnabled\": false",
                "\"accountEnabled\": false, \"accountEnabled\": true",
            ),
            base.replace("false", "0"),
            base.replace("\"userPrincipalName\": \"b1@contoso.com\", ", ""),
            format!("{base} x"),
            format!("{base},"),
        ] {
            let text = format!("[{text}]");
            assert_eq!(licensing_users(&text, 1), None, "{text}");
        }
    }

    /// A key is taken by its expected place in the order only when it is exactly that
    /// key: every key of a full user, lengthened, shortened or escaped where it is
    /// expected, makes the fast read give up as any unknown key does.
    #[test]
    fn keys_read_in_their_expected_order_must_match_exactly() {
        let base = full_user(1);
        let mut cases = 0;
        for key in super::USER_KEYS.iter().chain(super::STATE_KEYS) {
            let quoted = format!("\"{key}\":");
            if !base.contains(&quoted) {
                continue;
            }
            let (first, rest) = key.split_at(1);
            for changed in [
                format!("\"{key}x\":"),
                format!("\"{}\":", &key[..key.len() - 1]),
                format!("\"\\u{:04x}{rest}\":", u32::from(first.as_bytes()[0])),
            ] {
                let text = format!("[{}]", base.replacen(&quoted, &changed, 1));
                assert_eq!(licensing_users(&text, 1), None, "{text}");
                cases += 1;
            }
        }
        assert!(cases >= 3 * 20, "{cases} cases");
        // Unchanged, the same user is read (in order and with its keys sorted).
        let text = chunk(&[base]);
        assert!(licensing_users(&text, 1).is_some());
        assert!(licensing_users(&pretty(&text), 1).is_some());
    }

    /// Every mutation of a chunk (a byte dropped, doubled or replaced by one JSON cares
    /// about) that the fast read takes, `serde` reads to the same users: the fast read
    /// never accepts what `serde` refuses, nor reads it another way.
    #[test]
    fn mutated_chunks_the_fast_read_takes_read_the_same_through_serde() {
        let text = chunk(&[full_user(1), bare_user(2)]);
        let bytes = text.as_bytes();
        let replacements: &[u8] = b"\"\\,:{}[] n0tfx\x01\t";
        let (mut taken, mut tried) = (0, 0);
        for at in 0..bytes.len() {
            let mut mutations = vec![
                [&bytes[..at], &bytes[at + 1..]].concat(),
                [&bytes[..=at], &bytes[at..]].concat(),
            ];
            for &byte in replacements {
                mutations.push([&bytes[..at], &[byte], &bytes[at + 1..]].concat());
            }
            for mutated in mutations {
                let Ok(mutated) = std::str::from_utf8(&mutated) else {
                    continue;
                };
                tried += 1;
                if let Some(fast) = licensing_users(mutated, 2) {
                    taken += 1;
                    let slow = serde_users(mutated, 2, UserFields::Licensing);
                    assert_eq!(Some(fast), slow, "{mutated}");
                }
            }
        }
        // Most mutations break the chunk; those inside names and dates do not.
        assert!(
            taken > tried / 20 && taken < tried / 2,
            "{taken} of {tried}"
        );
    }
}
