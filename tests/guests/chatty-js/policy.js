// A test policy that writes to stdout and stderr at every call, and throws
// when its config says {"raise": true}. Otherwise it walks the weights by
// stepWeight and promotes at maxWeight, like a healthy analysis.

function chatter(what) {
  for (let line = 0; line < 200; line++) {
    console.log(`chatty js ${what}: stdout line ${line}`);
    console.error(`chatty js ${what}: stderr line ${line}`);
  }
}

export const analysis = {
  describe() {
    chatter("describe");
    return {
      name: "chatty",
      version: "0.0.0",
      description: "Prints at every call; throws on request. Tests only.",
      requiredMetrics: [],
      needsBaseline: false,
      configSchema: '{"type":["object","null"]}',
    };
  },

  validateConfig(config) {
    chatter("validate-config");
  },

  evaluate(input) {
    chatter("evaluate");
    if ((JSON.parse(input.config) || {}).raise) {
      throw new Error("chatty js throws on purpose");
    }
    const { analysis: knobs, state } = input;
    const top = knobs.maxWeight ?? 100;
    if (state.canaryWeight >= top) {
      return { decision: { tag: "promote" }, judgements: [], score: undefined };
    }
    const next = Math.min(state.canaryWeight + (knobs.stepWeight ?? 10), top);
    return { decision: { tag: "advance", val: next }, judgements: [], score: undefined };
  },
};
