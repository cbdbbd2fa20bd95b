//! Latency the embedded weighted proxy adds, at 5,000 requests per second on
//! loopback: the same load sent to a sample app directly and through the
//! proxy. Target: p99 added ≤ 1 ms.
//!
//! The arms are measured in alternating rounds, so that a stall of the
//! (shared, virtual) machine lands in one round rather than skewing one arm;
//! the headline is the median over rounds, next to the figure over all
//! requests pooled. When `nginx` is installed it is measured too, as a
//! reference for what a mature proxy adds on the same machine.
//!
//! While it measures, the bench keeps every CPU out of deep idle states
//! (PM QoS, as cyclictest does): on a virtual machine whose vCPUs halt when
//! idle, waking one takes the hypervisor up to milliseconds, and that, not
//! the proxy, would set every p99 here.
//!
//! `cargo bench -p warbler --bench proxy` (release build; prints figures).

use std::fs::File;
use std::io::Write;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::Arc;
use std::time::Duration;

use warbler::load::{LoadReport, LoadSpec, run};
use warbler::local::{TrafficStats, WeightedProxy};
use warbler::sample_app::SampleApp;

const RATE: f64 = 5000.0;
const WORKERS: usize = 50;
const ROUNDS: usize = 5;
const ROUND: Duration = Duration::from_secs(4);
const WARM_UP: Duration = Duration::from_secs(2);

fn spec(url: &str, duration: Duration) -> LoadSpec {
    LoadSpec {
        url: url.parse().expect("a valid URL"),
        method: hyper::Method::GET,
        concurrency: WORKERS,
        rate_per_worker: Some(RATE / WORKERS as f64),
        duration: Some(duration),
        requests: 0,
        timeout: Duration::from_secs(5),
    }
}

fn ms(duration: Duration) -> f64 {
    duration.as_secs_f64() * 1000.0
}

fn errors(report: &LoadReport) -> u64 {
    report.errors
        + report
            .statuses
            .iter()
            .filter(|(status, _)| **status >= 500)
            .map(|(_, count)| count)
            .sum::<u64>()
}

fn print(label: &str, report: &LoadReport) {
    println!(
        "{label:<16} {:>7.0} req/s  p50 {:>6.3} ms  p99 {:>6.3} ms  p99.9 {:>6.3} ms  errors {}",
        report.rate(),
        ms(report.quantile(0.5)),
        ms(report.quantile(0.99)),
        ms(report.quantile(0.999)),
        errors(report),
    );
}

fn median(mut values: Vec<f64>) -> f64 {
    values.sort_by(f64::total_cmp);
    values[values.len() / 2]
}

/// Every request of `reports` in one report.
fn pooled(reports: &[LoadReport]) -> LoadReport {
    LoadReport::merge(
        reports.iter().cloned(),
        reports.iter().map(|report| report.elapsed).sum(),
    )
}

/// One way to reach the app, and what each round measured through it.
struct Arm {
    label: &'static str,
    url: String,
    rounds: Vec<LoadReport>,
}

impl Arm {
    fn new(label: &'static str, address: SocketAddr) -> Self {
        Arm {
            label,
            url: format!("http://{address}/"),
            rounds: Vec::new(),
        }
    }

    fn median_of_rounds(&self, q: f64) -> f64 {
        median(self.rounds.iter().map(|r| ms(r.quantile(q))).collect())
    }

    fn print_added_over(&self, direct: &Arm) {
        let (all, direct_all) = (pooled(&self.rounds), pooled(&direct.rounds));
        println!(
            "{} added: median of rounds p50 {:.3} ms, p99 {:.3} ms; all requests p50 {:.3} ms, p99 {:.3} ms",
            self.label,
            self.median_of_rounds(0.5) - direct.median_of_rounds(0.5),
            self.median_of_rounds(0.99) - direct.median_of_rounds(0.99),
            ms(all.quantile(0.5)) - ms(direct_all.quantile(0.5)),
            ms(all.quantile(0.99)) - ms(direct_all.quantile(0.99)),
        );
    }
}

/// An nginx reverse proxy in front of `app`, stopped (by PID) when dropped.
struct Nginx {
    child: Child,
    address: SocketAddr,
    _dir: tempfile::TempDir,
}

