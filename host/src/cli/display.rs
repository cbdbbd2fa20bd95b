//! Live progress of a rollout (indicatif) and its timeline table.

use std::time::{Duration, Instant};

use indicatif::{ProgressBar, ProgressStyle};
use warbler_guest_sdk::{Decision, Outcome};

use crate::local::{Progress, RunObserver};
use crate::ports::JournalEntry;
use crate::reconciler::Severity;

/// One row of the timeline.
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
                "{spinner} {prefix:<12} canary {bar:20.cyan/blue} {pos:>3}%  {msg}",
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
            "{:>7}  {:<12} {:>6}  {}\n",
            "time", "phase", "weight", "step"
        );
        for row in &self.rows {
            table.push_str(&format!(
                "{:>6.1}s  {:<12} {:>5}%  {}\n",
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
    match &entry.outcome {
        Err(_) => "policy failure".to_owned(),
        Ok(verdict) => match &verdict.decision {
            Decision::Advance { weight } => format!("advance to {weight}%"),
            Decision::Hold { failed: true, .. } => "hold (failed check)".to_owned(),
            Decision::Hold { reason, .. } => format!("hold: {reason}"),
            Decision::Promote => "promote".to_owned(),
            Decision::Rollback { reason } => format!("roll back: {reason}"),
        },
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
                "{}   step at {}%: {summary} → {}",
                self.stamp(),
                entry.input.state.canary_weight,
                decision(entry)
            ));
            self.bar.set_message(summary.clone());
            let what = format!("{} — {}", decision(entry), judgements(entry));
            self.record(&phase, entry.input.state.canary_weight, what);
        }
        if self.last_phase.as_deref() != Some(phase.as_str()) && progress.steps.is_empty() {
            let what = status.message.clone();
            self.record(&phase, status.canary_weight, what);
        }
        self.last_phase = Some(phase);
    }
}
