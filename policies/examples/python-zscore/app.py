"""zscore: is the canary significantly worse than the primary?

For every metric with samples for both the canary and the primary, Welch's
z statistic compares their means; a metric fails when the canary is worse by
more than `maxZ` standard errors. "Worse" is lower for a metric whose
thresholdRange has only a `min` (a success rate), higher otherwise (latency,
errors). The same logic is implemented in Rust and JavaScript next door, and
all three pass ../zscore-cases.yaml.
"""

import json
import math

from componentize_py_types import Err
from wit_world import exports
from wit_world.imports import log
from wit_world.imports import types as t

VERSION = "0.1.0"
DEFAULT_MAX_Z = 3.0
DEFAULT_MIN_SAMPLES = 5

CONFIG_SCHEMA = json.dumps({
    "$schema": "https://json-schema.org/draft/2020-12/schema",
    "type": ["object", "null"],
    "additionalProperties": False,
    "properties": {
        "maxZ": {"type": "number", "exclusiveMinimum": 0, "default": DEFAULT_MAX_Z,
                 "description": "Standard errors by which the canary may be worse than the primary."},
        "minSamples": {"type": "integer", "minimum": 2, "default": DEFAULT_MIN_SAMPLES,
                       "description": "Samples each side needs before a metric is judged."},
    },
})


def parse_config(text):
    """(max_z, min_samples) from the JSON config; raises InvalidConfig naming the field."""
    def invalid(message):
        raise Err(t.PolicyError_InvalidConfig(message))
    try:
        config = json.loads(text)
    except ValueError as err:
        invalid(f"config is not JSON: {err}")
    if config is None:
        config = {}
    if not isinstance(config, dict):
        invalid("config must be an object like {\"maxZ\": 3, \"minSamples\": 5}")
    unknown = sorted(set(config) - {"maxZ", "minSamples"})
    if unknown:
        invalid(f"config.{unknown[0]}: unknown field; known fields are maxZ and minSamples")
    max_z = config.get("maxZ", DEFAULT_MAX_Z)
    if isinstance(max_z, bool) or not isinstance(max_z, (int, float)) or max_z <= 0:
        invalid(f"config.maxZ: {max_z!r} is not a number above 0")
    min_samples = config.get("minSamples", DEFAULT_MIN_SAMPLES)
    if isinstance(min_samples, bool) or not isinstance(min_samples, int) or min_samples < 2:
        invalid(f"config.minSamples: {min_samples!r} is not an integer of at least 2")
    return float(max_z), min_samples


def present(series):
    return [] if series is None else [v for v in series.values if not math.isnan(v)]


def mean_and_variance(values):
    mean = sum(values) / len(values)
    variance = sum((v - mean) ** 2 for v in values) / (len(values) - 1)
    return mean, variance


def max_weight(analysis):
    """Flagger's rule: the last stepWeights entry, else maxWeight, else 100."""
    if analysis.step_weights:
        return min(analysis.step_weights[-1], 100)
    if analysis.max_weight:
        return min(analysis.max_weight, 100)
    return 100


def next_weight(analysis, current):
    """The first stepWeights entry above `current`, or current + stepWeight."""
    limit = max_weight(analysis)
    if analysis.step_weights:
        return min(next((w for w in analysis.step_weights if w > current), limit), limit)
    return min(current + (analysis.step_weight or 0), limit)


def judge(metric, max_z, min_samples):
    """(outcome, worse_z or None, detail) for one metric."""
    canary = present(metric.canary_series)
    primary = present(metric.primary_series)
    if len(canary) < min_samples or len(primary) < min_samples:
        return (t.Outcome.NO_DATA, None,
                f"{metric.name}: {len(canary)} canary and {len(primary)} primary samples, need {min_samples} each")
    mean_c, var_c = mean_and_variance(canary)
    mean_p, var_p = mean_and_variance(primary)
    error = math.sqrt(var_c / len(canary) + var_p / len(primary))
    difference = mean_c - mean_p
    if error == 0:
        z = 0.0 if difference == 0 else math.copysign(math.inf, difference)
    else:
        z = difference / error
    lower_is_worse = metric.threshold_range.min is not None and metric.threshold_range.max is None
    worse = -z if lower_is_worse else z
    if worse > max_z:
        return (t.Outcome.FAIL, worse,
                f"{metric.name}: canary {mean_c:.2f} vs primary {mean_p:.2f}, z {worse:.2f} > {max_z:g}")
    return (t.Outcome.PASS, worse,
            f"{metric.name}: canary {mean_c:.2f} vs primary {mean_p:.2f}, z {worse:.2f} <= {max_z:g}")


class Analysis(exports.Analysis):
    def describe(self) -> t.PolicyInfo:
        return t.PolicyInfo(
            name="zscore",
            version=VERSION,
            description="Compares canary and primary samples of every metric with Welch's z "
                        "statistic and fails a metric when the canary is worse by more than "
                        "maxZ standard errors (Python).",
            required_metrics=[],
            needs_baseline=True,
            config_schema=CONFIG_SCHEMA,
        )

    def validate_config(self, config: str) -> None:
        parse_config(config)

    def evaluate(self, input: t.Input) -> t.Verdict:
        max_z, min_samples = parse_config(input.config)
        analysis, state = input.analysis, input.state
        if state.failed_checks >= analysis.threshold:
            return t.Verdict(
                decision=t.Decision_Rollback(f"failed checks threshold reached {state.failed_checks}"),
                judgements=[], score=None)
        if state.canary_weight == 0 and state.iteration == 0:
            return t.Verdict(decision=t.Decision_Advance(next_weight(analysis, 0)),
                             judgements=[], score=None)
        judgements, failed, missing, scores = [], [], [], []
        for metric in input.metrics:
            outcome, worse, detail = judge(metric, max_z, min_samples)
            judgements.append(t.Judgement(metric=metric.name, outcome=outcome, detail=detail))
            if outcome == t.Outcome.FAIL:
                failed.append(metric.name)
            elif outcome == t.Outcome.NO_DATA:
                missing.append(metric.name)
            if worse is not None and math.isfinite(worse):
                scores.append(worse)
        score = max(scores) if scores else None
        if failed:
            log.write(t.Level.INFO, f"canary worse than primary: {', '.join(failed)}")
            decision = t.Decision_Hold(t.Hold(
                reason=f"canary significantly worse than primary: {', '.join(failed)}", failed=True))
        elif missing:
            decision = t.Decision_Hold(t.Hold(
                reason=f"not enough samples to compare: {', '.join(missing)}", failed=True))
        elif state.canary_weight >= max_weight(analysis):
            decision = t.Decision_Promote()
        else:
            decision = t.Decision_Advance(next_weight(analysis, state.canary_weight))
        return t.Verdict(decision=decision, judgements=judgements, score=score)
