//! The root package's integration tests, one binary (one link of the dependencies, not one
//! per file), one module per area:
//! - the CLI end to end: `validate` and `schema` (`validate_cli`), `plan` and `drift` from
//!   a snapshot (`cli_plan`) and live (`live_plan`), attribute rules in the config
//!   (`rules_config`), through the CLI (`rules_cli`: `explain`, plan-time problems) and
//!   against the emulator (`rules_live`), `export` (`export`), `emulator`
//!   (`emulator_cli`), error printing (`cli_errors`), a reader that stops early
//!   (`broken_pipe`), and the README's console examples (`readme`);
//! - `apply` against the emulator (`apply_emulator`), under injected faults
//!   (`apply_faults`), under replication lag (`apply_lag`), with hand-edited saved plans
//!   (`apply_trust`), its last gate fed writes that bypass the planner (`apply_gate`) and
//!   its permission preflight (`apply_preflight`);
//! - GitOps: `licensectl comment` against local stand-ins of GitHub's REST API and Azure
//!   DevOps' pull-request threads (`comment_github`, `comment_azure`; the stand-ins in
//!   `platforms`), the GitHub Action's shell steps (`action`), Markdown budgets
//!   (`plan_budget`);
//! - the library: renderings (`render`), the loader on hostile input (`load_robustness`),
//!   the Graph client against the emulator (`live_graph`) and a scripted double
//!   (`graph_client`), and the hardening modules named for what they guard;
//! - issue 18's ergonomics: `init` (`init`), completions and man pages (`completions`),
//!   colour, `--quiet`, help and version on a terminal and in a pipe (`terminal`), and
//!   the progress totals of a live read (`progress`).
//!
//! - license operations (issue 16) against the emulator: `reprocess` (`ops_reprocess`), the
//!   staged migration to group licensing (`ops_migrate`), reclaim rules and subscription
//!   expiry (`ops_reclaim`); the HTML reports, rendered in
//!   headless Chromium (`html_report`);
//!
//! `util` holds the one `licensectl` command and the emulator helpers, `support` the
//! scripted Graph double, `churn` the generated tenant and config shared with the apply
//! benchmark. Fixtures stay in `tests/fixtures/`.

mod action;
mod apply_emulator;
mod apply_faults;
mod apply_gate;
mod apply_lag;
mod apply_preflight;
mod apply_trust;
mod broken_pipe;
mod churn;
mod cli_errors;
mod cli_plan;
mod comment_azure;
mod comment_github;
mod completions;
mod config_files;
mod emulator_cli;
mod export;
mod graph_bounds;
mod graph_client;
mod html_report;
mod init;
mod least_privilege;
mod live_graph;
mod live_plan;
mod load_robustness;
mod ops_migrate;
mod ops_reclaim;
mod ops_reprocess;
mod plan_budget;
mod platforms;
mod progress;
mod read_rounds;
mod readme;
mod render;
mod rules_cli;
mod rules_config;
mod rules_live;
mod snapshot_files;
mod support;
mod terminal;
mod util;
mod validate_cli;
