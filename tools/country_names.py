#!/usr/bin/env python3
"""Generates src/config/country_names.rs: the names `usage_location: from_country` maps.

Sources (Debian's `iso-codes` package, 4.15.0, https://salsa.debian.org/iso-codes-team/iso-codes):
- English: `name`, `common_name` and `official_name` of every entry of
  /usr/share/iso-codes/json/iso_3166-1.json;
- local names: each country's name in its own languages (LANGUAGES below), from the
  package's translations /usr/share/locale/<lang>/LC_MESSAGES/iso_3166-1.mo;
- EXTRA: abbreviations and everyday names no ISO list carries (USA, U.S., UK, Great
  Britain, Holland, ...), written by hand.

Every name is normalized as the Rust side normalizes input (`fold` in countries.rs:
lowercase, accents removed, `.` dropped, other punctuation as spaces, spaces collapsed);
a normalized name that would map to two countries is dropped. The accent table is the
NFD decomposition of Latin, Greek and Cyrillic letters (Python's unicodedata) plus
letters that do not decompose (ß, æ, ø, ł, ...).

Run: python3 tools/country_names.py > src/config/country_names.rs && cargo fmt
"""

import gettext
import json
import sys
import unicodedata

ISO = "/usr/share/iso-codes/json/iso_3166-1.json"
LOCALES = "/usr/share/locale"

# The languages a country's own name is written in (gettext locale names).
LANGUAGES = {
    "AD": ["ca"], "AE": ["ar"], "AL": ["sq"], "AM": ["hy"], "AR": ["es"], "AT": ["de"],
    "AZ": ["az"], "BA": ["bs", "hr", "sr", "sr@latin"], "BD": ["bn"], "BE": ["nl", "fr", "de"],
    "BG": ["bg"], "BH": ["ar"], "BO": ["es"], "BR": ["pt_BR"], "BY": ["be", "ru"],
    "CH": ["de", "fr", "it"], "CL": ["es"], "CN": ["zh_CN"], "CO": ["es"], "CR": ["es"],
    "CU": ["es"], "CY": ["el", "tr"], "CZ": ["cs"], "DE": ["de"], "DK": ["da"], "DO": ["es"],
    "DZ": ["ar", "fr"], "EC": ["es"], "EE": ["et"], "EG": ["ar"], "ES": ["es", "ca", "eu", "gl"],
    "ET": ["am"], "FI": ["fi", "sv"], "FO": ["fo"], "FR": ["fr"], "GE": ["ka"], "GL": ["kl"],
    "GR": ["el"], "GT": ["es"], "HK": ["zh_HK", "zh_TW"], "HN": ["es"], "HR": ["hr"],
    "HU": ["hu"], "ID": ["id"], "IE": ["ga"], "IL": ["he"], "IN": ["hi"], "IQ": ["ar"],
    "IR": ["fa"], "IS": ["is"], "IT": ["it"], "JO": ["ar"], "JP": ["ja"], "KE": ["sw"],
    "KH": ["km"], "KR": ["ko"], "KW": ["ar"], "KZ": ["kk", "ru"], "LB": ["ar", "fr"],
    "LI": ["de"], "LK": ["si", "ta"], "LT": ["lt"], "LU": ["fr", "de"], "LV": ["lv"],
    "MA": ["ar", "fr"], "MC": ["fr"], "MD": ["ro"], "ME": ["sr@latin"], "MK": ["mk"],
    "MN": ["mn"], "MO": ["zh_HK", "pt"], "MT": ["mt"], "MX": ["es"], "MY": ["ms"],
    "NI": ["es"], "NL": ["nl"], "NO": ["nb", "nn"], "NP": ["ne"], "OM": ["ar"], "PA": ["es"],
    "PE": ["es"], "PH": ["fil"], "PK": ["ur"], "PL": ["pl"], "PR": ["es"], "PT": ["pt"],
    "PY": ["es"], "QA": ["ar"], "RO": ["ro"], "RS": ["sr", "sr@latin"], "RU": ["ru"],
    "SA": ["ar"], "SE": ["sv"], "SI": ["sl"], "SK": ["sk"], "SM": ["it"], "SV": ["es"],
    "TH": ["th"], "TN": ["ar", "fr"], "TR": ["tr"], "TW": ["zh_TW"], "TZ": ["sw"],
    "UA": ["uk"], "UY": ["es"], "UZ": ["uz"], "VA": ["it"], "VE": ["es"], "VN": ["vi"],
    "ZA": ["af", "zu", "xh"],
}