impl Nginx {
    /// Start nginx if it is installed; `None` (and a line saying so) if not.
    fn start(app: SocketAddr) -> Option<Nginx> {
        let binary = ["/usr/sbin/nginx", "/usr/bin/nginx"]
            .into_iter()
            .map(PathBuf::from)
            .find(|path| path.exists())?;
        let dir = tempfile::tempdir().expect("a temporary directory");
        let address = free_address();
        // One process (no master, so stopping it by PID stops all of
        // nginx), upstream keep-alive: nginx's usual reverse-proxy setup.
        let config = format!(
            "master_process off;\n\
             error_log {dir}/error.log;\n\
             pid {dir}/nginx.pid;\n\
             events {{ worker_connections 1024; }}\n\
             http {{\n\
               access_log off;\n\
               client_body_temp_path {dir}; proxy_temp_path {dir};\n\
               fastcgi_temp_path {dir}; uwsgi_temp_path {dir}; scgi_temp_path {dir};\n\
               upstream app {{ server {app}; keepalive 64; }}\n\
               server {{\n\
                 listen {address};\n\
                 location / {{ proxy_pass http://app; proxy_http_version 1.1; proxy_set_header Connection \"\"; }}\n\
               }}\n\
             }}\n",
            dir = dir.path().display()
        );
        let config_path = dir.path().join("nginx.conf");
        std::fs::write(&config_path, config).expect("the nginx config is written");
        let child = Command::new(&binary)
            .args(["-g", "daemon off;", "-p"])
            .arg(dir.path())
            .arg("-c")
            .arg(&config_path)
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .ok()?;
        let log = dir.path().join("error.log");
        // Built before waiting, so that a failed start is stopped on drop.
        let nginx = Nginx {
            child,
            address,
            _dir: dir,
        };
        wait_for_listener(address, &log)?;
        Some(nginx)
    }
}

impl Drop for Nginx {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn free_address() -> SocketAddr {
    std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|listener| listener.local_addr())
        .expect("a free loopback port")
}

fn wait_for_listener(address: SocketAddr, log: &Path) -> Option<()> {
    for _ in 0..100 {
        if std::net::TcpStream::connect(address).is_ok() {
            return Some(());
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    println!(
        "nginx did not start (see {}); measuring without it",
        log.display()
    );
    None
}

/// Ask the kernel to keep every CPU in its shallowest idle state for as
/// long as the returned file is open (Linux PM QoS; needs root). `None`,
/// and a line saying what that means, when it cannot.
fn keep_cpus_awake() -> Option<File> {
    let held = File::options()
        .write(true)
        .open("/dev/cpu_dma_latency")
        .and_then(|mut file| file.write_all(&0i32.to_ne_bytes()).map(|()| file));
    match held {
        Ok(file) => {
            println!(
                "CPU wake-up latency held at 0 µs through /dev/cpu_dma_latency while measuring"
            );
            Some(file)
        }
        Err(err) => {
            println!(
                "could not hold CPU wake-up latency at 0 µs (/dev/cpu_dma_latency: {err}); run as root, or expect idle CPUs' wake-ups in the p99s"
            );
            None
        }
    }
}

fn main() {
    let _cpus_awake = keep_cpus_awake();
    let runtime = tokio::runtime::Runtime::new().expect("a tokio runtime");
    runtime.block_on(async {
        let app = SampleApp {
            version: "bench".to_owned(),
            error_rate: 0.0,
            latency: Duration::ZERO,
        };
        let (app_address, _app) = app
            .spawn("127.0.0.1:0".parse().expect("an address"))
            .await
            .expect("the sample app binds");
        let proxy = WeightedProxy::new(
            Arc::new(TrafficStats::new("bench", "app")),
            warbler::canary::ProxyLimits::default(),
        );
        proxy.set_primary(Some(app_address.to_string().parse().expect("an authority")));
        let (proxy_address, _proxy) = proxy
            .spawn("127.0.0.1:0".parse().expect("an address"))
            .await
            .expect("the proxy binds");
        let nginx = Nginx::start(app_address);
        let mut arms = vec![
            Arm::new("direct", app_address),
            Arm::new("proxy", proxy_address),
        ];
        match &nginx {
            Some(nginx) => arms.push(Arm::new("nginx", nginx.address)),
            None => println!("no nginx reference arm (apt-get install nginx-light for one)"),
        }
        println!(
            "{RATE} req/s from {WORKERS} workers, {ROUNDS} alternating rounds of {}s per arm, after {}s of warm-up",
            ROUND.as_secs(),
            WARM_UP.as_secs()
        );
        for arm in &arms {
            run(&spec(&arm.url, WARM_UP)).await;
        }
        for round in 1..=ROUNDS {
            for arm in &mut arms {
                let report = run(&spec(&arm.url, ROUND)).await;
                print(&format!("round {round} {}", arm.label), &report);
                arm.rounds.push(report);
            }
        }
        let (direct, others) = arms.split_first().expect("the direct arm");
        for arm in others {
            arm.print_added_over(direct);
        }
        println!("target: the proxy's p99 added <= 1 ms");
    });
}
