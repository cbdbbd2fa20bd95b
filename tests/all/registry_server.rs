//! A real OCI registry (Debian's `docker-registry`, CNCF distribution) on
//! loopback for tests, stopped by PID when dropped; and a raw client for
//! pushing artifacts no Warbler command would write.

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use sha2::{Digest, Sha256};

use super::prometheus_server::free_port;

/// A registry, stopped by PID when dropped.
pub struct Registry {
    child: Option<Child>,
    config: PathBuf,
    root: PathBuf,
    port: u16,
}

/// TLS for a registry: its certificate and key (PEM).
pub struct Tls<'a> {
    pub certificate: &'a Path,
    pub key: &'a Path,
}

impl Registry {
    /// A plain-HTTP registry storing under `dir`.
    pub fn start(dir: &Path) -> Registry {
        Registry::start_with(dir, None)
    }

    /// A registry storing under `dir`, serving TLS when given.
    pub fn start_with(dir: &Path, tls: Option<Tls<'_>>) -> Registry {
        std::fs::create_dir_all(dir).unwrap();
        let port = free_port();
        let root = dir.join("registry-storage");
        let config = dir.join(format!("registry-{port}.yml"));
        let tls = tls.map_or(String::new(), |tls| {
            format!(
                "  tls:\n    certificate: {}\n    key: {}\n",
                tls.certificate.display(),
                tls.key.display()
            )
        });
        std::fs::write(
            &config,
            format!(
                "version: 0.1\nlog:\n  level: error\n  accesslog:\n    disabled: true\nstorage:\n  filesystem:\n    rootdirectory: {}\n  delete:\n    enabled: true\nhttp:\n  addr: 127.0.0.1:{port}\n{tls}",
                root.display()
            ),
        )
        .unwrap();
        let mut registry = Registry {
            child: None,
            config,
            root,
            port,
        };
        registry.resume();
        registry
    }

    /// `127.0.0.1:PORT`.
    pub fn address(&self) -> String {
        format!("127.0.0.1:{}", self.port)
    }

    /// `oci://127.0.0.1:PORT/REPOSITORY`.
    pub fn reference(&self, repository: &str) -> String {
        format!("oci://{}/{repository}", self.address())
    }

    /// Stop it (its storage stays).
    pub fn stop(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }

    /// Start it again on the same port and storage.
    pub fn resume(&mut self) {
        let child = Command::new("docker-registry")
            .arg("serve")
            .arg(&self.config)
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("the `docker-registry` binary runs; install Debian's `docker-registry` package (tests/run.sh does)");
        self.child = Some(child);
        let deadline = Instant::now() + Duration::from_secs(30);
        while std::net::TcpStream::connect(("127.0.0.1", self.port)).is_err() {
            assert!(
                Instant::now() < deadline,
                "docker-registry did not start listening"
            );
            std::thread::sleep(Duration::from_millis(50));
        }
    }

    /// Where the registry keeps the blob `digest` (`sha256:…`).
    pub fn blob_file(&self, digest: &str) -> PathBuf {
        let hex = digest.strip_prefix("sha256:").unwrap();
        self.root
            .join("docker/registry/v2/blobs/sha256")
            .join(&hex[..2])
            .join(hex)
            .join("data")
    }

    /// Push `blobs` and then `manifest` (of `media_type`) as `repository:tag`
    /// through the distribution API itself; the manifest's digest.
    pub async fn push_raw(
        &self,
        repository: &str,
        tag: &str,
        blobs: &[&[u8]],
        manifest: &[u8],
        media_type: &str,
    ) -> String {
        let client = warbler::http::client(Duration::from_secs(30));
        let base = format!("http://{}/v2/{repository}", self.address());
        for blob in blobs {
            let started = client
                .post(format!("{base}/blobs/uploads/"))
                .send()
                .await
                .unwrap();
            assert!(started.status().is_success(), "{}", started.status());
            let location = started.headers()["location"].to_str().unwrap().to_owned();
            let location = if location.starts_with("http") {
                location
            } else {
                format!("http://{}{location}", self.address())
            };
            let separator = if location.contains('?') { '&' } else { '?' };
            let put = client
                .put(format!("{location}{separator}digest={}", digest(blob)))
                .header("content-type", "application/octet-stream")
                .body(blob.to_vec())
                .send()
                .await
                .unwrap();
            assert!(put.status().is_success(), "blob upload: {}", put.status());
        }
        let put = client
            .put(format!("{base}/manifests/{tag}"))
            .header("content-type", media_type)
            .body(manifest.to_vec())
            .send()
            .await
            .unwrap();
        assert!(
            put.status().is_success(),
            "manifest upload: {} {}",
            put.status(),
            put.text().await.unwrap_or_default()
        );
        digest(manifest)
    }
}

impl Drop for Registry {
    fn drop(&mut self) {
        self.stop();
    }
}

/// `sha256:<hex>` of `bytes`.
pub fn digest(bytes: &[u8]) -> String {
    format!("sha256:{:x}", Sha256::digest(bytes))
}
