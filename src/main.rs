//! The `licensectl` binary: parses arguments and dispatches; all work lives in the library.

// mimalloc: config loading and planning allocate millions of small values on two threads,
// where it is markedly faster than the system allocator (BENCHMARKS.md, validate).
#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;

fn main() -> std::process::ExitCode {
    licensectl::cli::main()
}