EXTRA = {
    "US": ["USA", "U.S.", "U.S.A.", "United States", "United States of America", "America"],
    "GB": ["UK", "U.K.", "United Kingdom", "Great Britain", "Britain", "England", "Scotland",
           "Wales", "Northern Ireland"],
    "NL": ["Holland", "The Netherlands"],
    "CZ": ["Czech Republic", "Česká republika"],
    "KR": ["Korea", "한국"],
    "RU": ["Russia", "Россия"],
    "VN": ["Vietnam"],
    "CI": ["Ivory Coast"],
    "MK": ["Macedonia"],
    "SZ": ["Swaziland"],
    "MM": ["Burma"],
    "TR": ["Türkiye", "Turkey"],
    "DE": ["Bundesrepublik Deutschland"],
    "AT": ["Republik Österreich"],
    "CH": ["Svizra", "Confoederatio Helvetica"],
    "CN": ["中华人民共和国", "中國"],
    "JP": ["Nippon", "Nihon"],
    "GR": ["Hellas", "Ελλάς"],
    "AE": ["UAE", "U.A.E."],
    "TW": ["台灣", "台湾"],
    "LU": ["Lëtzebuerg"],
    "IN": ["Bharat", "भारत"],
    "NZ": ["Aotearoa"],
    "PH": ["Philippines"],
    "BE": ["Belgien"],
}

# Letters that do not decompose into a base letter and a mark.
SPECIAL = {"ß": "ss", "æ": "ae", "ø": "o", "œ": "oe", "ł": "l", "đ": "d", "ð": "d",
           "þ": "th", "ı": "i", "ħ": "h", "ŧ": "t", "ĸ": "k", "ŀ": "l"}


def fold_table():
    """(char, replacement) for every accented Latin, Greek and Cyrillic letter."""
    out = dict(SPECIAL)
    ranges = [(0x00C0, 0x024F), (0x0370, 0x03FF), (0x0400, 0x04FF), (0x1E00, 0x1EFF)]
    for lo, hi in ranges:
        for code in range(lo, hi + 1):
            c = chr(code).lower()
            if len(c) != 1 or c in out:
                continue
            base = "".join(ch for ch in unicodedata.normalize("NFD", c)
                           if unicodedata.category(ch) != "Mn")
            if base and base != c:
                out[c] = base
    return sorted(out.items())


FOLD = dict(fold_table())


def normalize(text):
    words, word = [], []
    for c in text.lower():
        if c == ".":
            continue
        c = FOLD.get(c, c)
        for ch in c:
            if ch.isalnum():
                word.append(ch)
            else:
                if word:
                    words.append("".join(word))
                word = []
    if word:
        words.append("".join(word))
    return " ".join(words)


def rust_str(s):
    return json.dumps(s, ensure_ascii=False)


def main():
    entries = json.load(open(ISO))["3166-1"]
    names = {}

    def add(name, code):
        key = normalize(name)
        if key.isascii() and len(key) <= 3:
            return  # codes are matched as codes
        names.setdefault(key, set()).add(code)

    for e in entries:
        for field in ("name", "common_name", "official_name"):
            if field in e:
                add(e[field], e["alpha_2"])
    english = {e["alpha_2"]: e["name"] for e in entries}
    for code, langs in LANGUAGES.items():
        for lang in langs:
            t = gettext.translation("iso_3166-1", LOCALES, [lang])
            local = t.gettext(english[code])
            add(local, code)
            for e in entries:
                if e["alpha_2"] == code:
                    for field in ("common_name", "official_name"):
                        if field in e:
                            add(t.gettext(e[field]), code)
    for code, extra in EXTRA.items():
        for name in extra:
            key = normalize(name)
            names.setdefault(key, set()).add(code)
    ambiguous = sorted(k for k, v in names.items() if len(v) > 1)
    for k in ambiguous:
        print(f"dropped ambiguous name {k!r}: {sorted(names[k])}", file=sys.stderr)
        del names[k]

    print("//! Generated by `tools/country_names.py` from Debian's iso-codes 4.15.0 (English")
    print("//! names from iso_3166-1.json, each country's own name from the package's")
    print("//! translations) plus hand-written everyday names; do not edit.")
    print()
    print("/// (normalized name, alpha-2 code), sorted by name.")
    print("pub(crate) const NAMES: &[(&str, &str)] = &[")
    for key in sorted(names):
        print(f"    ({rust_str(key)}, {rust_str(next(iter(names[key])))}),")
    print("];")
    print()
    print("/// (letter, its replacement without accents), sorted by letter.")
    print("pub(crate) const FOLD: &[(char, &str)] = &[")
    for c, r in fold_table():
        print(f"    ({json.dumps(c, ensure_ascii=False).replace(chr(34), chr(39))}, {rust_str(r)}),")
    print("];")


main()
