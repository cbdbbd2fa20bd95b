//! Many canaries at once: the controller's reconciler over in-memory ports
//! (no API server), each canary rolled out from initialization to promotion
//! at Flagger's 10 s interval, judged by the real built-in policy through
//! one shared runtime. A virtual clock moves 10 s per round; each round
//! reconciles every canary once, as the controller's requeue would.
//!
//! Prints the wall time of each round (it must stay well under the 10 s
//! interval for one controller to keep up), the policy decisions per second
//! and the process's peak RSS (target: 10,000 canaries within 512 MiB).
//!
//! `cargo bench -p warbler --bench canaries` (10,000 canaries);
//! `WARBLER_BENCH_CANARIES=1000` for another count.

use std::sync::Arc;
use std::sync::atomic::{AtomicI64, Ordering};
use std::time::{Duration, Instant};

use futures::StreamExt;
use warbler::canary::{Canary, ShadowPolicySpec};
use warbler::judge::RuntimeJudge;
use warbler::policy::{PolicyRuntime, RuntimeConfig};
use warbler::ports::memory::{MemoryPlatform, MemoryRouter, ScriptedHooks, ScriptedMetrics};
use warbler::ports::{Clock, Journal, JournalEntry, Judge, PortError};
use warbler::reconciler::Reconciler;
use warbler_guest_sdk::{EarlierStep, Input, Phase, Verdict};

const CANARY: &str = r#"
apiVersion: warbler.dev/v1alpha1
kind: Canary
metadata: { name: NAME, namespace: bench }
spec:
  targetRef: { apiVersion: apps/v1, kind: Deployment, name: NAME }
  service: { port: 9898 }
  analysis:
    interval: 10s
    threshold: 3
    maxWeight: 50
    stepWeight: 10
    metrics:
    - name: request-success-rate
      thresholdRange: { min: 99 }
      interval: 1m
    - name: request-duration
      thresholdRange: { max: 250 }
      interval: 1m
"#;

/// Reconciles in flight at once, as the controller's concurrency allows.
const IN_FLIGHT: usize = 64;

/// One clock for every canary, moved by the bench.
#[derive(Clone)]
struct VirtualClock(Arc<AtomicI64>);

impl Clock for VirtualClock {
    fn now_ms(&self) -> i64 {
        self.0.load(Ordering::Relaxed)
    }
}

/// One policy runtime for every canary, as in the controller.
#[derive(Clone)]
struct SharedJudge(Arc<RuntimeJudge>);

impl Judge for SharedJudge {
    async fn judge(&self, canary: &Canary, input: &Input) -> Result<Verdict, String> {
        self.0.judge(canary, input).await
    }

    fn policy_digest(&self, canary: &Canary) -> Option<String> {
        self.0.policy_digest(canary)
    }

    async fn reads_earlier_steps(&self, canary: &Canary) -> bool {
        self.0.reads_earlier_steps(canary).await
    }

    async fn judge_shadow(
        &self,
        shadow: &ShadowPolicySpec,
        input: &Input,
    ) -> Result<Verdict, String> {
        self.0.judge_shadow(shadow, input).await
    }
}

/// The controller writes journals to disk; here they are counted, so that
/// the RSS measured is the controller's, not a journal kept in memory.
#[derive(Default)]
struct CountingJournal(std::sync::atomic::AtomicU64);

impl Journal for CountingJournal {
    async fn append(&self, _entry: &JournalEntry) -> Result<(), PortError> {
        self.0.fetch_add(1, Ordering::Relaxed);
        Ok(())
    }

    async fn earlier_steps(
        &self,
        _canary: &str,
        _run_started_ms: i64,
        _step: u32,
    ) -> Result<Vec<EarlierStep>, PortError> {
        Err(PortError {
            port: "journal",
            message:
                "the bench's journal keeps no steps: bench a policy that reads no earlier steps"
                    .to_owned(),
        })
    }
}

type BenchReconciler = Reconciler<
    MemoryPlatform,
    MemoryRouter,
    ScriptedMetrics,
    ScriptedHooks,
    SharedJudge,
    CountingJournal,
    VirtualClock,
