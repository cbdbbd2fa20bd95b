//! Compiles guest crates of this workspace to WebAssembly (profile `policy`)
//! from a build script. Shared by the host's build script (built-in policies)
//! and the test guests' one.

use std::path::{Path, PathBuf};
use std::process::Command;

/// Builds `packages` for `target` and returns the directory that holds their
/// `.wasm` files: components for `wasm32-wasip2`, core modules for
/// `wasm32-unknown-unknown`. `workspace` is the workspace root.
pub fn build(workspace: &Path, target: &str, packages: &[&str]) -> PathBuf {
    // A target directory of its own: the outer cargo holds the lock on the
    // regular one while build scripts run.
    let target_dir = std::env::var_os("CARGO_TARGET_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|| workspace.join("target"))
        .join("wasm");
    let cargo = std::env::var_os("CARGO").unwrap_or_else(|| "cargo".into());
    let mut command = Command::new(cargo);
    command
        .current_dir(workspace)
        .args(["build", "--target", target, "--profile", "policy"])
        .arg("--target-dir")
        .arg(&target_dir);
    for package in packages {
        command.args(["--package", package]);
    }
    // The outer build's flags and wrappers (clippy, coverage) are for the host
    // target; they must not leak into the guest build.
    for var in [
        "CARGO_ENCODED_RUSTFLAGS",
        "RUSTFLAGS",
        "CARGO_BUILD_RUSTFLAGS",
        "RUSTC_WORKSPACE_WRAPPER",
        "RUSTC_WRAPPER",
        "CARGO_TARGET_DIR",
        "CARGO_BUILD_TARGET",
    ] {
        command.env_remove(var);
    }
    let status = command
        .status()
        .expect("could not run cargo to build the policy components");
    assert!(
        status.success(),
        "building {packages:?} for {target} failed; run `rustup target add {target}` if the target is missing"
    );
    for watched in ["guest-sdk", "wit", "Cargo.lock", "Cargo.toml", ".cargo"] {
        println!(
            "cargo:rerun-if-changed={}",
            workspace.join(watched).display()
        );
    }
    target_dir.join(target).join("policy")
}
