// {{name}}: a Warbler analysis policy. Every metric must have a value within
// its thresholdRange; a failing step holds and counts a failed check, and the
// run rolls back once `analysis.threshold` checks have failed. Change
// `evaluate` to decide differently; `warbler policy test .` runs cases.yaml
// through the built component.

function maxWeight(analysis) {
  const ladder = analysis.stepWeights;
  if (ladder.length > 0) return Math.min(ladder[ladder.length - 1], 100);
  return Math.min(analysis.maxWeight || 100, 100);
}

function nextWeight(analysis, current) {
  const limit = maxWeight(analysis);
  if (analysis.stepWeights.length > 0) {
    return Math.min(Array.from(analysis.stepWeights).find((w) => w > current) ?? limit, limit);
  }
  return Math.min(current + (analysis.stepWeight ?? 0), limit);
}

function judge(metric) {
  const value = metric.canary;
  const { min, max } = metric.thresholdRange;
  if (value === undefined || Number.isNaN(value)) {
    return { metric: metric.name, outcome: "no-data", detail: `${metric.name}: no value` };
  }
  const out = (min !== undefined && value < min) || (max !== undefined && value > max);
  return {
    metric: metric.name,
    outcome: out ? "fail" : "pass",
    detail: `${metric.name} ${value.toFixed(2)} ${out ? "out of" : "in"} range`,
  };
}

export const analysis = {
  describe() {
    return {
      name: "{{name}}",
      version: "0.1.0",
      description: "Every metric within its thresholdRange (JavaScript).",
      requiredMetrics: [],
      needsBaseline: false,
      configSchema: "{}",
    };
  },

  validateConfig(_config) {},

  evaluate(input) {
    const { analysis: knobs, state } = input;
    if (state.failedChecks >= knobs.threshold) {
      return {
        decision: { tag: "rollback", val: `failed checks threshold reached ${state.failedChecks}` },
        judgements: [],
        score: undefined,
      };
    }
    const judgements = input.metrics.map(judge);
    const bad = judgements.find((j) => j.outcome !== "pass");
    let decision;
    if (bad) decision = { tag: "hold", val: { reason: bad.detail, failed: true } };
    else if (state.canaryWeight >= maxWeight(knobs)) decision = { tag: "promote" };
    else decision = { tag: "advance", val: nextWeight(knobs, state.canaryWeight) };
    return { decision, judgements, score: undefined };
  },
};