>;

struct Subject {
    reconciler: BenchReconciler,
    canary: Canary,
}

fn peak_rss_mib() -> f64 {
    let status = std::fs::read_to_string("/proc/self/status").unwrap_or_default();
    status
        .lines()
        .find_map(|line| line.strip_prefix("VmHWM:"))
        .and_then(|rest| {
            rest.trim()
                .trim_end_matches("kB")
                .trim()
                .parse::<f64>()
                .ok()
        })
        .map_or(f64::NAN, |kib| kib / 1024.0)
}

fn main() {
    let count: usize = std::env::var("WARBLER_BENCH_CANARIES")
        .ok()
        .and_then(|n| n.parse().ok())
        .unwrap_or(10_000);
    let runtime = Arc::new(PolicyRuntime::new(RuntimeConfig::default()).expect("engine"));
    let judge = SharedJudge(Arc::new(RuntimeJudge::new(runtime)));
    let clock = VirtualClock(Arc::new(AtomicI64::new(1_795_000_000_000)));
    let mut subjects: Vec<Subject> = (0..count)
        .map(|i| {
            let name = format!("app-{i}");
            let canary = Canary::from_yaml("bench", &CANARY.replace("NAME", &name)).unwrap();
            let metrics = ScriptedMetrics::default();
            metrics.set("request-success-rate", 99.9);
            metrics.set("request-duration", 120.0);
            Subject {
                reconciler: Reconciler {
                    platform: MemoryPlatform::with_target("app:1"),
                    router: MemoryRouter::default(),
                    metrics,
                    hooks: ScriptedHooks::default(),
                    judge: judge.clone(),
                    journal: CountingJournal::default(),
                    clock: clock.clone(),
                },
                canary,
            }
        })
        .collect();
    let tokio = tokio::runtime::Runtime::new().expect("tokio");
    println!("{count} canaries, {IN_FLIGHT} reconciles in flight, 10 s interval (virtual clock)");
    println!("after creating them: peak RSS {:.0} MiB", peak_rss_mib());

    let started = Instant::now();
    let mut rounds = Vec::new();
    for round in 1..=14 {
        if round == 3 {
            for subject in &subjects {
                subject.reconciler.platform.deploy("app:2");
            }
        }
        let began = Instant::now();
        tokio.block_on(async {
            futures::stream::iter(subjects.iter_mut())
                .for_each_concurrent(IN_FLIGHT, |subject| async move {
                    if let Ok(outcome) = subject.reconciler.reconcile(&subject.canary).await {
                        subject.canary.status = outcome.status;
                    }
                })
                .await;
        });
        let took = began.elapsed();
        rounds.push(took);
        let promoted = subjects
            .iter()
            .filter(|s| s.canary.status.phase == Phase::Succeeded)
            .count();
        println!(
            "round {round:>2}: {:>7.1} ms for {count} reconciles ({:.1}% of the interval), {promoted} promoted",
            took.as_secs_f64() * 1000.0,
            took.as_secs_f64() / 10.0 * 100.0,
        );
        clock.0.fetch_add(10_000, Ordering::Relaxed);
    }
    let decisions: u64 = subjects
        .iter()
        .map(|s| s.reconciler.journal.0.load(Ordering::Relaxed))
        .sum();
    let judging: Duration = rounds.iter().sum();
    let promoted = subjects
        .iter()
        .filter(|s| s.canary.status.phase == Phase::Succeeded)
        .count();
    let slowest = rounds.iter().max().copied().unwrap_or_default();
    println!(
        "{decisions} policy decisions in {:.1} s of reconciling ({:.0} decisions/s); slowest round {:.1} s of the 10 s interval",
        judging.as_secs_f64(),
        decisions as f64 / judging.as_secs_f64(),
        slowest.as_secs_f64()
    );
    println!(
        "{promoted} of {count} promoted; peak RSS {:.0} MiB (target: 10,000 canaries within 512 MiB); total {:.1} s",
        peak_rss_mib(),
        started.elapsed().as_secs_f64()
    );
}
