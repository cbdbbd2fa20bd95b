//! Tracked configs: the primary's pods use `-primary` copies of the
//! ConfigMaps and Secrets the target uses, and a change of their data is
//! analysed on the canary before the primary gets it.

use super::fixture::Fixture;
use super::{INIT, RUN, assert_no_step_twice};

/// The frontend's configs: a ConfigMap of settings (`color`), a Secret, and
/// a ConfigMap that opts out of tracking.
fn configs(color: &str) -> String {
    format!(
        r#"apiVersion: v1
kind: ConfigMap
metadata: {{ name: frontend-settings }}
data: {{ color: {color} }}
---
apiVersion: v1
kind: Secret
metadata: {{ name: frontend-token }}
stringData: {{ token: s3cret }}
---
apiVersion: v1
kind: ConfigMap
metadata:
  name: shared-settings
  annotations: {{ flagger.app/config-tracking: disabled }}
data: {{ region: eu }}
"#
    )
}

/// The frontend Deployment with its pods reading the configs as
/// environment variables and as a volume.
fn deployment_with_configs(fixture: &Fixture) -> String {
    let deployment = fixture.deployment("ghcr.io/stefanprodan/podinfo:6.0.0");
    let with = deployment
        .replace(
            "        ports:\n",
            "        envFrom:\n        - configMapRef: { name: frontend-settings }\n        - configMapRef: { name: shared-settings }\n        volumeMounts:\n        - { name: token, mountPath: /token }\n        ports:\n",
        )
        .replace(
            "      containers:\n",
            "      volumes:\n      - name: token\n        secret: { secretName: frontend-token }\n      containers:\n",
        );
    assert_ne!(with, deployment);
    with
}

/// The config names the primary's pod template refers to.
fn primary_config_names(fixture: &Fixture) -> (Vec<String>, String) {
    let primary = fixture.get("deployment", "frontend-primary").unwrap();
    let pod = &primary["spec"]["template"]["spec"];
    let env_from = pod["containers"][0]["envFrom"]
        .as_array()
        .unwrap()
        .iter()
        .map(|from| from["configMapRef"]["name"].as_str().unwrap().to_owned())
        .collect();
    let secret = pod["volumes"][0]["secret"]["secretName"]
        .as_str()
        .unwrap()
        .to_owned();
    (env_from, secret)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "needs a cluster"]
async fn the_primary_uses_copies_of_the_targets_configs_and_a_config_change_is_analysed_first() {
    let mut fixture = Fixture::new("configs").await;
    fixture.use_chart_rbac();
    fixture.apply(&configs("blue"));
    fixture.apply(&deployment_with_configs(&fixture));
    fixture.apply(&fixture.seed_canary());
    fixture.start_controller(&[]);
    fixture.wait_for_phase("Initialized", INIT).await;

    let (env_from, secret) = primary_config_names(&fixture);
    assert_eq!(env_from, ["frontend-settings-primary", "shared-settings"]);
    assert_eq!(secret, "frontend-token-primary");
    let copy = fixture
        .get("configmap", "frontend-settings-primary")
        .unwrap();
    assert_eq!(copy["data"]["color"], "blue");
    assert_eq!(copy["metadata"]["ownerReferences"][0]["kind"], "Canary");
    let token = fixture.get("secret", "frontend-token-primary").unwrap();
    assert_eq!(token["data"]["token"], "czNjcmV0", "base64 of s3cret");
    assert!(
        fixture
            .get("configmap", "shared-settings-primary")
            .is_none()
    );
    let checksum = |fixture: &Fixture| {
        fixture.get("deployment", "frontend-primary").unwrap()["spec"]["template"]["metadata"]
            ["annotations"]["warbler.dev/tracked-configs"]
            .clone()
    };
    let before = checksum(&fixture);
    assert!(before.is_string(), "{before}");

    // Only the config changes: that is a new revision, analysed on the
    // canary while the primary keeps the old copy.
    fixture.apply(&configs("green"));
    fixture.wait_for_phase("Progressing", INIT).await;
    let copy = fixture
        .get("configmap", "frontend-settings-primary")
        .unwrap();
    assert_eq!(
        copy["data"]["color"], "blue",
        "the primary got the change before its analysis"
    );
    fixture.wait_for_phase("Succeeded", RUN).await;
    let copy = fixture
        .get("configmap", "frontend-settings-primary")
        .unwrap();
    assert_eq!(copy["data"]["color"], "green");
    assert_ne!(
        checksum(&fixture),
        before,
        "the primary's pods are not rolled for the new data"
    );
    assert_no_step_twice(&fixture.journal());
}
