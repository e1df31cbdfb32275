//! Locating the project's own binaries for tests that run them as child processes.

use std::path::PathBuf;
use std::process::Command;
use std::sync::OnceLock;

/// Path of the `spate-consumer` binary, built once per test process with the profile
/// this test binary was built with; `$SPATE_CONSUMER_BIN` names another build (a bench
/// running the release consumer under the debug suites).
pub fn consumer_binary() -> PathBuf {
    static BIN: OnceLock<PathBuf> = OnceLock::new();
    BIN.get_or_init(|| built("spate-consumer", "SPATE_CONSUMER_BIN"))
        .clone()
}

/// Path of the `spate-loadgen` binary, built like [`consumer_binary`]
/// (`$SPATE_LOADGEN_BIN` names another build).
pub fn loadgen_binary() -> PathBuf {
    static BIN: OnceLock<PathBuf> = OnceLock::new();
    BIN.get_or_init(|| built("spate-loadgen", "SPATE_LOADGEN_BIN"))
        .clone()
}

/// `name` of the consumer crate, built with this test binary's profile, unless the
/// variable `override_var` names one.
fn built(name: &str, override_var: &str) -> PathBuf {
    if let Some(bin) = std::env::var_os(override_var) {
        return PathBuf::from(bin);
    }
    let exe = std::env::current_exe().expect("test binary path");
    // target/<profile>/deps/<test> → target/<profile>
    let profile_dir = exe
        .parent()
        .and_then(|deps| deps.parent())
        .expect("target profile directory")
        .to_path_buf();
    let target_dir = profile_dir
        .parent()
        .expect("target directory")
        .to_path_buf();
    let mut cmd = Command::new(std::env::var("CARGO").unwrap_or_else(|_| "cargo".into()));
    cmd.args(["build", "-p", "spate-consumer", "--bin", name])
        .env("CARGO_TARGET_DIR", &target_dir)
        .current_dir(env!("CARGO_MANIFEST_DIR"));
    without_cargo_test_env(&mut cmd);
    if profile_dir.file_name().is_some_and(|n| n == "release") {
        cmd.arg("--release");
    }
    let status = cmd.status().expect("run cargo build");
    assert!(
        status.success(),
        "cargo build -p spate-consumer --bin {name} failed"
    );
    let bin = profile_dir.join(name);
    assert!(bin.exists(), "{} missing after the build", bin.display());
    bin
}

/// Removes from `cmd` the variables cargo sets for a test process: a nested cargo build
/// that saw them would change the fingerprints of build scripts and rebuild them.
pub(crate) fn without_cargo_test_env(cmd: &mut Command) {
    for (key, _) in std::env::vars_os() {
        let key = key.to_string_lossy();
        if (key.starts_with("CARGO_") && key != "CARGO_HOME" && key != "CARGO_TARGET_DIR")
            || key.starts_with("RUST_TEST")
            || key == "OUT_DIR"
        {
            cmd.env_remove(key.as_ref());
        }
    }
}
