//! The JavaScript client library's own tests (`clients/js/test`, Node's
//! test runner), run from `cargo test` so that one command tests
//! everything. The end-to-end ones among them get a real `fengqiao` binary
//! through `FENGQIAO_BIN`.

use std::path::Path;
use std::process::Command;

use fengqiao_tests::skip;

#[test]
fn the_client_library_passes_its_own_tests() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("..");
    let node = fengqiao_tests::browser::node_available();
    if !node || !root.join("node_modules/@automerge/automerge").exists() {
        skip(
            "the JavaScript client library's tests",
            "they need Node.js 20 and the web packages (run `npm ci` at the repository root)",
        );
        return;
    }
    let output = Command::new("node")
        .args(["--test", "--test-reporter=spec", "--test-timeout=120000"])
        .arg("test/")
        .current_dir(root.join("clients/js"))
        .env("FENGQIAO_BIN", fengqiao_tests::process::binary())
        .output()
        .expect("node runs");
    let stdout = String::from_utf8_lossy(&output.stdout);
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(
        output.status.success(),
        "the client library's tests failed:\n{stdout}\n{stderr}"
    );
    // A run that found no tests would pass too.
    assert!(stdout.contains("pass "), "{stdout}");
    assert!(!stdout.contains("pass 0"), "no test ran:\n{stdout}");
    if fengqiao_tests::require_all() {
        assert!(
            stdout.contains("skipped 0"),
            "tests were skipped:\n{stdout}"
        );
    }
}

/// The library's public API is typed (JSDoc in the sources, `index.d.ts`);
/// TypeScript checks that the sources agree with their types.
#[test]
fn the_client_library_type_checks() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("..");
    let tsc = root.join("node_modules/typescript/bin/tsc");
    if !tsc.exists() {
        skip(
            "the JavaScript client library's type check",
            "it needs Node.js and the web packages (run `npm ci` at the repository root)",
        );
        return;
    }
    let output = Command::new("node")
        .arg(&tsc)
        .args(["-p", "clients/js"])
        .current_dir(&root)
        .output()
        .expect("node runs");
    assert!(
        output.status.success(),
        "type errors:\n{}{}",
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    );
}

/// The field app's own tests (`apps/field/test`): every string in both
/// languages, the sentences it builds, its routes, its service worker, and
/// that the committed build is current and holds no development mock.
#[test]
fn the_field_app_passes_its_own_tests() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("..");
    if !root.join("node_modules/esbuild").exists() {
        skip(
            "the field app's tests",
            "they need Node.js 20 and the web packages (run `npm ci` at the repository root)",
        );
        return;
    }
    let output = Command::new("node")
        .args(["--test", "--test-reporter=spec", "--test-timeout=120000"])
        .arg("test/")
        .current_dir(root.join("apps/field"))
        .output()
        .expect("node runs");
    let stdout = String::from_utf8_lossy(&output.stdout);
    assert!(
        output.status.success(),
        "the field app's tests failed:\n{stdout}\n{}",
        String::from_utf8_lossy(&output.stderr)
    );
    assert!(
        stdout.contains("pass ") && !stdout.contains("pass 0"),
        "{stdout}"
    );
}
