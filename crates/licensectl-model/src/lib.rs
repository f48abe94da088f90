//! The data licensectl and its Graph emulator share: identifier newtypes for directory
//! objects and the Graph-shaped tenant snapshot model.
//!
//! This crate holds types, their parsing and their serialization only. It must not talk to
//! Graph, plan or print; both the `licensectl` package and the `graph-emulator` crate
//! depend on it, and on nothing of each other.

pub mod ids;
pub mod snapshot;
