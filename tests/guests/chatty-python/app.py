"""A test policy that writes to stdout and stderr at every call, and raises
when its config says `{"raise": true}`. Otherwise it walks the weights by
stepWeight and promotes at maxWeight, like a healthy analysis."""

import json
import sys

from wit_world import exports
from wit_world.imports import types as t


def chatter(what):
    for line in range(200):
        print(f"chatty python {what}: stdout line {line}")
        print(f"chatty python {what}: stderr line {line}", file=sys.stderr)


class Analysis(exports.Analysis):
    def describe(self) -> t.PolicyInfo:
        chatter("describe")
        return t.PolicyInfo(name="chatty", version="0.0.0",
                            description="Prints at every call; raises on request. Tests only.",
                            required_metrics=[], needs_baseline=False, config_schema='{"type":["object","null"]}')

    def validate_config(self, config: str) -> None:
        chatter("validate-config")

    def evaluate(self, input: t.Input) -> t.Verdict:
        chatter("evaluate")
        if (json.loads(input.config) or {}).get("raise"):
            raise RuntimeError("chatty python raises on purpose")
        analysis, weight = input.analysis, input.state.canary_weight
        top = analysis.max_weight or 100
        if weight >= top:
            decision = t.Decision_Promote()
        else:
            decision = t.Decision_Advance(min(weight + (analysis.step_weight or 10), top))
        return t.Verdict(decision=decision, judgements=[], score=None)
