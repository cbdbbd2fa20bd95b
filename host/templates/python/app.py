"""{{name}}: a Warbler analysis policy. Every metric must have a value within
its thresholdRange; a failing step holds and counts a failed check, and the
run rolls back once `analysis.threshold` checks have failed. Change
`evaluate` to decide differently; `warbler policy test .` runs cases.yaml
through the built component."""

import math

from wit_world import exports
from wit_world.imports import types as t


def max_weight(analysis):
    if analysis.step_weights:
        return min(analysis.step_weights[-1], 100)
    return min(analysis.max_weight or 100, 100)


def next_weight(analysis, current):
    limit = max_weight(analysis)
    if analysis.step_weights:
        return min(next((w for w in analysis.step_weights if w > current), limit), limit)
    return min(current + (analysis.step_weight or 0), limit)


def judge(metric):
    value, low, high = metric.canary, metric.threshold_range.min, metric.threshold_range.max
    if value is None or math.isnan(value):
        return t.Judgement(metric=metric.name, outcome=t.Outcome.NO_DATA, detail=f"{metric.name}: no value")
    if (low is not None and value < low) or (high is not None and value > high):
        return t.Judgement(metric=metric.name, outcome=t.Outcome.FAIL, detail=f"{metric.name} {value:.2f} out of range")
    return t.Judgement(metric=metric.name, outcome=t.Outcome.PASS, detail=f"{metric.name} {value:.2f} in range")


class Analysis(exports.Analysis):
    def describe(self) -> t.PolicyInfo:
        return t.PolicyInfo(name="{{name}}", version="0.1.0",
                            description="Every metric within its thresholdRange (Python).",
                            required_metrics=[], needs_baseline=False, config_schema="{}")

    def validate_config(self, config: str) -> None:
        pass

    def evaluate(self, input: t.Input) -> t.Verdict:
        analysis, state = input.analysis, input.state
        if state.failed_checks >= analysis.threshold:
            return t.Verdict(decision=t.Decision_Rollback(
                f"failed checks threshold reached {state.failed_checks}"), judgements=[], score=None)
        judgements = [judge(metric) for metric in input.metrics]
        bad = [j for j in judgements if j.outcome != t.Outcome.PASS]
        if bad:
            decision = t.Decision_Hold(t.Hold(reason=bad[0].detail, failed=True))
        elif state.canary_weight >= max_weight(analysis):
            decision = t.Decision_Promote()
        else:
            decision = t.Decision_Advance(next_weight(analysis, state.canary_weight))
        return t.Verdict(decision=decision, judgements=judgements, score=None)
