"""Helpers for Warbler policies written in Python (componentize-py).

The rules of Flagger's analysis that most policies share, over the
contract's generated types (`wit_world.imports.types`). `warbler policy new
--lang python` copies this file into the project.
"""

from typing import Optional

from wit_world.imports import types as t


def is_first_step(input: t.Input) -> bool:
    """True before the run has shifted any traffic or passed any step: the
    canary has no traffic yet, so its metrics cannot be judged."""
    return input.state.canary_weight == 0 and input.state.iteration == 0


def is_iteration_mode(analysis: t.Analysis) -> bool:
    """True in blue/green or A/B mode, where steps are counted instead of
    traffic being shifted."""
    return bool(analysis.iterations)


def max_weight(analysis: t.Analysis) -> int:
    """The weight at which the canary is promoted: the last `stepWeights`
    entry, else `maxWeight`, else 100."""
    if analysis.step_weights:
        return min(analysis.step_weights[-1], 100)
    return min(analysis.max_weight or 100, 100)


def next_weight(analysis: t.Analysis, current: int) -> int:
    """The weight after a passing step at `current`: the first `stepWeights`
    entry above it, or `current + stepWeight`, never above the max weight."""
    limit = max_weight(analysis)
    if analysis.step_weights:
        return min(next((w for w in analysis.step_weights if w > current), limit), limit)
    return min(current + (analysis.step_weight or 0), limit)


def passed_decision(input: t.Input) -> t.Decision:
    """The decision for a step whose checks all passed: with `iterations`,
    stay at the weight until that many steps passed, then promote; otherwise
    promote at the max weight, else advance to the next weight."""
    analysis, state = input.analysis, input.state
    if is_iteration_mode(analysis):
        if state.iteration < analysis.iterations:
            return t.Decision_Advance(state.canary_weight)
        return t.Decision_Promote()
    if state.canary_weight >= max_weight(analysis):
        return t.Decision_Promote()
    return t.Decision_Advance(next_weight(analysis, state.canary_weight))


def before_judging(input: t.Input) -> Optional[t.Verdict]:
    """The verdict of a step that needs no metric, by the rules most policies
    share with Flagger: once failed checks reached `analysis.threshold`, roll
    back; a webhook of this step that failed is a failed check; at the first
    step, whose canary has had no traffic yet, start shifting. None when the
    metrics are to decide."""
    state = input.state
    if state.failed_checks >= input.analysis.threshold:
        return t.Verdict(decision=t.Decision_Rollback(
            f"failed checks threshold reached {state.failed_checks}"), judgements=[], score=None)
    hook = next((hook for hook in input.webhooks if not hook.passed), None)
    if hook is not None:
        reason = f"webhook {hook.name} failed: {hook.message}"
        return t.Verdict(decision=t.Decision_Hold(t.Hold(reason=reason, failed=True)), judgements=[], score=None)
    if is_first_step(input):
        return t.Verdict(decision=passed_decision(input), judgements=[], score=None)
    return None
