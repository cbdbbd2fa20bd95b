//! `spec.local` (Warbler): run a Canary on one machine with no cluster. The
//! primary and the canary are either upstream URLs or commands Warbler
//! starts and supervises; the embedded proxy splits traffic between them.

use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::time::Duration;

use serde::{Deserialize, Serialize};

use super::duration::serde_go;

/// `spec.local`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct LocalSpec {
    /// Where the proxy takes the service's traffic; `127.0.0.1:PORT` with
    /// `spec.service.port` when unset.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub listen: Option<SocketAddr>,
    /// Where the proxy serves `/metrics` for Prometheus; a free loopback
    /// port when unset.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub metrics_listen: Option<SocketAddr>,
    /// Path probed for readiness (a 2xx or 3xx answer means ready).
    #[serde(default = "default_readiness_path")]
    pub readiness_path: String,
    /// The stable release Warbler starts with.
    pub primary: LocalBackend,
    /// The release to analyse; changing it starts a new run.
    pub canary: LocalBackend,
    /// How the proxy protects itself from slow, idle or too many clients.
    #[serde(default)]
    pub proxy: ProxyLimits,
}

/// `spec.local.proxy`: the embedded proxy's limits on clients.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct ProxyLimits {
    /// Connections served at once; further clients wait in the listen
    /// backlog until one closes. Default 10,000.
    #[serde(default = "default_max_connections")]
    pub max_connections: usize,
    /// Time an HTTP/1 client has to send a request's headers, counted from
    /// when the connection is ready for the next request: a slow client
    /// and an idle keep-alive connection are both closed after it.
    /// Default 10s.
    #[serde(with = "serde_go", default = "default_header_read_timeout")]
    pub header_read_timeout: Duration,
    /// HTTP/2 connections are pinged after this long without traffic and
    /// closed if the ping is not answered within it. Default 60s.
    #[serde(with = "serde_go", default = "default_idle_timeout")]
    pub idle_timeout: Duration,
}

impl Default for ProxyLimits {
    fn default() -> Self {
        ProxyLimits {
            max_connections: default_max_connections(),
            header_read_timeout: default_header_read_timeout(),
            idle_timeout: default_idle_timeout(),
        }
    }
}

fn default_max_connections() -> usize {
    10_000
}

fn default_header_read_timeout() -> Duration {
    Duration::from_secs(10)
}

fn default_idle_timeout() -> Duration {
    Duration::from_secs(60)
}

fn default_readiness_path() -> String {
    "/".to_owned()
}

/// A release on this machine: a URL already serving it, or a command to run.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct LocalBackend {
    /// An HTTP URL serving the release, e.g. `http://127.0.0.1:9001`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub url: Option<String>,
    /// A command serving the release; `${PORT}` in its arguments and the
    /// `PORT` variable give the port to listen on.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub command: Vec<String>,
    /// Environment variables for the command.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub env: BTreeMap<String, String>,
}

/// What a local backend is, once checked.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum BackendKind<'a> {
    /// Already serving at this host:port.
    Url(&'a str),
    /// To be started.
    Command(&'a [String]),
}

impl LocalBackend {
    /// What this backend is; the error names the field (`spec.local.NAME`)
    /// and says how to fix it.
    pub fn kind(&self, field: &str) -> Result<BackendKind<'_>, String> {
        match (&self.url, self.command.is_empty()) {
            (Some(_), false) => Err(format!(
                "spec.local.{field}: give either `url` or `command`, not both"
            )),
            (None, true) => Err(format!(
                "spec.local.{field}: give `url: http://HOST:PORT` or `command: [PROGRAM, ARGS...]`"
            )),
            (None, false) => Ok(BackendKind::Command(&self.command)),
            (Some(url), true) => url
                .strip_prefix("http://")
                .map(|rest| rest.trim_end_matches('/'))
                .filter(|authority| !authority.is_empty() && !authority.contains('/'))
                .map(BackendKind::Url)
                .ok_or_else(|| {
                    format!(
                        "spec.local.{field}.url: `{url}` is not a plain http://HOST:PORT URL; the proxy forwards paths as they come"
                    )
                }),
        }
    }
}

impl LocalSpec {
    /// Check both backends; the error names the field.
    pub fn validate(&self) -> Result<(), String> {
        self.primary.kind("primary")?;
        self.canary.kind("canary")?;
        if self.proxy.max_connections == 0 {
            return Err(
                "spec.local.proxy.maxConnections: 0 would serve no client; give at least 1"
                    .to_owned(),
            );
        }
        if self.proxy.header_read_timeout.is_zero() || self.proxy.idle_timeout.is_zero() {
            return Err(
                "spec.local.proxy: headerReadTimeout and idleTimeout must be above 0s".to_owned(),
            );
        }
        if !self.readiness_path.starts_with('/') {
            return Err(format!(
                "spec.local.readinessPath: `{}` must start with `/`",
                self.readiness_path
            ));
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn url(url: &str) -> LocalBackend {
        LocalBackend {
            url: Some(url.to_owned()),
            ..LocalBackend::default()
        }
    }

    #[test]
    fn a_url_backend_is_its_host_and_port() {
        assert_eq!(
            url("http://127.0.0.1:9001/").kind("primary"),
            Ok(BackendKind::Url("127.0.0.1:9001"))
        );
    }

    #[test]
    fn a_url_with_a_path_is_refused_with_the_field() {
        let err = url("http://127.0.0.1:9001/api").kind("canary").unwrap_err();
        assert!(err.starts_with("spec.local.canary.url:"), "{err}");
    }

    #[test]
    fn a_backend_needs_exactly_one_of_url_and_command() {
        let err = LocalBackend::default().kind("canary").unwrap_err();
        assert!(err.contains("give `url:"), "{err}");
        let both = LocalBackend {
            command: vec!["app".to_owned()],
            ..url("http://127.0.0.1:1")
        };
        assert!(both.kind("canary").unwrap_err().contains("not both"));
    }
}
