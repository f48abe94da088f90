//! Configuration: loading a config directory (`licensectl.yaml` plus principal files) into
//! a [`DesiredState`], with every problem collected as a [`crate::diagnostic::Diagnostic`].
//!
//! This module reads files and checks everything that can be checked offline (syntax,
//! schema, GUID syntax, usage locations, profiles, duplicates). It must not resolve names
//! against a tenant (the planner's resolution step does) nor touch the network.

pub mod desired;

pub use desired::*;
