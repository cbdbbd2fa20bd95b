//! `warbler run` broken the way users break it: signals, `kill -9`, a dead
//! primary, a second run on the same state, an edit mid-run, files that
//! cannot be run. Real processes throughout.

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};
use std::time::{Duration, Instant};

use crate::local_cli::{EXAMPLE, processes_with, saved_weight, warbler};
use crate::prometheus_server::free_port;

/// The example Canary with this test binary's warbler, 1 s steps, a free
/// proxy port and release versions carrying a marker unique to the test,
/// so its processes can be found.
pub(crate) struct Fixture {
    dir: tempfile::TempDir,
    pub(crate) file: PathBuf,
    pub(crate) state: PathBuf,
    pub(crate) marker: String,
    listen: u16,
}

impl Fixture {
    pub(crate) fn new(name: &str) -> Self {
        Self::edited(name, |text| text)
    }

    /// The fixture's Canary with `edit` applied to its text.
    pub(crate) fn edited(name: &str, edit: impl FnOnce(String) -> String) -> Self {
        let dir = tempfile::tempdir().unwrap();
        let marker = format!("{name}-{}", std::process::id());
        let listen = free_port();
        let text = std::fs::read_to_string(EXAMPLE)
            .unwrap()
            .replace(
                "warbler, sample-app",
                &format!("{}, sample-app", env!("CARGO_BIN_EXE_warbler")),
            )
            .replace("\"1.0.0\"", &format!("\"1.0.0-{marker}\""))
            .replace("\"1.1.0\"", &format!("\"1.1.0-{marker}\""))
            .replace("interval: 5s", "interval: 1s")
            .replace("maxWeight: 50", "maxWeight: 30")
            .replace(
                "  local:\n",
                &format!("  local:\n    listen: 127.0.0.1:{listen}\n"),
            );
        let file = dir.path().join("canary.yaml");
        std::fs::write(&file, edit(text)).unwrap();
        let state = dir.path().join("state");
        Fixture {
            dir,
            file,
            state,
            marker,
            listen,
        }
    }

    /// `warbler run FILE --state-dir STATE ARGS`, output piped.
    pub(crate) fn run(&self, args: &[&str]) -> Child {
        warbler()
            .arg("run")
            .arg(&self.file)
            .arg("--state-dir")
            .arg(&self.state)
            .args(args)
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .expect("the warbler binary runs")
    }

    /// Steady traffic through the proxy for `seconds`.
    pub(crate) fn load(&self, seconds: u32) -> Child {
        warbler()
            .args(["loadtest", &format!("http://127.0.0.1:{}/", self.listen)])
            .args(["-z", &format!("{seconds}s"), "-q", "20", "-c", "2"])
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap()
    }

    /// `warbler run` to its end under `seconds` of load: its exit code and
    /// its output (stdout, then stderr).
    pub(crate) fn run_under_load(&self, seconds: u32) -> (Option<i32>, String) {
        let load = self.load(seconds);
        let output = self.run(&[]).wait_with_output().unwrap();
        stop(load);
        (output.status.code(), text(&output))
    }

    pub(crate) fn wait_for_weight(&self, above: u64) {
        let deadline = Instant::now() + Duration::from_secs(60);
        while saved_weight(&self.state).unwrap_or(0) <= above {
            assert!(
                Instant::now() < deadline,
                "the run never passed weight {above}"
            );
            std::thread::sleep(Duration::from_millis(100));
        }
    }

    /// The command lines of the fixture's release processes.
    pub(crate) fn releases(&self) -> Vec<String> {
        processes_with(&self.marker)
    }
}

pub(crate) fn signal(child: &Child, signal: &str) {
    let sent = Command::new("kill")
        .args([&format!("-{signal}"), &child.id().to_string()])
        .status()
        .unwrap();
    assert!(sent.success());
}

fn text(output: &Output) -> String {
    format!(
        "{}\n{}",
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    )
}

/// Wait until `check` holds, for at most `seconds`.
fn eventually(seconds: u64, what: &str, mut check: impl FnMut() -> bool) {
    let deadline = Instant::now() + Duration::from_secs(seconds);
    while !check() {
        assert!(Instant::now() < deadline, "{what}");
        std::thread::sleep(Duration::from_millis(100));
    }
}

