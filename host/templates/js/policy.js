// {{name}}: a Warbler analysis policy. Every metric must have a value within
// its thresholdRange; a failing step holds and counts a failed check, and the
// run rolls back once `analysis.threshold` checks have failed. Change
// `evaluate` to decide differently; `warbler policy test .` runs cases.yaml
// through the built component.

import { write } from "warbler:policy/log@0.1.1";
import { beforeJudging, passedDecision } from "./warbler-policy.js";

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
    // Failed checks at the threshold roll back, a failed webhook is a failed
    // check, and the first step starts shifting without judging: the canary
    // has had no traffic yet, so its metrics have no data.
    const early = beforeJudging(input);
    if (early) return early;
    const judgements = input.metrics.map(judge);
    const bad = judgements.filter((j) => j.outcome !== "pass");
    let decision;
    if (bad.length > 0) {
      write("info", `${bad.length} of ${judgements.length} metrics failed`);
      decision = { tag: "hold", val: { reason: bad[0].detail, failed: true } };
    } else {
      decision = passedDecision(input);
    }
    return { decision, judgements };
  },
};
