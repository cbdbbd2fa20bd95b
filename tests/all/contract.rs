//! Components that break the contract are refused at load time, with
//! messages that name what is wrong.

use warbler::policy::{LoadError, PolicySource};
use warbler_guest_sdk::Decision;

use crate::common;

fn load_wat(wat: &str) -> LoadError {
    let wasm = wat::parse_str(wat).expect("the test's WAT is valid");
    match common::runtime().load_bytes("test.wasm", &wasm) {
        Ok(_) => panic!("the component must be refused"),
        Err(err) => err,
    }
}

#[test]
fn a_component_for_another_contract_version_is_refused() {
    let err = load_wat(
        r#"(component
            (instance $analysis)
            (export "warbler:policy/analysis@0.2.0" (instance $analysis)))"#,
    );
    let message = err.to_string();
    assert!(
        matches!(err, LoadError::ContractVersion { .. }),
        "{message}"
    );
    assert!(message.contains("warbler:policy@0.2.0"), "{message}");
    assert!(message.contains("warbler:policy@0.1.1"), "{message}");
}

#[test]
fn an_import_beyond_the_sandbox_is_refused_by_name() {
    let err = load_wat(
        r#"(component
            (import "wasi:http/outgoing-handler@0.2.0" (instance))
            (instance $analysis)
            (export "warbler:policy/analysis@0.1.0" (instance $analysis)))"#,
    );
    let message = err.to_string();
    assert!(
        matches!(err, LoadError::ForbiddenImport { .. }),
        "{message}"
    );
    assert!(
        message.contains("`wasi:http/outgoing-handler@0.2.0`"),
        "{message}"
    );
}

#[test]
fn a_log_import_of_another_contract_version_is_refused() {
    let err = load_wat(
        r#"(component
            (import "warbler:policy/log@1.0.0" (instance))
            (instance $analysis)
            (export "warbler:policy/analysis@0.1.0" (instance $analysis)))"#,
    );
    assert!(matches!(err, LoadError::ContractVersion { .. }), "{err}");
}

#[test]
fn a_component_without_the_analysis_export_is_not_a_policy() {
    let err = load_wat("(component)");
    assert!(matches!(err, LoadError::NotAPolicy { .. }), "{err}");
    assert!(err.to_string().contains("export_policy!"), "{err}");
}

#[test]
fn a_core_module_is_refused_with_how_to_build_a_component() {
    let err = load_wat("(module)");
    let message = err.to_string();
    assert!(message.contains("a core WebAssembly module"), "{message}");
    assert!(message.contains("wasm32-wasip2"), "{message}");
}

#[test]
fn bytes_that_are_not_webassembly_are_refused() {
    let err = common::runtime()
        .load_bytes("notes.txt", b"hello, world")
        .err()
        .expect("text is not a policy");
    assert!(err.to_string().contains("not WebAssembly at all"), "{err}");
}

#[test]
fn an_unknown_builtin_lists_the_builtins() {
    let err = "builtin:nope".parse::<PolicySource>().unwrap_err();
    assert_eq!(
        err.to_string(),
        "there is no built-in policy `nope`; built-ins are: builtin:threshold, builtin:compare, builtin:slo-burn"
    );
}

#[test]
fn every_builtin_imports_nothing_but_the_contract() {
    let runtime = common::runtime();
    for name in PolicySource::builtin_names() {
        let policy = runtime
            .load(&PolicySource::Builtin(name))
            .unwrap_or_else(|err| panic!("builtin:{name} loads: {err}"));
        let world = policy.world();
        assert!(
            world
                .exports
                .contains(&"warbler:policy/analysis@0.1.1".to_owned()),
            "builtin:{name}"
        );
        let mut expected = vec!["warbler:policy/types@0.1.1"];
        if name == "compare" {
            expected.push("warbler:policy/run@0.1.1");
        }
        assert_eq!(
            world.imports, expected,
            "builtin:{name} is built without WASI (host/build.rs), and only compare reads earlier steps"
        );
        assert_eq!(
            policy.reads_earlier_steps(),
            name == "compare",
            "builtin:{name}"
        );
    }
}

#[test]
fn a_component_built_for_contract_0_1_0_runs_unchanged() {
    let policy = common::runtime()
        .load(&PolicySource::File(
            warbler_test_guests::CONTRACT_0_1_0.into(),
        ))
        .expect("a 0.1.0 component loads");
    let world = policy.world();
    assert_eq!(world.exports, ["warbler:policy/analysis@0.1.0"]);
    assert!(
        world
            .imports
            .contains(&"warbler:policy/log@0.1.0".to_owned()),
        "{world:?}"
    );
    assert!(!policy.reads_earlier_steps());
    let verdict = policy
        .evaluate(&common::frontend_at(20))
        .expect("it evaluates");
    assert_eq!(verdict.decision, Decision::Advance { weight: 30 });
}
