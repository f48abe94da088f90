//! `licensectl schema`: print the JSON Schema of a config file.

use std::io::Write;

use super::exit;
use licensectl::config::schema;

/// Prints the schema to stdout; the committed copy is `schemas/licensectl.schema.json`.
pub(crate) fn run() -> anyhow::Result<u8> {
    std::io::stdout()
        .lock()
        .write_all(schema::schema_json().as_bytes())?;
    Ok(exit::SUCCESS)
}
