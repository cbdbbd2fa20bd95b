//! The embedded local mode: one Canary rolled out on this machine, with no
//! cluster. Releases are upstream URLs or supervised commands, an embedded
//! weighted proxy shifts the traffic and counts it in Linkerd's metric
//! names, and the same reconciler as in a cluster decides.

mod children;
mod metrics_endpoint;
mod platform;
mod process;
mod proxy;
mod run;
mod source;
mod traffic;

pub use platform::LocalPlatform;
pub use proxy::WeightedProxy;
pub use run::{LocalError, LocalOptions, LocalRun, Progress, RunEnd, RunObserver};
pub use source::LocalMetrics;
pub use traffic::TrafficStats;
