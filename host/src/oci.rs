//! Policies shared through OCI registries.
//!
//! A policy is published as a CNCF Wasm OCI artifact (one `application/wasm`
//! layer, a `application/vnd.wasm.config.v0+json` config); artifacts in
//! Kubewarden's and the older module layouts load too. What is pulled lands
//! in a content-addressed [`BlobStore`] and is re-verified on every read, so
//! a policy pinned by digest, or a tag resolved once, keeps working while the
//! registry is down. Policies can be required to carry cosign-compatible
//! keyed signatures, checked before anything runs.

mod artifact;
mod credentials;
mod digest;
mod error;
mod reference;
mod registry;
mod signature;
mod store;

pub use artifact::{ArtifactToPush, Layout, PolicyArtifact, Provenance};
pub use credentials::DockerConfig;
pub use error::OciError;
pub use reference::{OciReference, SCHEME};
pub use registry::{DEFAULT_MAX_POLICY_SIZE, PolicyRegistry, PulledPolicy, RegistryOptions};
pub use signature::{TrustedKey, TrustedKeys};
pub use store::BlobStore;
