//! The root package's integration tests, one binary (one link of the dependencies, not one
//! per file). The CLI end to end: `validate` and `schema` (`validate_cli`), `plan` and
//! `drift` from a snapshot (`cli_plan`) and live (`live_plan`), `export` (`export`),
//! `apply` against the emulator (`apply_emulator`), under injected faults
//! (`apply_faults`), with hand-edited saved plans (`apply_trust`) and its last gate fed
//! writes that bypass the planner (`apply_gate`), its permission preflight
//! (`apply_preflight`), `emulator`
//! (`emulator_cli`), error printing (`cli_errors`), a reader that stops early
//! (`broken_pipe`), and the README's console examples (`readme`). The library: renderings
//! (`render`), the loader on hostile input (`load_robustness`), the Graph client against
//! the emulator (`live_graph`) and against a scripted double (`graph_client`). `util`
//! holds the one `licensectl` command and the emulator helpers, `support` the scripted
//! Graph double, `churn` the generated tenant and config shared with the apply benchmark.
//! Fixtures stay in `tests/fixtures/`.

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
mod config_files;
mod emulator_cli;
mod export;
mod graph_bounds;
mod graph_client;
mod least_privilege;
mod live_graph;
mod live_plan;
mod load_robustness;
mod readme;
mod render;
mod snapshot_files;
mod support;
mod util;
mod validate_cli;
