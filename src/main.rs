//! The `licensectl` binary: parses arguments and dispatches to the command modules in
//! `cli/`; all licensing work lives in the library.

mod cli;

// mimalloc: config loading and planning allocate millions of small values on two threads,
// where it is markedly faster than the system allocator (BENCHMARKS.md, validate).
#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;

fn main() -> std::process::ExitCode {
    cli::main()
}
