//! Live progress of a rollout (indicatif) and its timeline table.

use std::time::{Duration, Instant};

use indicatif::{ProgressBar, ProgressStyle};
use warbler_guest_sdk::{Decision, Outcome};

use crate::local::{Progress, RunObserver};
use crate::ports::{JournalEntry, StepOutcome};
use crate::reconciler::Severity;

/// The longest phase's name, `WaitingPromotion`.
const PHASE_WIDTH: usize = 16;

/// One row of the timeline: the phase and the weight at one moment, and
/// what happened then.
struct Row {
    at: Duration,
    phase: String,
    weight: u32,
    what: String,
}

/// Shows phase, weight, each metric against its threshold and failed checks
/// while a rollout runs, then the timeline.
pub struct RolloutDisplay {
    bar: ProgressBar,
    started: Instant,
    rows: Vec<Row>,
    last_phase: Option<String>,
}

impl RolloutDisplay {
    /// A display for one rollout, titled `title`.
    pub fn new(title: &str) -> Self {
        let bar = ProgressBar::new(100);
        bar.set_style(
            ProgressStyle::with_template(
                "{spinner} {prefix:<16} canary {bar:20.cyan/blue} {pos:>3}%  {msg}",
            )
            .expect("the template is valid")
            .progress_chars("=> "),
        );
        bar.enable_steady_tick(Duration::from_millis(120));
        let display = RolloutDisplay {
            bar,
            started: Instant::now(),
            rows: Vec::new(),
            last_phase: None,
        };
        display.line(&format!("== {title}"));
        display
    }

    /// Print a line above the bar (or plainly when there is no terminal).
    pub fn line(&self, text: &str) {
        if self.bar.is_hidden() {
            println!("{text}");
        } else {
            self.bar.println(text);
        }
    }

    fn stamp(&self) -> String {
        format!("{:>6.1}s", self.started.elapsed().as_secs_f64())
    }

    /// Clear the bar and return the timeline as a table.
    pub fn finish(self) -> String {
        self.bar.finish_and_clear();
        let mut table = format!(
            "{:>7}  {:<PHASE_WIDTH$} {:>6}  {}\n",
            "time", "phase", "weight", "step"
        );
        for row in &self.rows {
            table.push_str(&format!(
                "{:>6.1}s  {:<PHASE_WIDTH$} {:>5}%  {}\n",
                row.at.as_secs_f64(),
                row.phase,
                row.weight,
                row.what
            ));
        }
        table
    }

    fn record(&mut self, phase: &str, weight: u32, what: String) {
        self.rows.push(Row {
            at: self.started.elapsed(),
            phase: phase.to_owned(),
            weight,
            what,
        });
    }
}

/// Each metric against its threshold, as the policy judged it, e.g.
/// `✔ request-success-rate 100.00 within >= 99 · ✘ … request-duration 995.00 > 500`.
fn judgements(entry: &JournalEntry) -> String {
    match &entry.outcome {
        Err(failure) => format!("policy failed: {failure}"),
        Ok(verdict) if verdict.judgements.is_empty() && entry.input.is_first_step() => {
            "the canary has no traffic yet: analysis starts once traffic reaches it".to_owned()
        }
        Ok(verdict) if verdict.judgements.is_empty() => entry
            .input
            .metrics
            .iter()
            .map(|m| {
                let value = m.canary.map_or("no data".to_owned(), |v| format!("{v:.2}"));
                format!("{} {value}", m.name)
            })
            .collect::<Vec<_>>()
            .join(" · "),
        Ok(verdict) => verdict
            .judgements
            .iter()
            .map(|j| {
                let mark = match j.outcome {
                    Outcome::Pass => "✔",
                    Outcome::Fail => "✘",
                    Outcome::NoData => "∅",
                    Outcome::Inconclusive => "?",
                };
                if j.detail.is_empty() {
                    format!("{mark} {}", j.metric)
                } else {
                    format!("{mark} {}", j.detail)
                }
            })
            .collect::<Vec<_>>()
            .join(" · "),
    }
}

