//! A pull killed or terminated halfway through the component's download
//! leaves nothing in the policy cache that a later pull would trust: the
//! next pull fetches the component and the policy decides as it should.

use std::io::{Read, Write};
use std::net::{TcpListener, TcpStream};
use std::process::{Child, Command, Stdio};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use super::registry::{Setup, file_verdict, verdict};

/// Bytes a stalling connection passes from the registry before it stops:
/// the manifest and config (a few KiB) get through, the component does not.
const BUDGET: usize = 24 * 1024;

/// A loopback proxy to `upstream` whose connections each forward the
/// registry's first [`BUDGET`] bytes, then hang; `stalled` is set when one
/// has.
struct StallingProxy {
    address: String,
    stalled: Arc<AtomicBool>,
}

impl StallingProxy {
    fn start(upstream: String) -> StallingProxy {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let address = listener.local_addr().unwrap().to_string();
        let stalled = Arc::new(AtomicBool::new(false));
        let flag = stalled.clone();
        std::thread::spawn(move || {
            for client in listener.incoming() {
                let Ok(client) = client else { return };
                let upstream = TcpStream::connect(&upstream).unwrap();
                let (to_registry, from_registry) = (upstream.try_clone().unwrap(), upstream);
                let from_client = client.try_clone().unwrap();
                std::thread::spawn(move || pipe(from_client, to_registry, usize::MAX, None));
                let flag = flag.clone();
                std::thread::spawn(move || pipe(from_registry, client, BUDGET, Some(flag)));
            }
        });
        StallingProxy { address, stalled }
    }
}

/// Copy `from` to `to` until `budget` bytes have passed, then hold the
/// connection open without forwarding (a registry that stalls mid-blob).
fn pipe(mut from: TcpStream, mut to: TcpStream, budget: usize, stalled: Option<Arc<AtomicBool>>) {
    let mut left = budget;
    let mut buffer = [0u8; 4096];
    loop {
        let room = buffer.len().min(left.max(1));
        let n = match from.read(&mut buffer[..room]) {
            Ok(0) | Err(_) => return,
            Ok(n) => n,
        };
        if to.write_all(&buffer[..n]).is_err() {
            return;
        }
        left -= n.min(left);
        if left == 0 {
            if let Some(flag) = &stalled {
                flag.store(true, Ordering::SeqCst);
            }
            std::thread::sleep(Duration::from_secs(120));
            return;
        }
    }
}

/// `warbler policy pull` of `policy` through the proxy, into `setup`'s
/// cache, left running.
fn pull_through(setup: &Setup, proxy: &StallingProxy, policy: &str) -> Child {
    Command::new(env!("CARGO_BIN_EXE_warbler"))
        .args(["policy", "pull", policy])
        .args(["--insecure-registry", &proxy.address])
        .arg("--cache-dir")
        .arg(setup.cache())
        .env("WARBLER_CACHE_KEY", setup.dir.path().join("cache.key"))
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap()
}

fn wait_until_stalled(proxy: &StallingProxy, pull: &mut Child) {
    let deadline = Instant::now() + Duration::from_secs(30);
    while !proxy.stalled.load(Ordering::SeqCst) {
        assert!(
            pull.try_wait().unwrap().is_none(),
            "the pull ended before the download stalled"
        );
        assert!(Instant::now() < deadline, "the download never stalled");
        std::thread::sleep(Duration::from_millis(20));
    }
}

/// Interrupt a pull of the zscore policy mid-download with `signal`, then
/// pull again from the registry itself: the result is the file's verdict.
fn interrupted_then_pulled_again(signal: &str) {
    let setup = Setup::new();
    let pinned = setup.push_zscore("team/zscore");
    let layer = super::registry_server::digest(&super::registry::zscore_bytes());
    let proxy = StallingProxy::start(setup.registry.address());
    let through_proxy = pinned.replace(&setup.registry.address(), &proxy.address);

    let mut pull = pull_through(&setup, &proxy, &through_proxy);
    wait_until_stalled(&proxy, &mut pull);
    super::run_faults::signal(&pull, signal);
    let status = pull.wait().unwrap();
    assert!(!status.success(), "the interrupted pull reported success");

    assert!(
        !setup.cached_blob(&layer).exists(),
        "a component the pull never finished is in the cache"
    );
    let leftovers: Vec<_> = std::fs::read_dir(setup.cache().join("oci/tmp"))
        .map(|entries| entries.flatten().map(|e| e.path()).collect())
        .unwrap_or_default();
    assert!(leftovers.is_empty(), "half-written files: {leftovers:?}");
    assert_eq!(verdict(&setup.eval(&pinned)), file_verdict());
}

#[test]
fn a_pull_killed_mid_download_leaves_nothing_half_written() {
    interrupted_then_pulled_again("KILL");
}

#[test]
fn a_pull_terminated_mid_download_leaves_nothing_half_written() {
    interrupted_then_pulled_again("TERM");
}
