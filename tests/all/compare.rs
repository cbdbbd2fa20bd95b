//! `builtin:compare` and `builtin:slo-burn`: their case tables, and real
//! `warbler run` rollouts compare decides (or shadows) against sample apps
//! behind the embedded proxy.

use std::path::Path;

use warbler::case_table::{CaseOutcome, CaseTable};

use crate::common;
use crate::run_faults::Fixture;

/// Every case of the table at `table` (from the repository root) passes
/// through `builtin`.
fn assert_case_table_passes(table: &str, builtin: &str) {
    let table =
        CaseTable::read(&Path::new(env!("CARGO_MANIFEST_DIR")).join("..").join(table)).unwrap();
    let runtime = common::runtime();
    let policy = runtime.load(&builtin.parse().unwrap()).unwrap();
    for case in &table.cases {
        assert_eq!(case.run(&policy), CaseOutcome::Passed, "{}", case.name);
    }
}

#[test]
fn the_compare_case_table_passes() {
    assert_case_table_passes("policies/compare/cases.yaml", "builtin:compare");
}

#[test]
fn the_slo_burn_case_table_passes() {
    assert_case_table_passes("policies/slo-burn/cases.yaml", "builtin:slo-burn");
}

/// A `warbler run` of the example Canary decided by `builtin:compare`
/// under load, with the canary's sample app given `canary_flags`: its exit
/// code and output.
fn run_compared(name: &str, canary_flags: &str) -> (Option<i32>, String) {
    Fixture::edited(name, |text| {
        text.replace(
            "--version, \"1.1.0-",
            &format!("{canary_flags}--version, \"1.1.0-"),
        ) + "    policy:\n      ref: builtin:compare\n      config: { minSamples: 5, maxWaitSteps: 20 }\n"
    })
    .run_under_load(120)
}

#[test]
fn a_run_decided_by_compare_promotes_a_healthy_canary() {
    let (code, text) = run_compared("compare-healthy", "");
    assert_eq!(code, Some(0), "{text}");
    assert!(text.contains("promoted: the primary now runs"), "{text}");
    assert!(text.contains("median shift"), "the policy compared: {text}");
}

#[test]
fn a_run_decided_by_compare_rolls_back_a_slower_canary() {
    let (code, text) = run_compared("compare-slow", "--latency-ms, \"150\", ");
    assert_eq!(code, Some(1), "{text}");
    assert!(
        text.contains("rolled back: score 50 below marginal 75: request-duration"),
        "{text}"
    );
}

#[test]
fn compare_as_a_shadow_policy_is_recorded_at_every_step_and_never_acts() {
    let fixture = Fixture::edited("compare-shadow", |text| {
        text + "    shadowPolicies:\n    - { ref: builtin:compare }\n"
    });
    let (code, text) = fixture.run_under_load(60);
    assert_eq!(code, Some(0), "the threshold policy promotes: {text}");
    assert!(
        text.contains("(shadow builtin:compare: hold: too few samples"),
        "{text}"
    );
    assert!(
        text.contains(
            "Shadow policy builtin:compare of podinfo.local would have decided otherwise"
        ),
        "{text}"
    );
    let journal =
        warbler::journal::FileJournal::read(&fixture.state.join("journal.jsonl")).unwrap();
    assert!(
        journal
            .iter()
            .all(|step| step.shadows.len() == 1 && step.shadows[0].policy == "builtin:compare"),
        "{journal:#?}"
    );
}