fn decision(entry: &JournalEntry) -> String {
    let (analysis, state) = (&entry.input.analysis, &entry.input.state);
    match &entry.outcome {
        Err(_) => "policy failure".to_owned(),
        Ok(verdict) => match &verdict.decision {
            Decision::Advance { weight } if *weight < state.canary_weight => {
                format!("back off to {weight}%")
            }
            Decision::Advance { weight }
                if *weight == state.canary_weight && analysis.is_iteration_mode() =>
            {
                format!(
                    "iteration {}/{}",
                    state.iteration + 1,
                    analysis.iterations.unwrap_or(0)
                )
            }
            Decision::Advance { weight } => format!("advance to {weight}%"),
            Decision::Hold { failed: true, .. } => "hold (failed check)".to_owned(),
            Decision::Hold { reason, .. } => format!("hold: {reason}"),
            Decision::Promote => "promote".to_owned(),
            Decision::Rollback { reason } => format!("roll back: {reason}"),
        },
    }
}

/// What the shadow policies said, e.g. ` (shadow compare: hold: …)`;
/// empty without shadows.
fn shadows(entry: &JournalEntry) -> String {
    let said: Vec<String> = entry
        .shadows
        .iter()
        .map(|shadow| match &shadow.outcome {
            StepOutcome::Verdict(verdict) => format!("{}: {}", shadow.policy, verdict.decision),
            StepOutcome::Error(failure) => format!("{} failed: {failure}", shadow.policy),
        })
        .collect();
    if said.is_empty() {
        String::new()
    } else {
        format!(" (shadow {})", said.join("; shadow "))
    }
}

impl RunObserver for RolloutDisplay {
    fn update(&mut self, progress: &Progress<'_>) {
        let status = &progress.canary.status;
        let phase = format!("{:?}", status.phase);
        self.bar.set_prefix(phase.clone());
        self.bar.set_position(u64::from(status.canary_weight));
        for event in progress.events {
            let mark = match event.severity {
                Severity::Info => " ",
                Severity::Warning => "!",
            };
            self.line(&format!("{} {mark} {}", self.stamp(), event.message));
        }
        if let Some(error) = progress.error {
            self.line(&format!("{} ! {error} (retrying)", self.stamp()));
        }
        for entry in progress.steps {
            let threshold = entry.input.analysis.threshold;
            let failed = entry.input.state.failed_checks;
            let summary = format!(
                "{}  [failed checks {failed}/{threshold}]",
                judgements(entry)
            );
            self.line(&format!(
                "{}   step at {}%: {summary} → {}{}",
                self.stamp(),
                entry.input.state.canary_weight,
                decision(entry),
                shadows(entry)
            ));
            self.bar.set_message(summary.clone());
            // A step's row shows the moment it was judged at; what it
            // changed shows in the rows after it.
            let what = format!("{} — {}", decision(entry), judgements(entry));
            let judged_at = format!("{:?}", entry.input.state.phase);
            self.record(&judged_at, entry.input.state.canary_weight, what);
            self.last_phase = Some(judged_at);
        }
        if self.last_phase.as_deref() != Some(phase.as_str()) {
            let what = status.message.clone();
            self.record(&phase, status.canary_weight, what);
        }
        self.last_phase = Some(phase);
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;
    use warbler_guest_sdk::{Phase, Verdict};

    use super::*;
    use crate::canary::Canary;

    /// A frontend canary with its status at `phase` and `weight`.
    fn canary(phase: Phase, weight: u32, message: &str) -> Canary {
        let mut canary = Canary::from_yaml(
            "test",
            r#"{ "apiVersion": "warbler.dev/v1alpha1", "kind": "Canary",
                 "metadata": { "name": "frontend", "namespace": "podinfo" },
                 "spec": { "targetRef": { "kind": "Deployment", "name": "frontend" },
                           "service": { "port": 9898 },
                           "analysis": { "interval": "10s", "threshold": 2, "stepWeight": 10, "maxWeight": 50 } } }"#,
        )
        .unwrap();
        canary.status.phase = phase;
        canary.status.canary_weight = weight;
        canary.status.message = message.to_owned();
        canary
    }

