//! Compiles the test-only guest components.

#[path = "../../host/build/wasm_guests.rs"]
mod wasm_guests;

fn main() {
    let manifest = std::path::PathBuf::from(std::env::var_os("CARGO_MANIFEST_DIR").unwrap());
    let workspace = manifest.join("../..");
    let dir = wasm_guests::build(
        &workspace,
        "wasm32-wasip2",
        &[
            "warbler-hostile-guest",
            "warbler-policy-zscore",
            "warbler-contract-0-1-0-guest",
        ],
    );
    println!("cargo:rerun-if-changed=hostile");
    println!("cargo:rerun-if-changed=contract-0-1-0");
    println!(
        "cargo:rerun-if-changed={}",
        workspace.join("policies/examples/rust-zscore").display()
    );
    println!("cargo:rustc-env=WARBLER_TEST_GUEST_DIR={}", dir.display());
}