#[test]
fn sigterm_stops_the_run_like_ctrl_c_with_exit_143() {
    let fixture = Fixture::new("sigterm");
    let run = fixture.run(&[]);
    fixture.wait_for_weight(0);
    assert_eq!(fixture.releases().len(), 2, "primary and canary run");
    signal(&run, "TERM");
    let output = run.wait_with_output().unwrap();
    assert_eq!(output.status.code(), Some(143), "{}", text(&output));
    assert!(
        text(&output).contains("terminated (SIGTERM)"),
        "{}",
        text(&output)
    );
    assert_eq!(fixture.releases(), Vec::<String>::new(), "no process left");
}

#[test]
fn sigterm_while_a_webhook_hangs_stops_at_once() {
    let hanging = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let address = hanging.local_addr().unwrap();
    let fixture = Fixture::edited("hanging-hook", |text| {
        text.replace(
            "    metrics:\n",
            &format!(
                "    webhooks:\n    - {{ name: gate, type: confirm-rollout, url: \"http://{address}/\", timeout: 120s }}\n    metrics:\n"
            ),
        )
    });
    let run = fixture.run(&[]);
    // The run is up once both releases are; the gate's call then hangs.
    eventually(30, "the releases never started", || {
        fixture.releases().len() == 2
    });
    std::thread::sleep(Duration::from_millis(500));
    let sent = Instant::now();
    signal(&run, "TERM");
    let output = run.wait_with_output().unwrap();
    assert_eq!(output.status.code(), Some(143), "{}", text(&output));
    assert!(
        sent.elapsed() < Duration::from_secs(10),
        "took {:?}",
        sent.elapsed()
    );
    assert_eq!(fixture.releases(), Vec::<String>::new());
}

#[test]
fn releases_do_not_outlive_a_killed_warbler() {
    let fixture = Fixture::new("kill-9");
    let run = fixture.run(&[]);
    fixture.wait_for_weight(0);
    assert_eq!(fixture.releases().len(), 2);
    signal(&run, "KILL");
    run.wait_with_output().unwrap();
    eventually(5, "the releases outlived warbler", || {
        fixture.releases().is_empty()
    });
}

#[test]
fn a_second_run_on_the_same_state_is_refused_naming_the_first() {
    let fixture = Fixture::new("state-lock");
    let first = fixture.run(&[]);
    eventually(30, "the first run never started", || {
        fixture.state.join("status.json").exists()
    });
    let second = fixture.run(&[]).wait_with_output().unwrap();
    assert_eq!(second.status.code(), Some(3), "{}", text(&second));
    assert!(
        text(&second).contains(&format!("(PID {})", first.id())),
        "{}",
        text(&second)
    );
    signal(&first, "INT");
    assert_eq!(first.wait_with_output().unwrap().status.code(), Some(130));
}

#[test]
fn a_dead_primary_is_restarted_and_the_run_still_promotes() {
    let fixture = Fixture::new("dead-primary");
    let run = fixture.run(&[]);
    let load = fixture.load(60);
    fixture.wait_for_weight(0);
    let primary = |fixture: &Fixture| -> Option<u32> {
        fixture
            .releases()
            .iter()
            .find(|cmdline| cmdline.contains("1.0.0-"))
            .and_then(|_| pid_of(&format!("1.0.0-{}", fixture.marker)))
    };
    let first = primary(&fixture).expect("the primary runs");
    Command::new("kill")
        .args(["-KILL", &first.to_string()])
        .status()
        .unwrap();
    eventually(10, "the primary was not restarted", || {
        primary(&fixture).is_some_and(|pid| pid != first)
    });
    let output = run.wait_with_output().unwrap();
    stop(load);
    assert_eq!(output.status.code(), Some(0), "{}", text(&output));
    assert!(text(&output).contains("promoted"), "{}", text(&output));
}

fn pid_of(marker: &str) -> Option<u32> {
    std::fs::read_dir("/proc")
        .unwrap()
        .flatten()
        .filter_map(|entry| {
            let pid: u32 = entry.file_name().to_str()?.parse().ok()?;
            let cmdline = std::fs::read(entry.path().join("cmdline")).ok()?;
            String::from_utf8_lossy(&cmdline)
                .contains(marker)
                .then_some(pid)
        })
        .next()
}

pub(crate) fn stop(mut child: Child) {
    let _ = child.kill();
    let _ = child.wait();
}

