//! Case tables: a policy author's unit tests. A YAML file lists inputs and
//! the verdict each should get; `warbler policy test` runs them all through
//! the policy component and shows, for a failing case, each field that
//! differs.
//!
//! ```yaml
//! policy: policy.wasm          # optional: the policy under test
//! base: inputs/base.json       # optional: merged under every case's input
//! cases:
//! - name: advances when every metric passes
//!   input: { state: { canaryWeight: 20 } }   # inline, or a JSON/YAML file
//!   expect: { decision: { action: advance, weight: 30 } }
//! ```
//!
//! `expect` is matched as a subset of the verdict's JSON: fields left out
//! are not checked, objects match field by field, lists element by element.

use std::path::{Path, PathBuf};

use serde::Deserialize;
use serde_json::Value;
use warbler_guest_sdk::{Input, Verdict};

use crate::policy::PolicyPre;

/// Why a case table cannot be used.
#[derive(Debug, thiserror::Error)]
#[error("{0}")]
pub struct CaseTableError(String);

/// A parsed case table, its inputs resolved.
#[derive(Debug, Clone)]
pub struct CaseTable {
    /// The policy named by the table, resolved against the table's folder.
    pub policy: Option<String>,
    /// The cases in file order.
    pub cases: Vec<Case>,
}

/// One case: an input and the verdict fields it should produce.
#[derive(Debug, Clone)]
pub struct Case {
    /// Shown in reports.
    pub name: String,
    /// The complete input (base merged with the case's own).
    pub input: Result<Input, String>,
    /// The expected subset of the verdict's JSON.
    pub expect: Value,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct TableFile {
    #[serde(default)]
    policy: Option<String>,
    #[serde(default)]
    base: Option<Value>,
    cases: Vec<CaseFile>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct CaseFile {
    name: String,
    #[serde(default)]
    input: Option<Value>,
    expect: Value,
}

/// A field of the verdict that is not as expected.
#[derive(Debug, Clone, PartialEq)]
pub struct Mismatch {
    /// Where, e.g. `decision.weight` or `judgements[0].outcome`.
    pub path: String,
    /// What the case expects there.
    pub expected: Value,
    /// What the verdict has there (`None`: the field is missing).
    pub actual: Option<Value>,
}

impl std::fmt::Display for Mismatch {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match &self.actual {
            Some(actual) => write!(
                f,
                "{}: expected {}, got {}",
                self.path, self.expected, actual
            ),
            None => write!(f, "{}: expected {}, missing", self.path, self.expected),
        }
    }
}

/// How a case went.
#[derive(Debug, Clone, PartialEq)]
pub enum CaseOutcome {
    /// The verdict has every expected field.
    Passed,
    /// The verdict differs; the verdict is kept for the report.
    Failed {
        /// Each differing field.
        mismatches: Vec<Mismatch>,
        /// The whole verdict.
        verdict: Value,
    },
    /// No verdict: a bad input or a policy failure.
    Error(String),
}

/// A value given as a file path (relative to `dir`) or inline.
fn resolve(value: Value, dir: &Path) -> Result<Value, String> {
    let Value::String(path) = value else {
        return Ok(value);
    };
    let path = dir.join(path);
    let text = std::fs::read_to_string(&path)
        .map_err(|err| format!("cannot read {}: {err}", path.display()))?;
    serde_norway::from_str(&text).map_err(|err| format!("{}: {err}", path.display()))
}

/// `overlay` merged onto `base`: objects field by field, anything else
/// replaced.
fn merge(base: &mut Value, overlay: Value) {
    match (base, overlay) {
        (Value::Object(base), Value::Object(overlay)) => {
            for (key, value) in overlay {
                merge(base.entry(key).or_insert(Value::Null), value);
            }
        }
        (base, overlay) => *base = overlay,
    }
}

impl CaseTable {
    /// Read the table at `path`; inputs and the policy are resolved against
    /// its folder.
    pub fn read(path: &Path) -> Result<CaseTable, CaseTableError> {
        let text = std::fs::read_to_string(path).map_err(|err| {
            CaseTableError(format!("cannot read case table {}: {err}", path.display()))
        })?;
        let deserializer = serde_norway::Deserializer::from_str(&text);
        let file: TableFile = serde_path_to_error::deserialize(deserializer).map_err(|err| {
            CaseTableError(format!(
                "{}: {} at `{}`; a table has `cases:` with `name`, `input` and `expect` each",
                path.display(),
                err.inner(),
                err.path()
            ))
        })?;
        let dir = path.parent().unwrap_or(Path::new("."));
        let base = match file.base {
            Some(base) => resolve(base, dir).map_err(CaseTableError)?,
            None => Value::Object(Default::default()),
        };
        let cases = file
            .cases
            .into_iter()
            .map(|case| {
                let input = case
                    .input
                    .map_or(Ok(Value::Null), |input| resolve(input, dir))
                    .and_then(|own| {
                        let mut input = base.clone();
                        if !own.is_null() {
                            merge(&mut input, own);
                        }
                        serde_path_to_error::deserialize(input).map_err(|err| {
                            format!(
                                "the input is not valid at `{}`: {}",
                                err.path(),
                                err.inner()
                            )
                        })
                    });
                Case {
                    name: case.name,
                    input,
                    expect: case.expect,
                }
            })
            .collect();
        let policy = file.policy.map(|p| {
            if p.starts_with("builtin:") {
                p
            } else {
                dir.join(p).display().to_string()
            }
        });
        Ok(CaseTable { policy, cases })
    }
}

impl Case {
    /// Run this case through `policy`.
    pub fn run(&self, policy: &PolicyPre) -> CaseOutcome {
        let input = match &self.input {
            Ok(input) => input,
            Err(err) => return CaseOutcome::Error(err.clone()),
        };
        match policy.evaluate(input) {
            Ok(verdict) => check(&self.expect, &verdict),
            Err(err) => CaseOutcome::Error(format!("the policy gave no verdict: {err}")),
        }
    }
}

/// Compare `verdict` with the expected subset.
pub fn check(expect: &Value, verdict: &Verdict) -> CaseOutcome {
    let actual = serde_json::to_value(verdict).expect("verdicts serialize");
    let mut mismatches = Vec::new();
    diff(expect, Some(&actual), String::new(), &mut mismatches);
    if mismatches.is_empty() {
        CaseOutcome::Passed
    } else {
        CaseOutcome::Failed {
            mismatches,
            verdict: actual,
        }
    }
}

fn diff(expected: &Value, actual: Option<&Value>, path: String, out: &mut Vec<Mismatch>) {
    let join = |key: &str| {
        if path.is_empty() {
            key.to_owned()
        } else {
            format!("{path}.{key}")
        }
    };
    match (expected, actual) {
        (Value::Object(fields), Some(Value::Object(actual))) => {
            for (key, value) in fields {
                diff(value, actual.get(key), join(key), out);
            }
        }
        (Value::Array(items), Some(Value::Array(actual))) if items.len() <= actual.len() => {
            for (i, item) in items.iter().enumerate() {
                diff(item, actual.get(i), format!("{path}[{i}]"), out);
            }
        }
        (Value::Number(a), Some(Value::Number(b))) if a.as_f64() == b.as_f64() => {}
        (expected, Some(actual)) if expected == actual => {}
        (expected, actual) => out.push(Mismatch {
            path: if path.is_empty() {
                "verdict".to_owned()
            } else {
                path
            },
            expected: expected.clone(),
            actual: actual.cloned(),
        }),
    }
}

/// Where a policy project keeps its component and case table.
pub fn project_files(dir: &Path) -> (PathBuf, PathBuf) {
    (dir.join("policy.wasm"), dir.join("cases.yaml"))
}

#[cfg(test)]
mod tests {
    use serde_json::json;
    use warbler_guest_sdk::Decision;

