// Helpers for Warbler policies written in JavaScript (componentize-js): the
// rules of Flagger's analysis that most policies share, over the contract's
// plain objects. `warbler policy new --lang js` copies this file into the
// project.

/** True before the run has shifted any traffic or passed any step: the
 * canary has no traffic yet, so its metrics cannot be judged. */
export function isFirstStep(input) {
  return input.state.canaryWeight === 0 && input.state.iteration === 0;
}

/** True in blue/green or A/B mode, where steps are counted instead of
 * traffic being shifted. */
export function isIterationMode(analysis) {
  return (analysis.iterations ?? 0) > 0;
}

/** The weight at which the canary is promoted: the last `stepWeights`
 * entry, else `maxWeight`, else 100. */
export function maxWeight(analysis) {
  const ladder = analysis.stepWeights;
  if (ladder.length > 0) return Math.min(ladder[ladder.length - 1], 100);
  return Math.min(analysis.maxWeight || 100, 100);
}

/** The weight after a passing step at `current`: the first `stepWeights`
 * entry above it, or `current + stepWeight`, never above the max weight. */
export function nextWeight(analysis, current) {
  const limit = maxWeight(analysis);
  if (analysis.stepWeights.length > 0) {
    return Math.min(Array.from(analysis.stepWeights).find((w) => w > current) ?? limit, limit);
  }
  return Math.min(current + (analysis.stepWeight ?? 0), limit);
}

/** The decision for a step whose checks all passed: with `iterations`, stay
 * at the weight until that many steps passed, then promote; otherwise
 * promote at the max weight, else advance to the next weight. */
export function passedDecision(input) {
  const { analysis, state } = input;
  if (isIterationMode(analysis)) {
    if (state.iteration < analysis.iterations) return { tag: "advance", val: state.canaryWeight };
    return { tag: "promote" };
  }
  if (state.canaryWeight >= maxWeight(analysis)) return { tag: "promote" };
  return { tag: "advance", val: nextWeight(analysis, state.canaryWeight) };
}

/** The verdict of a step that needs no metric, by the rules most policies
 * share with Flagger: once failed checks reached `analysis.threshold`, roll
 * back; a webhook of this step that failed is a failed check; at the first
 * step, whose canary has had no traffic yet, start shifting. `undefined`
 * when the metrics are to decide. */
export function beforeJudging(input) {
  const { analysis, state } = input;
  if (state.failedChecks >= analysis.threshold) {
    return {
      decision: { tag: "rollback", val: `failed checks threshold reached ${state.failedChecks}` },
      judgements: [],
    };
  }
  const hook = input.webhooks.find((h) => !h.passed);
  if (hook) {
    const reason = `webhook ${hook.name} failed: ${hook.message}`;
    return { decision: { tag: "hold", val: { reason, failed: true } }, judgements: [] };
  }
  if (isFirstStep(input)) return { decision: passedDecision(input), judgements: [] };
  return undefined;
}
