"""{{name}}: a Warbler analysis policy. Every metric must have a value within
its thresholdRange; a failing step holds and counts a failed check, and the
run rolls back once `analysis.threshold` checks have failed. Change
`evaluate` to decide differently; `warbler policy test .` runs cases.yaml
through the built component."""

import math

from wit_world import exports
from wit_world.imports import log
from wit_world.imports import types as t

from warbler_policy import before_judging, passed_decision


def judge(metric: t.Metric) -> t.Judgement:
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
        # Failed checks at the threshold roll back, a failed webhook is a
        # failed check, and the first step starts shifting without judging:
        # the canary has had no traffic yet, so its metrics have no data.
        verdict = before_judging(input)
        if verdict is not None:
            return verdict
        judgements = [judge(metric) for metric in input.metrics]
        bad = [j for j in judgements if j.outcome != t.Outcome.PASS]
        if bad:
            log.write(t.Level.INFO, f"{len(bad)} of {len(judgements)} metrics failed")
            decision = t.Decision_Hold(t.Hold(reason=bad[0].detail, failed=True))
        else:
            decision = passed_decision(input)
        return t.Verdict(decision=decision, judgements=judgements, score=None)