#[test]
fn an_edit_mid_run_restarts_the_analysis_at_weight_zero() {
    let fixture = Fixture::new("watch-edit");
    let run = fixture.run(&["--watch"]);
    let load = fixture.load(90);
    fixture.wait_for_weight(0);
    let text_now = std::fs::read_to_string(&fixture.file).unwrap();
    std::fs::write(
        &fixture.file,
        text_now.replace(
            &format!("\"1.1.0-{}\"", fixture.marker),
            &format!("\"1.2.0-{}\"", fixture.marker),
        ),
    )
    .unwrap();
    eventually(60, "the new revision never ran", || {
        !processes_with(&format!("1.2.0-{}", fixture.marker)).is_empty()
    });
    eventually(60, "the new revision was never promoted", || {
        std::fs::read_to_string(fixture.state.join("status.json"))
            .is_ok_and(|s| s.contains("\"Succeeded\""))
    });
    signal(&run, "INT");
    let output = run.wait_with_output().unwrap();
    stop(load);
    let output = text(&output);
    assert!(output.contains("Restarting analysis"), "{output}");
    let journal =
        warbler::journal::FileJournal::read(&fixture.state.join("journal.jsonl")).unwrap();
    let revisions: Vec<&str> = journal
        .iter()
        .map(|e| e.input.canary.revision.as_str())
        .collect();
    let second = revisions.iter().position(|r| *r != revisions[0]).unwrap();
    assert_eq!(
        journal[second].input.state.canary_weight, 0,
        "the new revision's analysis starts at weight 0"
    );
}

#[test]
fn a_rerun_after_a_rollback_exits_1_and_says_why() {
    let fixture = Fixture::edited("rerun-rolled-back", |text| {
        text.replace(
            "--version, \"1.1.0-",
            "--error-rate, \"1\", --version, \"1.1.0-",
        )
    });
    let load = fixture.load(60);
    let first = fixture.run(&[]).wait_with_output().unwrap();
    stop(load);
    assert_eq!(first.status.code(), Some(1), "{}", text(&first));
    let again = fixture.run(&[]).wait_with_output().unwrap();
    assert_eq!(again.status.code(), Some(1), "{}", text(&again));
    assert!(
        text(&again).contains("rolled back in an earlier run"),
        "{}",
        text(&again)
    );
}

#[test]
fn a_taken_port_stops_the_run_with_its_own_exit_code() {
    let fixture = Fixture::new("port-taken");
    let _taken = std::net::TcpListener::bind(("127.0.0.1", fixture.listen)).unwrap();
    let output = fixture.run(&[]).wait_with_output().unwrap();
    assert_eq!(output.status.code(), Some(3), "{}", text(&output));
    assert!(
        text(&output).contains("spec.local.listen"),
        "{}",
        text(&output)
    );
}

#[test]
fn a_taken_dashboard_port_stops_the_run_and_every_release_it_started() {
    let fixture = Fixture::new("dashboard-taken");
    let taken = std::net::TcpListener::bind(("127.0.0.1", 0)).unwrap();
    let address = taken.local_addr().unwrap().to_string();
    let output = fixture
        .run(&["--dashboard", &address])
        .wait_with_output()
        .unwrap();
    assert_eq!(output.status.code(), Some(3), "{}", text(&output));
    assert!(
        text(&output).contains("cannot serve the dashboard on"),
        "{}",
        text(&output)
    );
    eventually(10, "the releases stop", || fixture.releases().is_empty());
}

#[test]
fn a_missing_metric_template_is_refused_before_anything_starts() {
    let fixture = Fixture::edited("missing-template", |text| {
        text + "    - name: errors\n      templateRef: { name: errors }\n"
    });
    let output = fixture.run(&[]).wait_with_output().unwrap();
    assert_eq!(output.status.code(), Some(2), "{}", text(&output));
    assert!(
        text(&output).contains("spec.analysis.metrics[2].templateRef"),
        "{}",
        text(&output)
    );
    assert!(!fixture.state.join("status.json").exists(), "nothing ran");
}

#[test]
fn a_relative_policy_path_is_taken_from_the_canary_files_folder() {
    let fixture = Fixture::edited("relative-policy", |text| {
        text + "    policy: { ref: policies/missing.wasm }\n"
    });
    let output = Command::new(env!("CARGO_BIN_EXE_warbler"))
        .current_dir(std::env::temp_dir())
        .arg("run")
        .arg(&fixture.file)
        .arg("--state-dir")
        .arg(&fixture.state)
        .output()
        .unwrap();
    assert_eq!(output.status.code(), Some(2), "{}", text(&output));
    let resolved = fixture.dir.path().join("policies/missing.wasm");
    assert!(
        text(&output).contains("spec.analysis.policy.ref")
            && text(&output).contains(&resolved.display().to_string()),
        "{}",
        text(&output)
    );
}

