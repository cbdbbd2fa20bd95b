//! `warbler policy replay` on the journal of a real local-mode rollout: the
//! policy that judged it gives every recorded verdict again, exactly; a
//! stricter one shows where the rollout would have gone otherwise.

use std::process::Output;

use crate::local_cli::warbler;
use crate::run_faults::{Fixture, signal, stop};

/// A healthy rollout judged by the policy `policy` (the YAML under
/// `analysis:`, empty for the default), run to its end; the fixture (its
/// journal under `state`).
fn recorded_rollout(name: &str, policy: &str) -> Fixture {
    let fixture = Fixture::edited(name, |text| text + policy);
    let (code, text) = fixture.run_under_load(60);
    assert_eq!(code, Some(0), "{text}");
    fixture
}

fn replay(fixture: &Fixture, args: &[&str]) -> (Output, serde_json::Value) {
    let output = warbler()
        .args(["policy", "replay", "--journal"])
        .arg(fixture.state.join("journal.jsonl"))
        .args(args)
        .args(["--output", "json"])
        .output()
        .unwrap();
    assert!(
        output.status.success(),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
    let report = serde_json::from_slice(&output.stdout).unwrap();
    (output, report)
}

/// Every step of `fixture`'s journal replayed through `policy` gives the
/// recorded verdict, judgements and score included.
fn assert_reproduced(fixture: &Fixture, policy: &str) {
    let (_, report) = replay(fixture, &["--policy", policy]);
    let run = &report["runs"][0];
    let steps = run["steps"].as_array().unwrap();
    assert!(steps.len() >= 4, "{run:#}");
    for step in steps {
        assert_eq!(step["replayed"][0], step["recorded"], "{step:#}");
    }
    assert_eq!(run["candidates"][0]["identicalSteps"], steps.len());
    assert!(run["candidates"][0]["firstDivergence"].is_null(), "{run:#}");
}

#[test]
fn replaying_a_journal_through_its_own_policy_reproduces_every_verdict_exactly() {
    assert_reproduced(
        &recorded_rollout("replay-threshold", ""),
        "builtin:threshold",
    );
}

#[test]
fn replaying_a_rollout_judged_by_compare_reproduces_its_statistics_exactly() {
    let compared = recorded_rollout(
        "replay-compare",
        "    policy:\n      ref: builtin:compare\n      config: { minSamples: 5, maxWaitSteps: 20 }\n",
    );
    assert_reproduced(&compared, "builtin:compare");
}

#[test]
fn a_policy_reading_earlier_steps_sees_its_whole_run_across_a_restart_and_replays_it() {
    let hostile = warbler_test_guests::HOSTILE;
    let fixture = Fixture::edited("replay-earlier-steps", |text| {
        text + &format!(
            "    policy:\n      ref: {hostile}\n      config: {{ attack: earlier-steps }}\n"
        )
    });
    let load = fixture.load(90);
    let first = fixture.run(&[]);
    fixture.wait_for_weight(10);
    signal(&first, "INT");
    assert_eq!(first.wait_with_output().unwrap().status.code(), Some(130));
    let again = fixture.run(&[]).wait_with_output().unwrap();
    stop(load);
    assert_eq!(
        again.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&again.stderr)
    );

    let journal =
        warbler::journal::FileJournal::read(&fixture.state.join("journal.jsonl")).unwrap();
    assert!(journal.len() >= 4, "{journal:#?}");
    let run = journal[0].run_started_ms;
    for (i, entry) in journal.iter().enumerate() {
        assert_eq!(entry.run_started_ms, run, "one run, resumed");
        let seen: Vec<String> = journal[..i]
            .iter()
            .map(|earlier| {
                format!(
                    "{}%@{}",
                    earlier.input.state.canary_weight, earlier.input.now_ms
                )
            })
            .collect();
        let verdict = entry.outcome.as_ref().expect("the policy decided");
        assert_eq!(
            verdict.judgements[0].detail,
            format!("{i} [{}]", seen.join(" ")),
            "step {} saw every earlier step of its run, those before the restart too",
            entry.step
        );
        assert!(
            entry.input.earlier_steps.is_empty(),
            "the journal does not repeat earlier steps"
        );
    }
    assert_reproduced(&fixture, hostile);
}

#[test]
fn replaying_through_a_stricter_policy_marks_where_the_rollout_would_have_differed() {
    let fixture = recorded_rollout("replay-stricter", "");
    let (_, report) = replay(
        &fixture,
        &[
            "--policy",
            "builtin:threshold",
            "--policy",
            "builtin:compare",
        ],
    );
    let run = &report["runs"][0];
    assert!(run["candidates"][0]["firstDivergence"].is_null(), "{run:#}");
    let divergence = &run["candidates"][1]["firstDivergence"];
    assert_eq!(divergence["step"], 2, "{run:#}");
    assert_eq!(divergence["weight"], 10, "{run:#}");
    let consequence = divergence["consequence"].as_str().unwrap();
    assert!(
        consequence.contains("it would have held (too few samples")
            && consequence.contains("where the run advanced to 20%"),
        "{consequence}"
    );
    let text = warbler()
        .args(["policy", "replay", "--journal"])
        .arg(fixture.state.join("journal.jsonl"))
        .args(["-p", "builtin:threshold", "-p", "builtin:compare"])
        .output()
        .unwrap();
    let text = String::from_utf8_lossy(&text.stdout);
    assert!(text.contains("◀"), "the first divergence is marked: {text}");
    assert!(
        text.contains("builtin:threshold: ") && text.contains("no divergence"),
        "{text}"
    );
}

#[test]
fn a_config_without_its_policy_is_refused() {
    let output = warbler()
        .args(["policy", "replay", "--journal", "/nonexistent.jsonl"])
        .args([
            "-p",
            "builtin:threshold",
            "--config",
            "{}",
            "--config",
            "{}",
        ])
        .output()
        .unwrap();
    assert_eq!(output.status.code(), Some(2));
    assert!(
        String::from_utf8_lossy(&output.stderr).contains("at most one --config per --policy"),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
}
