//! What a policy's `run.earlier-steps` import answers: the metrics of the
//! run's earlier steps. The live host, replay and backtest all build it
//! here, from the same journal entries, so a replay answers as the run did.

use std::collections::VecDeque;

use warbler_guest_sdk::{EarlierStep, Input};

use crate::ports::JournalEntry;

/// How many earlier steps a policy sees at most, as the contract says.
pub const EARLIER_STEPS_LEN: usize = 20;

/// The recorded steps of one run, by step number, bounded.
#[derive(Debug, Clone, PartialEq)]
pub struct RunSteps {
    run_started_ms: i64,
    /// Step number and what it measured, in step order. One more than a
    /// policy sees: the newest may be the step being judged again.
    steps: VecDeque<(u32, EarlierStep)>,
}

impl RunSteps {
    /// No steps yet of the run that started at `run_started_ms`.
    pub fn new(run_started_ms: i64) -> Self {
        RunSteps {
            run_started_ms,
            steps: VecDeque::new(),
        }
    }

    /// When the run started (Unix ms): what tells it from other runs.
    pub fn run_started_ms(&self) -> i64 {
        self.run_started_ms
    }

    /// Record step `step`, which saw `input`. A step recorded again (judged
    /// again after a restart) replaces its first record.
    pub fn record(&mut self, step: u32, input: &Input) {
        let measured = EarlierStep {
            iteration: input.state.iteration,
            canary_weight: input.state.canary_weight,
            at_ms: input.now_ms,
            metrics: input.metrics.clone(),
        };
        match self
            .steps
            .binary_search_by_key(&step, |(number, _)| *number)
        {
            Ok(at) => self.steps[at].1 = measured,
            Err(at) => self.steps.insert(at, (step, measured)),
        }
        while self.steps.len() > EARLIER_STEPS_LEN + 1 {
            self.steps.pop_front();
        }
    }

    /// The steps of run `run_started_ms` of `canary` among `entries`, in
    /// the order they were journaled.
    pub fn of_run<'a>(
        entries: impl IntoIterator<Item = &'a JournalEntry>,
        canary: &str,
        run_started_ms: i64,
    ) -> Self {
        let mut run = RunSteps::new(run_started_ms);
        for entry in entries {
            if entry.canary == canary && entry.run_started_ms == run_started_ms {
                run.record(entry.step, &entry.input);
            }
        }
        run
    }

    /// The steps before step `step`, oldest first, at most
    /// [`EARLIER_STEPS_LEN`].
    pub fn before(&self, step: u32) -> Vec<EarlierStep> {
        let earlier = self.steps.partition_point(|(number, _)| *number < step);
        let first = earlier.saturating_sub(EARLIER_STEPS_LEN);
        self.steps
            .range(first..earlier)
            .map(|(_, measured)| measured.clone())
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn input(weight: u32) -> Input {
        let mut input: Input =
            serde_json::from_str(include_str!("../../examples/inputs/frontend-step.json"))
                .expect("the example input parses");
        input.state.canary_weight = weight;
        input
    }

    fn weights(steps: &[EarlierStep]) -> Vec<u32> {
        steps.iter().map(|step| step.canary_weight).collect()
    }

    #[test]
    fn a_step_sees_the_steps_numbered_before_it_oldest_first() {
        let mut run = RunSteps::new(1);
        for step in 1..=3 {
            run.record(step, &input(step * 10));
        }
        assert_eq!(weights(&run.before(3)), [10, 20]);
        assert_eq!(weights(&run.before(4)), [10, 20, 30]);
        assert!(run.before(1).is_empty());
    }

    #[test]
    fn a_step_recorded_again_replaces_its_first_record() {
        let mut run = RunSteps::new(1);
        run.record(1, &input(10));
        run.record(2, &input(20));
        run.record(2, &input(25));
        assert_eq!(weights(&run.before(3)), [10, 25]);
    }

    #[test]
    fn only_the_last_twenty_earlier_steps_are_kept() {
        let mut run = RunSteps::new(1);
        for step in 1..=30 {
            run.record(step, &input(step));
        }
        let earlier = run.before(30);
        assert_eq!(earlier.len(), EARLIER_STEPS_LEN);
        assert_eq!(earlier.first().map(|s| s.canary_weight), Some(10));
        assert_eq!(earlier.last().map(|s| s.canary_weight), Some(29));
    }

    #[test]
    fn the_metrics_and_the_state_of_each_step_are_kept() {
        let mut run = RunSteps::new(1);
        let seen = input(40);
        run.record(1, &seen);
        let earlier = &run.before(2)[0];
        assert_eq!(earlier.metrics, seen.metrics);
        assert_eq!(earlier.iteration, seen.state.iteration);
        assert_eq!(earlier.at_ms, seen.now_ms);
    }
}
