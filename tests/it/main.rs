//! The root package's integration tests, one binary (one link of the dependencies, not one
//! per file). The CLI end to end: `validate` and `schema` (`validate_cli`), `plan` and
//! `drift` from a snapshot (`cli_plan`) and live (`live_plan`), `export` (`export`),
//! `apply` against the emulator (`apply_emulator`) and under injected faults
//! (`apply_faults`), `emulator` (`emulator_cli`), error printing (`cli_errors`), a reader
//! that stops early (`broken_pipe`), and the README's console examples
//! (`readme`). The library: renderings (`render`), the loader on hostile input
//! (`load_robustness`), the Graph client against the emulator (`live_graph`) and against
//! a scripted double (`graph_client`). The GitHub Action's shell steps (`action`).
//! Issue 18's ergonomics: `init` (`init`), completions and man pages (`completions`),
//! colour, `--quiet`, help and version on a terminal and in a pipe (`terminal`), and the
//! progress totals of a live read (`progress`).
//! `licensectl comment` against local stand-ins of
//! GitHub's REST API and Azure DevOps' pull-request threads (`comment_github`,
//! `comment_azure`; the stand-ins and the reports they post are in `platforms`). `util` holds the one `licensectl` command and the
//! emulator helpers, `support` the scripted Graph double, `churn` the generated tenant
//! and config shared with the apply benchmark. Fixtures stay in `tests/fixtures/`.

mod action;
mod apply_emulator;
mod apply_faults;
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
mod init;
mod least_privilege;
mod live_graph;
mod live_plan;
mod load_robustness;
mod plan_budget;
mod platforms;
mod progress;
mod readme;
mod render;
mod snapshot_files;
mod support;
mod terminal;
mod util;
mod validate_cli;
