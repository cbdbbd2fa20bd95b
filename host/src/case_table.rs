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
//! - name: a negative maxZ is refused
//!   input: { config: { maxZ: -1 } }
//!   expectError: { kind: invalid-config, contains: maxZ }
//! ```
//!
//! `expect` is matched as a subset of the verdict's JSON: fields left out
//! are not checked, objects match field by field, lists element by element;
//! an empty list matches only an empty one (`judgements: []`: none).
//! `expectError` wants the policy to fail, of `kind` (any when left out)
//! with `contains` in its message. As in a run, a case whose input has a
//! config has it checked by `validate-config` before `evaluate`.

use std::path::{Path, PathBuf};

use serde::Deserialize;
use serde_json::Value;
use warbler_guest_sdk::{Input, Verdict};

use crate::policy::{ErrorKind, EvalError, PolicyPre};

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
    /// What the case wants.
    pub expect: Expectation,
}

/// What a case wants of the policy.
#[derive(Debug, Clone, PartialEq)]
pub enum Expectation {
    /// A verdict with these fields (a subset of its JSON).
    Verdict(Value),
    /// A failure.
    Error(ExpectedError),
}

/// The failure a case expects (`expectError`).
#[derive(Debug, Clone, PartialEq, Deserialize, serde::Serialize)]
#[serde(deny_unknown_fields)]
pub struct ExpectedError {
    /// Its kind; any kind when left out.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub kind: Option<ErrorKind>,
    /// Text its message contains.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub contains: Option<String>,
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
#[serde(deny_unknown_fields, rename_all = "camelCase")]
struct CaseFile {
    name: String,
    #[serde(default)]
    input: Option<Value>,
    #[serde(default)]
    expect: Option<Value>,
    #[serde(default)]
    expect_error: Option<ExpectedError>,
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
    /// The answer differs from the expectation; kept for the report.
    Failed {
        /// Each differing field.
        mismatches: Vec<Mismatch>,
        /// The whole answer: the verdict, or `{"error": {kind, message}}`.
        got: Value,
    },
    /// No verdict where one was expected: a bad input or a policy failure.
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
            .enumerate()
            .map(|(index, case)| {
                let expect = match (case.expect, case.expect_error) {
                    (Some(verdict), None) => Expectation::Verdict(verdict),
                    (None, Some(error)) => Expectation::Error(error),
                    (expect, _) => {
                        return Err(CaseTableError(format!(
                            "{}: cases[{index}] ({}) has {}; give it `expect` (fields of the verdict) or `expectError` (kind, contains)",
                            path.display(),
                            case.name,
                            if expect.is_some() {
                                "both `expect` and `expectError`"
                            } else {
                                "neither `expect` nor `expectError`"
                            }
                        )));
                    }
                };
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
                Ok(Case {
                    name: case.name,
                    input,
                    expect,
                })
            })
            .collect::<Result<_, _>>()?;
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
        let answer = if input.config == "null" {
            policy.evaluate(input)
        } else {
            policy
                .validate_config(&input.config)
                .and_then(|()| policy.evaluate(input))
        };
        match (&self.expect, answer) {
            (Expectation::Verdict(expect), Ok(verdict)) => check(expect, &verdict),
            (Expectation::Verdict(_), Err(err)) => {
                CaseOutcome::Error(format!("the policy gave no verdict: {err}"))
            }
            (Expectation::Error(expect), answer) => check_error(expect, answer),
        }
    }
}

/// Compare a policy's answer with the failure a case expects.
pub fn check_error(expect: &ExpectedError, answer: Result<Verdict, EvalError>) -> CaseOutcome {
    let err = match answer {
        Ok(verdict) => {
            return CaseOutcome::Failed {
                mismatches: vec![Mismatch {
                    path: "error".to_owned(),
                    expected: serde_json::to_value(expect).expect("expectations serialize"),
                    actual: None,
                }],
                got: serde_json::to_value(&verdict).expect("verdicts serialize"),
            };
        }
        Err(err) => err,
    };
    let (kind, message) = (err.kind(), err.to_string());
    let mut mismatches = Vec::new();
    if expect.kind.is_some_and(|expected| expected != kind) {
        mismatches.push(Mismatch {
            path: "error.kind".to_owned(),
            expected: serde_json::to_value(expect.kind).expect("kinds serialize"),
            actual: Some(kind.name().into()),
        });
    }
    if let Some(text) = expect.contains.as_ref().filter(|t| !message.contains(*t)) {
        mismatches.push(Mismatch {
            path: "error.message".to_owned(),
            expected: format!("text containing {text:?}").into(),
            actual: Some(message.clone().into()),
        });
    }
    if mismatches.is_empty() {
        CaseOutcome::Passed
    } else {
        CaseOutcome::Failed {
            mismatches,
            got: serde_json::json!({ "error": { "kind": kind.name(), "message": message } }),
        }
    }
}