    use super::*;

    fn advance(weight: u32) -> Verdict {
        Verdict {
            decision: Decision::Advance { weight },
            judgements: Vec::new(),
            score: Some(0.5),
        }
    }

    #[test]
    fn fields_left_out_of_expect_are_not_checked() {
        let outcome = check(
            &json!({ "decision": { "action": "advance" } }),
            &advance(30),
        );
        assert_eq!(outcome, CaseOutcome::Passed);
    }

    #[test]
    fn each_differing_field_is_reported_with_its_path() {
        let outcome = check(
            &json!({ "decision": { "action": "advance", "weight": 20 }, "score": 0.5 }),
            &advance(30),
        );
        let CaseOutcome::Failed { mismatches, .. } = outcome else {
            panic!("{outcome:?}");
        };
        let lines: Vec<String> = mismatches.iter().map(ToString::to_string).collect();
        assert_eq!(lines, ["decision.weight: expected 20, got 30"]);
    }

    #[test]
    fn a_missing_field_is_reported_as_missing() {
        let outcome = check(&json!({ "decision": { "reason": "x" } }), &advance(30));
        let CaseOutcome::Failed { mismatches, .. } = outcome else {
            panic!("{outcome:?}");
        };
        assert_eq!(
            mismatches[0].to_string(),
            r#"decision.reason: expected "x", missing"#
        );
    }

    #[test]
    fn a_case_input_is_merged_over_the_base_field_by_field() {
        let mut base = json!({ "state": { "canaryWeight": 10, "failedChecks": 0 }, "nowMs": 1 });
        merge(&mut base, json!({ "state": { "canaryWeight": 20 } }));
        assert_eq!(
            base,
            json!({ "state": { "canaryWeight": 20, "failedChecks": 0 }, "nowMs": 1 })
        );
    }
}
