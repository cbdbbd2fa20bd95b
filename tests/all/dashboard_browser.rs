//! The dashboard in a real browser: Debian's headless chromium, driven by
//! playwright-core (tests/browser/dashboard.mjs), against a real
//! `warbler run` under load whose webhook answers with markup. Screenshots
//! go to target/dashboard-screenshots/.

use std::io::{BufRead, BufReader};
use std::path::Path;
use std::process::Command;
use std::sync::mpsc;
use std::time::Duration;

use crate::http_server;
use crate::run_faults::{Fixture, signal, stop};

const BROWSER_TESTS: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/../tests/browser");
const SCREENSHOTS: &str = concat!(
    env!("CARGO_MANIFEST_DIR"),
    "/../target/dashboard-screenshots"
);

#[test]
fn a_real_runs_dashboard_updates_live_draws_its_charts_and_shows_markup_as_text() {
    assert!(
        Path::new(BROWSER_TESTS)
            .join("node_modules/playwright-core")
            .exists(),
        "run `npm ci` in tests/browser (tests/run.sh does) to install playwright-core"
    );
    let webhook = http_server::serve(|_| {
        (
            200,
            r#"<script>window.hostile = 1</script><img src=x onerror="window.hostile = 2">"#
                .to_owned(),
        )
    });
    let fixture = Fixture::edited("dashboard", |text| {
        text.replace("interval: 1s", "interval: 2s")
            .replace("maxWeight: 30", "maxWeight: 50")
            .replace(
                "    stepWeight: 10\n",
                &format!(
                    "    stepWeight: 10\n    webhooks:\n    - name: smoke\n      type: rollout\n      url: {}\n",
                    webhook.url("/smoke")
                ),
            )
    });
    let load = fixture.load(120);
    // --watch keeps the dashboard up once the rollout has ended.
    let mut run = fixture.run(&["--watch", "--dashboard", "127.0.0.1:0"]);
    let stdout = run.stdout.take().unwrap();
    let (found, url) = mpsc::channel();
    std::thread::spawn(move || {
        for line in BufReader::new(stdout).lines().map_while(Result::ok) {
            if let Some(address) = line.strip_prefix("dashboard: ") {
                let _ = found.send(address.to_owned());
            }
        }
    });
    let url = url
        .recv_timeout(Duration::from_secs(60))
        .expect("warbler run printed no `dashboard: URL` line");
    std::fs::create_dir_all(SCREENSHOTS).unwrap();
    let browser = Command::new("node")
        .current_dir(BROWSER_TESTS)
        .args(["dashboard.mjs", &url, "local/podinfo", SCREENSHOTS])
        .output()
        .expect("node runs (tests/run.sh installs it)");
    signal(&run, "INT");
    let _ = run.wait();
    stop(load);
    let output = format!(
        "{}{}",
        String::from_utf8_lossy(&browser.stdout),
        String::from_utf8_lossy(&browser.stderr)
    );
    assert!(browser.status.success(), "{output}");
    assert!(
        webhook.requests().len() >= 3,
        "the webhook was called {} times",
        webhook.requests().len()
    );
}