/// Compare `verdict` with the expected subset.
pub fn check(expect: &Value, verdict: &Verdict) -> CaseOutcome {
    let mut actual = serde_json::to_value(verdict).expect("verdicts serialize");
    // The JSON form leaves an empty list out; `judgements: []` asks for it.
    actual
        .as_object_mut()
        .expect("a verdict is an object")
        .entry("judgements")
        .or_insert_with(|| Value::Array(Vec::new()));
    let mut mismatches = Vec::new();
    diff(expect, Some(&actual), String::new(), &mut mismatches);
    if mismatches.is_empty() {
        CaseOutcome::Passed
    } else {
        CaseOutcome::Failed {
            mismatches,
            got: actual,
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
        (Value::Array(items), Some(Value::Array(actual)))
            if items.len() <= actual.len() && (items.is_empty() == actual.is_empty()) =>
        {
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
    use warbler_guest_sdk::{Decision, PolicyError};

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
    fn an_empty_judgements_list_matches_a_verdict_without_judgements() {
        let outcome = check(&json!({ "judgements": [] }), &advance(30));
        assert_eq!(outcome, CaseOutcome::Passed);
    }

    #[test]
    fn an_empty_judgements_list_does_not_match_a_verdict_with_some() {
        let mut verdict = advance(30);
        verdict.judgements.push(warbler_guest_sdk::Judgement {
            metric: "request-duration".to_owned(),
            outcome: warbler_guest_sdk::Outcome::Pass,
            detail: String::new(),
        });
        let outcome = check(&json!({ "judgements": [] }), &verdict);
        assert!(matches!(outcome, CaseOutcome::Failed { .. }), "{outcome:?}");
    }

    fn refused(error: PolicyError) -> Result<Verdict, EvalError> {
        Err(EvalError::Refused {
            policy: "p".to_owned(),
            error,
        })
    }

    #[test]
    fn an_expected_error_of_the_right_kind_and_text_passes() {
        let expect: ExpectedError =
            serde_norway::from_str("{ kind: invalid-config, contains: maxZ }").unwrap();
        let answer = refused(PolicyError::InvalidConfig("config.maxZ must be > 0".into()));
        assert_eq!(check_error(&expect, answer), CaseOutcome::Passed);
    }

    #[test]
    fn an_expected_error_of_another_kind_reports_both_kinds() {
        let expect: ExpectedError = serde_norway::from_str("{ kind: invalid-input }").unwrap();
        let answer = refused(PolicyError::InvalidConfig("config.maxZ must be > 0".into()));
        let CaseOutcome::Failed { mismatches, got } = check_error(&expect, answer) else {
            panic!("the kinds differ");
        };
        assert_eq!(
            mismatches[0].to_string(),
            r#"error.kind: expected "invalid-input", got "invalid-config""#
        );
        assert_eq!(got["error"]["kind"], "invalid-config");
    }

    #[test]
    fn an_expected_error_without_a_kind_matches_a_trap_by_its_text() {
        let expect: ExpectedError = serde_norway::from_str("{ contains: on purpose }").unwrap();
        let answer = Err(EvalError::Trap {
            policy: "p".to_owned(),
            trap: "wasm trap: unreachable".to_owned(),
            output: "panicked: on purpose".to_owned(),
        });
        assert_eq!(check_error(&expect, answer), CaseOutcome::Passed);
    }

    #[test]
    fn a_verdict_where_an_error_was_expected_fails_the_case() {
        let expect: ExpectedError = serde_norway::from_str("{ kind: trap }").unwrap();
        let outcome = check_error(&expect, Ok(advance(30)));
        let CaseOutcome::Failed { mismatches, got } = outcome else {
            panic!("a verdict is not an error");
        };
        assert_eq!(
            mismatches[0].to_string(),
            r#"error: expected {"kind":"trap"}, missing"#
        );
        assert_eq!(got["decision"]["action"], "advance");
    }

    #[test]
    fn an_unknown_error_kind_is_refused_listing_the_kinds() {
        let err = serde_norway::from_str::<ExpectedError>("{ kind: crash }").unwrap_err();
        assert!(err.to_string().contains("invalid-config"), "{err}");
    }

    #[test]
    fn a_case_without_expect_or_expect_error_is_refused_naming_both() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("cases.yaml");
        std::fs::write(&path, "cases:\n- name: forgot\n  input: {}\n").unwrap();
        let err = CaseTable::read(&path).unwrap_err().to_string();
        assert!(
            err.contains("cases[0] (forgot)")
                && err.contains("`expect`")
                && err.contains("`expectError`"),
            "{err}"
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
