//! Compiles the built-in policies so the binary can embed them.

#[path = "build/wasm_guests.rs"]
mod wasm_guests;

fn main() {
    let manifest = std::path::PathBuf::from(std::env::var_os("CARGO_MANIFEST_DIR").unwrap());
    let workspace = manifest.parent().expect("host/ sits in the workspace");
    let dir = wasm_guests::build(workspace, &["warbler-policy-threshold"]);
    println!(
        "cargo:rerun-if-changed={}",
        workspace.join("policies").display()
    );
    println!("cargo:rerun-if-changed=build");
    println!(
        "cargo:rustc-env=WARBLER_BUILTIN_POLICY_DIR={}",
        dir.display()
    );
}
