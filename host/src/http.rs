//! The one HTTP client setup: rustls with the `ring` provider only.
//!
//! kube defaults to rustls + ring, reqwest and oci-client to rustls +
//! aws-lc-rs; with both providers linked, rustls cannot pick one and the kube
//! client panics at start. Warbler links ring alone and installs it here,
//! before any client is built.

use std::time::Duration;

/// Install the process-wide rustls provider (ring). Safe to call repeatedly.
pub fn install_crypto_provider() {
    // An error only means a provider is installed already.
    let _ = rustls::crypto::ring::default_provider().install_default();
}

/// A client for metric providers and webhooks.
pub fn client(timeout: Duration) -> reqwest::Client {
    install_crypto_provider();
    reqwest::Client::builder()
        .timeout(timeout)
        .user_agent(concat!("warbler/", env!("CARGO_PKG_VERSION")))
        .build()
        .expect("the HTTP client builds with the ring provider installed")
}
