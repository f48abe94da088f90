//! The size limits an operator may raise for a huge tenant, read from the environment
//! (docs/config.md and docs/live.md, "Limits"): `LICENSECTL_MAX_CONFIG_BYTES` (all config
//! files together), `LICENSECTL_MAX_SNAPSHOT_BYTES` (a snapshot file) and
//! `LICENSECTL_MAX_RESPONSE_BYTES` (one Graph response body). Each is a whole number of
//! bytes, optionally with a `KiB`, `MiB` or `GiB` suffix; unset or empty keeps the default.

use anyhow::{Context, bail};

use licensectl::config::ReadLimits;

/// Parses `1234`, `64MiB`, `4 GiB` (binary units only).
fn parse_bytes(text: &str) -> Option<u64> {
    let text = text.trim();
    let (number, unit) = match text.find(|c: char| !c.is_ascii_digit()) {
        Some(i) => text.split_at(i),
        None => (text, ""),
    };
    let scale: u64 = match unit.trim() {
        "" | "B" => 1,
        "KiB" => 1 << 10,
        "MiB" => 1 << 20,
        "GiB" => 1 << 30,
        _ => return None,
    };
    number.parse::<u64>().ok()?.checked_mul(scale)
}

/// The value of the limit variable `name`, or `default` when it is unset or empty.
pub(crate) fn env_bytes(name: &str, default: u64) -> anyhow::Result<u64> {
    let Some(value) = std::env::var_os(name).filter(|v| !v.is_empty()) else {
        return Ok(default);
    };
    let value = value
        .into_string()
        .ok()
        .with_context(|| format!("{name} is not valid UTF-8"))?;
    match parse_bytes(&value) {
        Some(0) | None => bail!(
            "{name}={value} is not a size: write a positive number of bytes, e.g. 4GiB or 4294967296"
        ),
        Some(bytes) => Ok(bytes),
    }
}

/// The config read limits: the defaults, with `LICENSECTL_MAX_CONFIG_BYTES`.
pub(crate) fn config_limits() -> anyhow::Result<ReadLimits> {
    let defaults = ReadLimits::default();
    Ok(ReadLimits {
        max_total_bytes: env_bytes("LICENSECTL_MAX_CONFIG_BYTES", defaults.max_total_bytes)?,
        ..defaults
    })
}

/// The largest snapshot file read: `LICENSECTL_MAX_SNAPSHOT_BYTES`, else 4 GiB.
pub(crate) fn snapshot_limit() -> anyhow::Result<u64> {
    env_bytes(
        "LICENSECTL_MAX_SNAPSHOT_BYTES",
        licensectl::snapshot::MAX_SNAPSHOT_BYTES,
    )
}

/// Loads the config directory `dir` with [`config_limits`].
pub(crate) fn load_config(
    dir: &std::path::Path,
) -> anyhow::Result<licensectl::config::LoadedConfig> {
    Ok(licensectl::config::load_with(dir, &config_limits()?))
}

#[cfg(test)]
mod tests {
    use super::parse_bytes;

    #[test]
    fn sizes_take_binary_units() {
        assert_eq!(parse_bytes("1234"), Some(1234));
        assert_eq!(parse_bytes("64MiB"), Some(64 << 20));
        assert_eq!(parse_bytes(" 4 GiB "), Some(4 << 30));
        assert_eq!(parse_bytes("1KiB"), Some(1024));
        for bad in ["", "-1", "4GB", "1.5GiB", "GiB", "99999999999999999999GiB"] {
            assert_eq!(parse_bytes(bad), None, "{bad}");
        }
    }
}
