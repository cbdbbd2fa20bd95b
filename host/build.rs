//! Compiles the built-in policies so the binary can embed them.
//!
//! They are built for `wasm32-unknown-unknown` and encoded as components
//! here, rather than built for `wasm32-wasip2`: Rust's standard library for
//! WASI imports stdio, environment and exit functions that a pure policy
//! never calls, and linking those into every fresh instance cost 39% of the
//! instructions of a `describe()` and 13% of a decision (callgrind, wasmtime
//! 48). The guest SDK supplies the allocator this target needs (see
//! `guest-sdk/src/allocator.rs`).

use std::path::{Path, PathBuf};

#[path = "build/wasm_guests.rs"]
mod wasm_guests;

/// The built-in policies' crates.
const BUILTINS: [&str; 3] = [
    "warbler-policy-threshold",
    "warbler-policy-compare",
    "warbler-policy-slo-burn",
];

fn main() {
    let manifest = PathBuf::from(std::env::var_os("CARGO_MANIFEST_DIR").unwrap());
    let workspace = manifest.parent().expect("host/ sits in the workspace");
    let modules = wasm_guests::build(workspace, "wasm32-unknown-unknown", &BUILTINS);
    let out = PathBuf::from(std::env::var_os("OUT_DIR").unwrap()).join("builtin");
    std::fs::create_dir_all(&out).expect("OUT_DIR is writable");
    for package in BUILTINS {
        let file = format!("{}.wasm", package.replace('-', "_"));
        encode_component(&modules.join(&file), &out.join(&file));
    }
    println!(
        "cargo:rerun-if-changed={}",
        workspace.join("policies").display()
    );
    println!("cargo:rerun-if-changed=build");
    println!(
        "cargo:rustc-env=WARBLER_BUILTIN_POLICY_DIR={}",
        out.display()
    );
}

/// Wrap the core module at `module` (with the component type wit-bindgen
/// embedded in it) into a component at `component`.
fn encode_component(module: &Path, component: &Path) {
    let bytes = std::fs::read(module)
        .unwrap_or_else(|err| panic!("cannot read {}: {err}", module.display()));
    let encoded = wit_component::ComponentEncoder::default()
        .module(&bytes)
        .and_then(|encoder| encoder.validate(true).encode())
        .unwrap_or_else(|err| panic!("cannot make a component of {}: {err:#}", module.display()));
    std::fs::write(component, encoded)
        .unwrap_or_else(|err| panic!("cannot write {}: {err}", component.display()));
}