    /// A step judged at `weight` after `iteration` steps, decided by `verdict`.
    fn step(
        weight: u32,
        iteration: u32,
        iterations: Option<u32>,
        verdict: Verdict,
    ) -> JournalEntry {
        let input = json!({
            "canary": { "name": "frontend", "namespace": "podinfo" },
            "analysis": { "intervalSeconds": 10, "threshold": 2, "stepWeight": 10, "maxWeight": 50, "iterations": iterations },
            "state": { "phase": "Progressing", "canaryWeight": weight, "failedChecks": 0, "iteration": iteration, "elapsedSeconds": 0 },
            "metrics": [{ "name": "request-success-rate", "thresholdRange": { "min": 99 }, "intervalSeconds": 60 }],
            "webhooks": [], "history": [], "nowMs": 0, "config": null
        });
        JournalEntry {
            shadows: Vec::new(),
            canary: "podinfo/frontend".to_owned(),
            policy: "builtin:threshold".to_owned(),
            policy_digest: None,
            run_started_ms: 0,
            step: iteration + 1,
            at_ms: 0,
            input: serde_json::from_value(input).unwrap(),
            outcome: Ok(verdict),
        }
    }

    /// The timeline after one reconcile that judged `steps` and left
    /// `canary`'s status.
    fn timeline(canary: &Canary, steps: &[JournalEntry]) -> Vec<String> {
        let mut display = RolloutDisplay::new("test");
        display.update(&Progress {
            canary,
            events: &[],
            steps,
            error: None,
            journal: None,
            policy: None,
        });
        display.finish().lines().map(str::to_owned).collect()
    }

    #[test]
    fn a_rollback_shows_the_step_where_it_was_judged_then_the_weight_back_at_zero() {
        let rolled_back = canary(Phase::Failed, 0, "rolled back: too slow");
        let rows = timeline(
            &rolled_back,
            &[step(30, 3, None, Verdict::rollback("too slow"))],
        );
        assert!(
            rows[1].contains("Progressing         30%  roll back: too slow"),
            "{rows:#?}"
        );
        assert!(
            rows[2].contains("Failed               0%  rolled back: too slow"),
            "{rows:#?}"
        );
    }

    #[test]
    fn waiting_promotion_keeps_the_weight_column_aligned() {
        let waiting = canary(
            Phase::WaitingPromotion,
            50,
            "waiting for promotion approval",
        );
        let rows = timeline(&waiting, &[step(50, 5, None, Verdict::promote())]);
        let column = |row: &str| row.find('%').expect("a weight");
        assert_eq!(column(&rows[1]), column(&rows[2]), "{rows:#?}");
        assert_eq!(
            rows[0].find("weight").unwrap() + "weight".len() - 1,
            column(&rows[1])
        );
    }

    #[test]
    fn a_blue_green_step_reads_as_an_iteration() {
        let progressing = canary(Phase::Progressing, 0, "iteration 3/5");
        let rows = timeline(&progressing, &[step(0, 2, Some(5), Verdict::advance(0))]);
        assert!(rows[1].contains("iteration 3/5 — "), "{rows:#?}");
    }

    #[test]
    fn the_first_step_says_analysis_waits_for_traffic_instead_of_no_data() {
        let progressing = canary(Phase::Progressing, 10, "canary weight 10");
        let rows = timeline(&progressing, &[step(0, 0, None, Verdict::advance(10))]);
        assert!(
            rows[1].contains("advance to 10% — the canary has no traffic yet: analysis starts once traffic reaches it"),
            "{rows:#?}"
        );
    }

    #[test]
    fn a_lower_weight_reads_as_backing_off() {
        let progressing = canary(Phase::Progressing, 20, "canary weight reduced to 20");
        let rows = timeline(&progressing, &[step(40, 1, None, Verdict::advance(20))]);
        assert!(rows[1].contains("back off to 20%"), "{rows:#?}");
    }
}
