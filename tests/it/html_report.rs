//! The HTML reports (`drift --format html`, `seats --format html`): one self-contained
//! page (no script, no external asset, a Content-Security-Policy that forbids loading
//! any), every name from the tenant escaped, byte-identical across runs — and rendered in
//! headless Chromium at a phone's and a desktop's size: the screenshot has that size and
//! the page logs nothing to the console (no error, no blocked load). The Chromium part
//! skips with a message when Debian's `chromium` is not installed (`.ci/run` installs it).

use std::path::{Path, PathBuf};
use std::process::Command;

use licensectl::snapshot::TenantSnapshot;

use crate::util::{contoso, licensectl, show, text};

/// `licensectl ARGS`, its stdout, asserting the exit code.
fn run(args: &[&str], code: i32) -> String {
    let out = licensectl().args(args).output().expect("runs");
    assert_eq!(out.status.code(), Some(code), "{}", show(&out));
    text(&out.stdout)
}

/// The example tenant with hostile names: markup, a quote, a bidi override.
fn hostile(dir: &Path) -> PathBuf {
    let mut t: TenantSnapshot = contoso();
    for g in &mut t.groups {
        if g.display_name == "SG-License-M365-E3" {
            g.display_name = "<script>alert(1)</script>\"'\u{202e}".into();
        }
    }
    let path = dir.join("hostile.json");
    t.write(&path).expect("written");
    path
}

fn self_contained(page: &str) {
    assert!(
        page.starts_with("<!DOCTYPE html>"),
        "{}",
        &page[..80.min(page.len())]
    );
    assert!(page.contains(
        "Content-Security-Policy\" content=\"default-src 'none'; style-src 'unsafe-inline'\""
    ));
    assert!(page.contains("name=\"viewport\""));
    for forbidden in [
        "<script", "<link", "<img", "<iframe", "src=", "href=", "http://", "https://", "@import",
        "url(",
    ] {
        assert!(!page.contains(forbidden), "the page holds {forbidden}");
    }
}

#[test]
fn drift_and_seats_render_as_self_contained_escaped_html() {
    let dir = tempfile::tempdir().expect("temp dir");
    let tenant = hostile(dir.path());
    let tenant = tenant.to_str().expect("utf-8");
    let args = [
        "drift",
        "--config",
        "examples/contoso",
        "--snapshot",
        tenant,
        "--format",
        "html",
    ];
    let page = run(&args, 2);
    self_contained(&page);
    assert!(
        page.contains("&lt;script&gt;alert(1)&lt;/script&gt;&quot;&#39;\\u{202e}"),
        "escaped"
    );
    assert!(page.contains("class=\"bar\""), "seat bars");
    assert!(page.contains("<table class=\"cards\">"), "the drift table");
    assert!(page.contains("<code>bob@contoso.com</code>"));
    assert_eq!(run(&args, 2), page, "byte-identical across runs");

    let seats = run(
        &[
            "seats",
            "--snapshot",
            tenant,
            "--format",
            "html",
            "--as-of",
            "2026-12-01",
        ],
        0,
    );
    self_contained(&seats);
    assert!(
        seats.contains("<h1>licensectl seats for <code>contoso.onmicrosoft.com"),
        "{seats}"
    );
    assert!(seats.contains("DESKLESSPACK"));
}

/// Debian's Chromium, when installed.
fn chromium() -> Option<PathBuf> {
    let path = std::env::var_os("PATH")?;
    std::env::split_paths(&path)
        .flat_map(|d| ["chromium", "chromium-browser"].map(|n| d.join(n)))
        .find(|p| p.is_file())
}

/// Renders `page` in headless Chromium at `width`×`height`; the PNG's size and every
/// console message Chromium logged.
fn render(
    chromium: &Path,
    dir: &Path,
    page: &str,
    width: u32,
    height: u32,
) -> ((u32, u32), Vec<String>) {
    let html = dir.join(format!("page-{width}.html"));
    std::fs::write(&html, page).expect("page");
    let png = dir.join(format!("shot-{width}.png"));
    let profile = tempfile::tempdir().expect("profile");
    let out = Command::new(chromium)
        .args([
            "--headless",
            "--no-sandbox",
            "--disable-gpu",
            "--disable-quic",
            "--no-first-run",
            "--disable-background-networking",
            "--disable-component-update",
            "--disable-sync",
            "--enable-logging=stderr",
            "--v=0",
        ])
        .arg(format!("--user-data-dir={}", profile.path().display()))
        .arg(format!("--window-size={width},{height}"))
        .arg(format!("--screenshot={}", png.display()))
        .arg(format!("file://{}", html.display()))
        .output()
        .expect("chromium runs");
    let bytes = std::fs::read(&png).unwrap_or_else(|e| {
        panic!(
            "no screenshot ({e}): {}",
            String::from_utf8_lossy(&out.stderr)
        )
    });
    assert_eq!(&bytes[..8], b"\x89PNG\r\n\x1a\n", "a PNG");
    let size = (
        u32::from_be_bytes([bytes[16], bytes[17], bytes[18], bytes[19]]),
        u32::from_be_bytes([bytes[20], bytes[21], bytes[22], bytes[23]]),
    );
    let console = String::from_utf8_lossy(&out.stderr)
        .lines()
        .filter(|l| l.contains(":CONSOLE"))
        .map(str::to_owned)
        .collect();
    (size, console)
}

#[test]
fn the_reports_render_in_headless_chromium_without_console_errors() {
    let Some(chromium) = chromium() else {
        #[allow(clippy::print_stdout)]
        {
            println!("skipping: chromium is not installed (apt-get install chromium)");
        }
        return;
    };
    let dir = tempfile::tempdir().expect("temp dir");
    // The check itself works: a page that logs an error is caught.
    let (_, console) = render(
        &chromium,
        dir.path(),
        "<!DOCTYPE html><html><body><script>console.error('licensectl-probe')</script></body></html>",
        412,
        915,
    );
    assert!(
        console.iter().any(|l| l.contains("licensectl-probe")),
        "Chromium reports console messages on stderr: {console:?}"
    );
    let drift = run(
        &[
            "drift",
            "--config",
            "examples/contoso",
            "--snapshot",
            "examples/contoso/tenant.json",
            "--format",
            "html",
        ],
        2,
    );
    let seats = run(
        &[
            "seats",
            "--snapshot",
            "examples/contoso/tenant.json",
            "--config",
            "examples/contoso",
            "--format",
            "html",
            "--as-of",
            "2026-12-01",
        ],
        0,
    );
    for (name, page) in [("drift", &drift), ("seats", &seats)] {
        // A phone (412×915 CSS pixels) and a desktop.
        for (w, h) in [(412, 915), (1280, 800)] {
            let (size, console) = render(&chromium, dir.path(), page, w, h);
            assert_eq!(size, (w, h), "{name} at {w}×{h}");
            assert!(console.is_empty(), "{name} at {w}×{h} logged: {console:?}");
        }
    }
}
