//! `licensectl schema`: print the JSON Schema of a config file.

use super::exit;
use super::output::print;
use licensectl::config::schema;

/// Prints the schema to stdout; the committed copy is `schemas/licensectl.schema.json`.
pub(crate) fn run() -> anyhow::Result<u8> {
    print(&schema::schema_json())?;
    Ok(exit::SUCCESS)
}
