//! How OpenBolt reaches users: `openbolt version` (what the editor extensions ask before they start the
//! server) and the workspace's crates packaging for crates.io (`cargo install openbolt` once published).
//! The platform `.vsix` is tested in a real VS Code (tests/vscode.rs), the Neovim build step in a real
//! Neovim (tests/neovim.rs).

mod support;

use std::process::Command;
use support::repository;

#[test]
fn version_says_the_version_and_the_protocol() {
    let json = Command::new(env!("CARGO_BIN_EXE_openbolt"))
        .args(["version", "--json"])
        .output()
        .expect("openbolt version --json");
    assert!(json.status.success());
    let answer: serde_json::Value = serde_json::from_slice(&json.stdout).expect("one JSON object");
    assert_eq!(
        answer,
        serde_json::json!({"name": "openbolt", "version": env!("CARGO_PKG_VERSION"), "protocol": 1})
    );
    let text = Command::new(env!("CARGO_BIN_EXE_openbolt"))
        .arg("version")
        .output()
        .expect("openbolt version");
    assert_eq!(
        String::from_utf8_lossy(&text.stdout),
        format!("openbolt {} (protocol 1)\n", env!("CARGO_PKG_VERSION"))
    );
}

/// `cargo package --workspace`: the three crates package and the packaged `openbolt` builds against the
/// packaged `openbolt-parser` and `openbolt-syntax` (cargo verifies through a local registry of them),
/// offline, from the registry cache the build filled.
#[test]
fn the_crates_package_for_crates_io() {
    let output = Command::new(env!("CARGO"))
        .args([
            "package",
            "--workspace",
            "--locked",
            "--offline",
            // A developer's uncommitted work; CI's clone is clean.
            "--allow-dirty",
        ])
        .current_dir(repository())
        .output()
        .expect("cargo package");
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(output.status.success(), "cargo package failed:\n{stderr}");
    for name in ["openbolt", "openbolt-parser", "openbolt-syntax"] {
        let krate = repository().join(format!(
            "target/package/{name}-{}.crate",
            env!("CARGO_PKG_VERSION")
        ));
        assert!(krate.is_file(), "{} is missing:\n{stderr}", krate.display());
    }
    assert!(
        stderr.contains("Verifying openbolt v"),
        "the package was not verified:\n{stderr}"
    );
}
