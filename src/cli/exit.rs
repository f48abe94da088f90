//! Process exit codes (see the README's "Exit codes").

/// Success; for `plan`/`drift`, no changes.
pub const SUCCESS: u8 = 0;
/// An error (I/O, Graph, resolution, apply failure).
pub const ERROR: u8 = 1;
/// Changes present (`plan --detailed-exitcode`, `drift`).
pub const CHANGES: u8 = 2;
/// The plan was refused by a safety threshold.
pub const UNSAFE: u8 = 3;
/// Usage error: bad flags or arguments (sysexits `EX_USAGE`).
pub const USAGE: u8 = 64;
/// Invalid configuration (sysexits `EX_CONFIG`).
pub const INVALID_CONFIG: u8 = 78;
