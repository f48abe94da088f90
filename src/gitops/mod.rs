//! GitOps: the plan of a pull request as one comment per target that is updated in place,
//! labels that follow it, a drift issue that opens, updates and closes with the drift, and
//! the job summary — on GitHub (REST API) and Azure DevOps (pull-request threads).
//!
//! The pure parts decide: [`report`] reads and checks the untrusted report file (a saved
//! plan or the JSON of `plan`/`drift`), [`marker`] names a target and writes and reads the
//! hidden marker that finds its comment again, [`decide`] chooses what to create, update,
//! label or close from what the platform holds, [`env`] tells the platform from the
//! environment variables it sets. The edges talk HTTP: [`http`] sends requests (or prints
//! them, `--dry-run`) with the token kept out of every message and log, [`github`] and
//! [`azure_devops`] build each platform's documented requests and read its answers, and
//! [`flow`] strings them together. Nothing here acts beyond posting text: no command, no
//! file and no Graph call comes from a report.

pub mod azure_devops;
pub mod decide;
pub mod env;
pub mod flow;
pub mod github;
pub mod http;
pub mod marker;
pub mod report;

pub use decide::{LABEL_CHANGES, LABEL_DESTRUCTIVE, LABEL_DRIFT, LABEL_NO_CHANGES};
pub use http::{GitopsError, Http, HttpOptions, Platform, Token};
pub use marker::{State, Target};
pub use report::{Report, ReportError, ReportKind};
