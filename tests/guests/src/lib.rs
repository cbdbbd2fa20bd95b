//! Paths of the test-only guest components and the Rust example policy, built from source by this crate's
//! build script.

/// A policy that attacks its sandbox; its config's `attack` field picks how.
pub const HOSTILE: &str = concat!(
    env!("WARBLER_TEST_GUEST_DIR"),
    "/warbler_hostile_guest.wasm"
);

/// The Rust implementation of the `zscore` example policy.
pub const ZSCORE: &str = concat!(
    env!("WARBLER_TEST_GUEST_DIR"),
    "/warbler_policy_zscore.wasm"
);

/// A policy built against contract 0.1.0 as published (a frozen copy of its
/// WIT, wit-bindgen without the SDK): it walks the weights by `stepWeight`.
pub const CONTRACT_0_1_0: &str = concat!(
    env!("WARBLER_TEST_GUEST_DIR"),
    "/warbler_contract_0_1_0_guest.wasm"
);
