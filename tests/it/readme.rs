//! Executes the ```` ```console ```` examples of the README (and the docs that have them:
//! export.md, cli.md, operations.md)
//! with trycmd: each `$ licensectl …` line runs the real binary from the repository root,
//! and its exit code (`? N`, default 0) and combined output must match.

#[test]
fn readme_examples_run_as_documented() {
    trycmd::TestCases::new()
        .register_bin("licensectl", trycmd::cargo::cargo_bin!("licensectl"))
        .env("NO_COLOR", "1")
        .case("README.md")
        .case("docs/config.md")
        .case("docs/plan.md")
        .case("docs/export.md")
        .case("docs/cli.md")
        .case("docs/operations.md");
}
