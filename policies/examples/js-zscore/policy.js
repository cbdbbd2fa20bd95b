// zscore: is the canary significantly worse than the primary?
//
// For every metric with samples for both the canary and the primary, Welch's
// z statistic compares their means; a metric fails when the canary is worse
// by more than `maxZ` standard errors. "Worse" is lower for a metric whose
// thresholdRange has only a `min` (a success rate), higher otherwise (latency,
// errors). The same logic is implemented in Rust and Python next door, and
// all three pass ../zscore-cases.yaml.

import { write } from "warbler:policy/log@0.1.1";

const VERSION = "0.1.0";
const DEFAULT_MAX_Z = 3;
const DEFAULT_MIN_SAMPLES = 5;

const CONFIG_SCHEMA = JSON.stringify({
  $schema: "https://json-schema.org/draft/2020-12/schema",
  type: ["object", "null"],
  additionalProperties: false,
  properties: {
    maxZ: {
      type: "number",
      exclusiveMinimum: 0,
      default: DEFAULT_MAX_Z,
      description: "Standard errors by which the canary may be worse than the primary.",
    },
    minSamples: {
      type: "integer",
      minimum: 2,
      default: DEFAULT_MIN_SAMPLES,
      description: "Samples each side needs before a metric is judged.",
    },
  },
});

/** A policy error as the component model carries it. */
class PolicyFailure extends Error {
  constructor(tag, message) {
    super(message);
    this.payload = { tag, val: message };
  }
}

function invalidConfig(message) {
  return new PolicyFailure("invalid-config", message);
}

/** { maxZ, minSamples } from the JSON config; throws invalid-config naming the field. */
function parseConfig(text) {
  let config;
  try {
    config = JSON.parse(text);
  } catch (err) {
    throw invalidConfig(`config is not JSON: ${err.message}`);
  }
  if (config === null) config = {};
  if (typeof config !== "object" || Array.isArray(config)) {
    throw invalidConfig('config must be an object like {"maxZ": 3, "minSamples": 5}');
  }
  const unknown = Object.keys(config)
    .filter((k) => k !== "maxZ" && k !== "minSamples")
    .sort();
  if (unknown.length > 0) {
    throw invalidConfig(`config.${unknown[0]}: unknown field; known fields are maxZ and minSamples`);
  }
  const maxZ = config.maxZ ?? DEFAULT_MAX_Z;
  if (typeof maxZ !== "number" || !(maxZ > 0)) {
    throw invalidConfig(`config.maxZ: ${JSON.stringify(maxZ)} is not a number above 0`);
  }
  const minSamples = config.minSamples ?? DEFAULT_MIN_SAMPLES;
  if (!Number.isInteger(minSamples) || minSamples < 2) {
    throw invalidConfig(`config.minSamples: ${JSON.stringify(minSamples)} is not an integer of at least 2`);
  }
  return { maxZ, minSamples };
}

function present(series) {
  return series === undefined ? [] : Array.from(series.values).filter((v) => !Number.isNaN(v));
}

function meanAndVariance(values) {
  const mean = values.reduce((a, b) => a + b, 0) / values.length;
  const variance = values.reduce((a, v) => a + (v - mean) ** 2, 0) / (values.length - 1);
  return [mean, variance];
}

// Flagger's rule: the last stepWeights entry, else maxWeight, else 100.
function maxWeight(analysis) {
  const ladder = analysis.stepWeights;
  if (ladder.length > 0) return Math.min(ladder[ladder.length - 1], 100);
  if (analysis.maxWeight) return Math.min(analysis.maxWeight, 100);
  return 100;
}

// The first stepWeights entry above `current`, or current + stepWeight.
function nextWeight(analysis, current) {
  const limit = maxWeight(analysis);
  if (analysis.stepWeights.length > 0) {
    const next = Array.from(analysis.stepWeights).find((w) => w > current);
    return Math.min(next ?? limit, limit);
  }
  return Math.min(current + (analysis.stepWeight ?? 0), limit);
}

const fixed = (x) => x.toFixed(2);

/** [outcome, worse z or undefined, detail] for one metric. */
function judge(metric, { maxZ, minSamples }) {
  const canary = present(metric.canarySeries);
  const primary = present(metric.primarySeries);
  if (canary.length < minSamples || primary.length < minSamples) {
    return [
      "no-data",
      undefined,
      `${metric.name}: ${canary.length} canary and ${primary.length} primary samples, need ${minSamples} each`,
    ];
  }
  const [meanC, varC] = meanAndVariance(canary);
  const [meanP, varP] = meanAndVariance(primary);
  const error = Math.sqrt(varC / canary.length + varP / primary.length);
  const difference = meanC - meanP;
  const z = error === 0 ? (difference === 0 ? 0 : Math.sign(difference) * Infinity) : difference / error;
  const range = metric.thresholdRange;
  const lowerIsWorse = range.min !== undefined && range.max === undefined;
  const worse = lowerIsWorse ? -z : z;
  const comparison = `canary ${fixed(meanC)} vs primary ${fixed(meanP)}, z ${fixed(worse)}`;
  if (worse > maxZ) return ["fail", worse, `${metric.name}: ${comparison} > ${maxZ}`];
  return ["pass", worse, `${metric.name}: ${comparison} <= ${maxZ}`];
}

export const analysis = {
  describe() {
    return {
      name: "zscore",
      version: VERSION,
      description:
        "Compares canary and primary samples of every metric with Welch's z statistic and " +
        "fails a metric when the canary is worse by more than maxZ standard errors (JavaScript).",
      requiredMetrics: [],
      needsBaseline: true,
      configSchema: CONFIG_SCHEMA,
    };
  },

  validateConfig(config) {
    try {
      parseConfig(config);
    } catch (err) {
      throw err instanceof PolicyFailure ? err.payload : err;
    }
  },

  evaluate(input) {
    let config;
    try {
      config = parseConfig(input.config);
    } catch (err) {
      throw err instanceof PolicyFailure ? err.payload : err;
    }
    const { analysis: knobs, state } = input;
    if (state.failedChecks >= knobs.threshold) {
      return {
        decision: { tag: "rollback", val: `failed checks threshold reached ${state.failedChecks}` },
        judgements: [],
        score: undefined,
      };
    }
    if (state.canaryWeight === 0 && state.iteration === 0) {
      return { decision: { tag: "advance", val: nextWeight(knobs, 0) }, judgements: [], score: undefined };
    }
    const judgements = [];
    const failed = [];
    const missing = [];
    const scores = [];
    for (const metric of input.metrics) {
      const [outcome, worse, detail] = judge(metric, config);
      judgements.push({ metric: metric.name, outcome, detail });
      if (outcome === "fail") failed.push(metric.name);
      if (outcome === "no-data") missing.push(metric.name);
      if (worse !== undefined && Number.isFinite(worse)) scores.push(worse);
    }
    let decision;
    if (failed.length > 0) {
      write("info", `canary worse than primary: ${failed.join(", ")}`);
      decision = {
        tag: "hold",
        val: { reason: `canary significantly worse than primary: ${failed.join(", ")}`, failed: true },
      };
    } else if (missing.length > 0) {
      decision = { tag: "hold", val: { reason: `not enough samples to compare: ${missing.join(", ")}`, failed: true } };
    } else if (state.canaryWeight >= maxWeight(knobs)) {
      decision = { tag: "promote" };
    } else {
      decision = { tag: "advance", val: nextWeight(knobs, state.canaryWeight) };
    }
    return { decision, judgements, score: scores.length > 0 ? Math.max(...scores) : undefined };
  },
};
