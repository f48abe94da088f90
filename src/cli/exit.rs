//! Process exit codes (see the README's "Exit codes").

/// Success; for `plan`/`drift`, no changes.
pub(crate) const SUCCESS: u8 = 0;
/// An error (I/O, Graph, resolution, apply failure).
pub(crate) const ERROR: u8 = 1;
/// Changes present (`plan --detailed-exitcode`, `drift`).
pub(crate) const CHANGES: u8 = 2;
/// The plan was refused by a safety threshold.
pub(crate) const UNSAFE: u8 = 3;
/// Usage error: bad flags or arguments (sysexits `EX_USAGE`).
pub(crate) const USAGE: u8 = 64;
/// Invalid configuration (sysexits `EX_CONFIG`).
pub(crate) const INVALID_CONFIG: u8 = 78;
