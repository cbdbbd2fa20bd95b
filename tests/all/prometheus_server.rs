//! A real Prometheus server (Debian package `prometheus`) on loopback for
//! tests, stopped by PID when dropped.

use std::net::TcpListener;
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

/// A Prometheus server, stopped by PID when dropped.
pub struct Prometheus {
    child: Child,
    pub address: String,
}

impl Drop for Prometheus {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// A loopback port nothing listens on.
pub fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

/// Start Prometheus on a free loopback port, scraping
/// `127.0.0.1:target_port/metrics` every second.
pub fn start_prometheus(dir: &Path, target_port: u16) -> Prometheus {
    let config = dir.join("prometheus.yml");
    std::fs::write(
        &config,
        format!(
            "global:\n  scrape_interval: 1s\nscrape_configs:\n- job_name: linkerd-proxy\n  static_configs:\n  - targets: ['127.0.0.1:{target_port}']\n"
        ),
    )
    .unwrap();
    let port = free_port();
    let child = Command::new("prometheus")
        .arg(format!("--config.file={}", config.display()))
        .arg(format!("--storage.tsdb.path={}", dir.join("data").display()))
        .arg(format!("--web.listen-address=127.0.0.1:{port}"))
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("the `prometheus` binary runs; install Debian's `prometheus` package (tests/run.sh does)");
    let prometheus = Prometheus {
        child,
        address: format!("http://127.0.0.1:{port}"),
    };
    let deadline = Instant::now() + Duration::from_secs(30);
    while std::net::TcpStream::connect(("127.0.0.1", port)).is_err() {
        assert!(
            Instant::now() < deadline,
            "Prometheus did not start listening"
        );
        std::thread::sleep(Duration::from_millis(100));
    }
    prometheus
}

impl Prometheus {
    /// Wait until Prometheus has scraped its target twice, so that `rate()`
    /// has data from the first analysis step on.
    pub async fn wait_until_scraped(&self) {
        let source = warbler::metrics::PrometheusSource::new(&self.address);
        let deadline = Instant::now() + Duration::from_secs(60);
        loop {
            let now = warbler::ports::Clock::now_ms(&warbler::ports::SystemClock);
            let scrapes = source
                .instant("count_over_time(up[1m])", now)
                .await
                .ok()
                .flatten();
            if scrapes.is_some_and(|n| n >= 2.0) {
                return;
            }
            assert!(
                Instant::now() < deadline,
                "Prometheus never scraped its target"
            );
            tokio::time::sleep(Duration::from_millis(200)).await;
        }
    }
}