#[test]
fn an_unwritable_journal_puts_traffic_back_on_the_primary_and_stops() {
    let fixture = Fixture::new("journal-unwritable");
    let run = fixture.run(&[]);
    let load = fixture.load(60);
    fixture.wait_for_weight(0);
    // A journal that cannot be written: replaced by a folder of that name.
    let journal = fixture.state.join("journal.jsonl");
    std::fs::remove_file(&journal).unwrap();
    std::fs::create_dir(&journal).unwrap();
    let output = run.wait_with_output().unwrap();
    stop(load);
    let _ = std::fs::remove_dir(&journal);
    assert_eq!(output.status.code(), Some(3), "{}", text(&output));
    assert!(
        text(&output).contains("all traffic is back on the primary"),
        "{}",
        text(&output)
    );
    assert_eq!(fixture.releases(), Vec::<String>::new());
}

/// The state directory of a run holding only what a run leaves there.
fn state_files(state: &Path) -> Vec<String> {
    let mut names: Vec<String> = std::fs::read_dir(state)
        .unwrap()
        .flatten()
        .map(|e| e.file_name().to_string_lossy().into_owned())
        .collect();
    names.sort();
    names
}

#[test]
fn an_interrupted_run_leaves_no_temporary_files_and_resumes() {
    let fixture = Fixture::new("resume-clean");
    let run = fixture.run(&[]);
    let load = fixture.load(60);
    fixture.wait_for_weight(0);
    signal(&run, "INT");
    assert_eq!(run.wait_with_output().unwrap().status.code(), Some(130));
    assert_eq!(
        state_files(&fixture.state),
        ["journal.jsonl", "lock", "logs", "status.json"]
    );
    let again = fixture.run(&[]).wait_with_output().unwrap();
    stop(load);
    assert_eq!(again.status.code(), Some(0), "{}", text(&again));
    let journal =
        warbler::journal::FileJournal::read(&fixture.state.join("journal.jsonl")).unwrap();
    let mut steps: Vec<(i64, u32)> = journal.iter().map(|e| (e.run_started_ms, e.step)).collect();
    let all = steps.len();
    steps.dedup();
    assert_eq!(steps.len(), all, "no step journaled twice: {steps:?}");
}

#[test]
fn two_thousand_idle_clients_under_a_1024_descriptor_limit_do_not_stop_the_run() {
    use rustix::process::{Resource, getrlimit, setrlimit};
    let mut mine = getrlimit(Resource::Nofile);
    mine.current = mine.maximum;
    setrlimit(Resource::Nofile, mine).unwrap();
    // Long enough a run for the clients to connect while it goes on.
    let fixture = Fixture::edited("idle-clients", |text| {
        text.replace("interval: 1s", "interval: 2s")
            .replace("maxWeight: 30", "maxWeight: 50")
    });
    let run = Command::new("bash")
        .arg("-c")
        .arg(r#"ulimit -Sn 1024 && exec "$@""#)
        .arg("bash")
        .arg(env!("CARGO_BIN_EXE_warbler"))
        .arg("run")
        .arg(&fixture.file)
        .arg("--state-dir")
        .arg(&fixture.state)
        .env(
            "WARBLER_CACHE_DIR",
            std::env::temp_dir().join("warbler-test-cache"),
        )
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let load = fixture.load(60);
    fixture.wait_for_weight(0);
    // From 127.0.0.2: 2,000 client ports taken on 127.0.0.1 would collide
    // with the free ports other tests pick for their listeners.
    let clients = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    let proxy = std::net::SocketAddr::from(([127, 0, 0, 1], fixture.listen));
    let idle = clients.block_on(async {
        let mut idle = Vec::new();
        for _ in 0..2000 {
            let socket = tokio::net::TcpSocket::new_v4().unwrap();
            socket.bind(([127, 0, 0, 2], 0).into()).unwrap();
            idle.push(socket.connect(proxy).await.unwrap());
        }
        idle
    });
    let output = run.wait_with_output().unwrap();
    stop(load);
    drop(idle);
    assert_eq!(output.status.code(), Some(0), "{}", text(&output));
}
