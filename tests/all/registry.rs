//! Policies through a real OCI registry (Debian's `docker-registry` on
//! loopback), driven the way users drive them: `warbler policy push`,
//! `pull`, `inspect` and `eval` with `oci://` references, including
//! registries that fail, lie or go away.

use std::path::{Path, PathBuf};
use std::process::{Command, Output};
use std::sync::Arc;

use serde_json::{Value, json};
use warbler::judge::RuntimeJudge;
use warbler::oci::{BlobStore, PolicyRegistry, RegistryOptions};
use warbler::policy::RuntimeConfig;
use warbler::ports::memory::{
    ManualClock, MemoryJournal, MemoryPlatform, MemoryRouter, ScriptedHooks, ScriptedMetrics,
};
use warbler::reconciler::Reconciler;
use warbler_guest_sdk::Phase;

use super::common::{frontend_canary, runtime_with};

use super::registry_server::{Registry, digest};

const CNCF_CONFIG: &str = "application/vnd.wasm.config.v0+json";
pub(super) const INPUT: &str = concat!(
    env!("CARGO_MANIFEST_DIR"),
    "/../examples/inputs/frontend-step.json"
);

/// A registry and a fresh policy cache for one test.
pub(super) struct Setup {
    pub(super) dir: tempfile::TempDir,
    pub(super) registry: Registry,
}

impl Setup {
    pub(super) fn new() -> Setup {
        let dir = tempfile::tempdir().unwrap();
        let registry = Registry::start(dir.path());
        Setup { dir, registry }
    }

    pub(super) fn cache(&self) -> PathBuf {
        self.dir.path().join("cache")
    }

    /// `warbler ARGS` against this registry and cache.
    pub(super) fn warbler(&self, args: &[&str]) -> Output {
        self.warbler_with_cache(args, &self.cache())
    }

    pub(super) fn warbler_with_cache(&self, args: &[&str], cache: &Path) -> Output {
        Command::new(env!("CARGO_BIN_EXE_warbler"))
            .args(args)
            .arg("--insecure-registry")
            .arg(self.registry.address())
            .arg("--cache-dir")
            .arg(cache)
            .env("WARBLER_CACHE_KEY", self.dir.path().join("cache.key"))
            .env("DOCKER_CONFIG", self.dir.path().join("docker"))
            .output()
            .expect("the warbler binary runs")
    }

    /// Push the Rust zscore example as `repository:tag`; the pinned
    /// reference printed.
    pub(super) fn push_zscore(&self, repository: &str) -> String {
        let target = format!("{}:1.0", self.registry.reference(repository));
        let output = self.warbler(&["policy", "push", warbler_test_guests::ZSCORE, &target]);
        assert!(output.status.success(), "push failed: {}", stderr(&output));
        String::from_utf8(output.stdout).unwrap().trim().to_owned()
    }

    pub(super) fn eval(&self, policy: &str) -> Output {
        self.warbler(&["policy", "eval", "--policy", policy, "--input", INPUT])
    }

    /// A judge pulling through this registry into this cache.
    pub(super) fn judge(&self) -> RuntimeJudge {
        let store = BlobStore::open(self.cache().join("oci")).unwrap();
        let registry = PolicyRegistry::new(
            store,
            RegistryOptions {
                insecure: vec![self.registry.address()],
                ..RegistryOptions::default()
            },
        )
        .unwrap();
        RuntimeJudge::new(Arc::new(runtime_with(RuntimeConfig::default())))
            .with_registry(Arc::new(registry))
    }

    pub(super) fn cached_blob(&self, digest: &str) -> PathBuf {
        self.cache()
            .join("oci/blobs/sha256")
            .join(digest.strip_prefix("sha256:").unwrap())
    }
}

pub(super) fn stderr(output: &Output) -> String {
    String::from_utf8_lossy(&output.stderr).into_owned()
}

pub(super) fn verdict(output: &Output) -> Value {
    assert!(output.status.success(), "eval failed: {}", stderr(output));
    serde_json::from_slice(&output.stdout).unwrap()
}

pub(super) fn zscore_bytes() -> Vec<u8> {
    std::fs::read(warbler_test_guests::ZSCORE).unwrap()
}

/// What the zscore policy decides on the example input, read from its file.
pub(super) fn file_verdict() -> Value {
    let output = Command::new(env!("CARGO_BIN_EXE_warbler"))
        .args(["policy", "eval", "--no-cache", "--input", INPUT, "--policy"])
        .arg(warbler_test_guests::ZSCORE)
        .output()
        .unwrap();
    verdict(&output)
}

#[test]
fn a_pushed_policy_prints_its_reference_pinned_to_the_manifest_digest() {
    let setup = Setup::new();
    let pinned = setup.push_zscore("team/zscore");
    let prefix = format!("{}@sha256:", setup.registry.reference("team/zscore"));
    assert!(pinned.starts_with(&prefix), "{pinned}");
    assert_eq!(pinned.len(), prefix.len() + 64, "{pinned}");
}

#[test]
fn a_pushed_policy_evaluates_from_its_tag_and_from_its_digest_as_from_its_file() {
    let setup = Setup::new();
    let pinned = setup.push_zscore("team/zscore");
    let tagged = format!("{}:1.0", setup.registry.reference("team/zscore"));
    assert_eq!(verdict(&setup.eval(&tagged)), file_verdict());
    assert_eq!(verdict(&setup.eval(&pinned)), file_verdict());
}

#[test]
fn the_pulled_component_is_byte_for_byte_the_pushed_file() {
    let setup = Setup::new();
    let pinned = setup.push_zscore("team/zscore");
    let output = setup.warbler(&["policy", "pull", &pinned]);
    assert!(output.status.success(), "{}", stderr(&output));
    assert_eq!(String::from_utf8_lossy(&output.stdout).trim(), pinned);
    let cached = std::fs::read(setup.cached_blob(&digest(&zscore_bytes()))).unwrap();
    assert!(
        cached == zscore_bytes(),
        "the cached layer differs from the pushed file"
    );
}

#[test]
fn inspect_shows_the_artifact_its_config_and_the_annotations_from_describe() {
    let setup = Setup::new();
    let pinned = setup.push_zscore("team/zscore");
    let output = setup.warbler(&["policy", "inspect", "-o", "json", &pinned]);
    assert!(output.status.success(), "{}", stderr(&output));
    let report: Value = serde_json::from_slice(&output.stdout).unwrap();
    let artifact = &report["artifact"];
    assert_eq!(artifact["reference"], json!(pinned));
    assert_eq!(artifact["layout"], "cncf");
    assert_eq!(
        artifact["annotations"]["org.opencontainers.image.title"],
        report["info"]["name"]
    );
    assert_eq!(
        artifact["annotations"]["org.opencontainers.image.version"],
        report["info"]["version"]
    );
    assert_eq!(artifact["config"]["os"], "wasip2");
    assert_eq!(artifact["config"]["architecture"], "wasm");
    assert_eq!(
        artifact["config"]["layerDigests"],
        json!([digest(&zscore_bytes())])
    );
    assert_eq!(
        artifact["config"]["component"]["exports"],
        report["exports"]
    );
    assert_eq!(
        artifact["config"]["component"]["imports"],
        report["imports"]
    );
    assert_eq!(
        artifact["manifest"]["layers"][0]["mediaType"],
        "application/wasm"
    );
}

#[test]
fn skopeo_reads_the_manifest_warbler_pushed() {
    let setup = Setup::new();
    let pinned = setup.push_zscore("team/zscore");
    let output = Command::new("skopeo")
        .args(["inspect", "--raw", "--tls-verify=false"])
        .arg(format!(
            "docker://{}/team/zscore:1.0",
            setup.registry.address()
        ))
        .output()
        .expect("skopeo runs; install Debian's `skopeo` (tests/run.sh does)");
    assert!(output.status.success(), "{}", stderr(&output));
    let manifest_digest = pinned.rsplit_once('@').unwrap().1;
    assert_eq!(digest(&output.stdout), manifest_digest);
}

/// A layer descriptor of `media_type` for `bytes`, declaring `size`.
fn layer(media_type: &str, bytes: &[u8], size: u64) -> Value {
    json!({ "mediaType": media_type, "digest": digest(bytes), "size": size })
}

/// Push a manifest of `layers` over `config` (media type, bytes) as
/// `repository:v1` through the distribution API, uploading `blobs` and the
/// config first; the reference.
async fn push_manifest(
    setup: &Setup,
    repository: &str,
    config: (&str, &[u8]),
    layers: &[Value],
    blobs: &[&[u8]],
) -> String {
    let media_type = "application/vnd.oci.image.manifest.v1+json";
    let manifest = serde_json::to_vec(&json!({
        "schemaVersion": 2,
        "mediaType": media_type,
        "config": { "mediaType": config.0, "digest": digest(config.1), "size": config.1.len() },
        "layers": layers,
    }))
    .unwrap();
    let mut uploads = blobs.to_vec();
    uploads.push(config.1);
    setup
        .registry
        .push_raw(repository, "v1", &uploads, &manifest, media_type)
        .await;
    format!("{}:v1", setup.registry.reference(repository))
}

/// Push the zscore component in another tool's layout: `layer` and
/// `config` media types, config bytes.
async fn push_in_layout(
    setup: &Setup,
    repository: &str,
    layer_type: &str,
    config: (&str, &[u8]),
) -> String {
    let wasm = zscore_bytes();
    let layers = [layer(layer_type, &wasm, wasm.len() as u64)];
    push_manifest(setup, repository, config, &layers, &[&wasm]).await
}

#[tokio::test]
async fn an_artifact_in_kubewarden_layout_loads() {
    let setup = Setup::new();
    let reference = push_in_layout(
        &setup,
        "kw/zscore",
        "application/vnd.wasm.content.layer.v1+wasm",
        ("application/vnd.wasm.config.v1+json", b"{}"),
    )
    .await;
    assert_eq!(verdict(&setup.eval(&reference)), file_verdict());
}

#[tokio::test]
async fn an_artifact_in_the_older_module_layout_loads() {
    let setup = Setup::new();
    let reference = push_in_layout(
        &setup,
        "module/zscore",
        "application/vnd.module.wasm.content.layer.v1+wasm",
        ("application/vnd.oci.image.config.v1+json", b"{}"),
    )
    .await;
    assert_eq!(verdict(&setup.eval(&reference)), file_verdict());
}

#[tokio::test]
async fn a_container_image_is_refused_naming_its_layer_type() {
    let setup = Setup::new();
    let reference = push_in_layout(
        &setup,
        "image/app",
        "application/vnd.oci.image.layer.v1.tar+gzip",
        ("application/vnd.oci.image.config.v1+json", b"{}"),
    )
    .await;
    let output = setup.eval(&reference);
    assert_eq!(output.status.code(), Some(2), "{}", stderr(&output));
    assert!(
        stderr(&output)
            .contains("application/vnd.oci.image.layer.v1.tar+gzip` (a container image?)"),
        "{}",
        stderr(&output)
    );
}

#[tokio::test]
async fn an_artifact_with_two_layers_is_refused() {
    let setup = Setup::new();
    let wasm = zscore_bytes();
    let wasm_layer = layer("application/wasm", &wasm, wasm.len() as u64);
    let reference = push_manifest(
        &setup,
        "two/layers",
        (CNCF_CONFIG, b"{}"),
        &[wasm_layer.clone(), wasm_layer],
        &[&wasm],
    )
    .await;
    let output = setup.eval(&reference);
    assert_eq!(output.status.code(), Some(2), "{}", stderr(&output));
    assert!(
        stderr(&output).contains("has 2 layers"),
        "{}",
        stderr(&output)
    );
}

#[tokio::test]
async fn a_core_module_where_a_component_is_needed_is_refused() {
    let setup = Setup::new();
    let core = wat::parse_str("(module)").unwrap();
    let layers = [layer("application/wasm", &core, core.len() as u64)];
    let reference = push_manifest(
        &setup,
        "core/module",
        (CNCF_CONFIG, b"{}"),
        &layers,
        &[&core],
    )
    .await;
    let output = setup.eval(&reference);
    assert_eq!(output.status.code(), Some(2), "{}", stderr(&output));
    assert!(
        stderr(&output).contains("core WebAssembly module"),
        "{}",
        stderr(&output)
    );
}

#[tokio::test]
async fn a_layer_declared_over_the_size_cap_is_refused_before_download() {
    let setup = Setup::new();
    let wasm = zscore_bytes();
    let layers = [layer("application/wasm", &wasm, 3 << 20)];
    let reference = push_manifest(
        &setup,
        "big/policy",
        (CNCF_CONFIG, b"{}"),
        &layers,
        &[&wasm],
    )
    .await;
    let output = setup.warbler(&["policy", "pull", "--max-policy-mib", "2", &reference]);
    assert_eq!(output.status.code(), Some(2), "{}", stderr(&output));
    assert!(
        stderr(&output).contains("the component is 3145728 bytes, over the 2097152-byte limit"),
        "{}",
        stderr(&output)
    );
    assert!(!setup.cached_blob(&digest(&wasm)).exists());
}

#[test]
fn a_tampered_layer_is_refused_and_nothing_corrupt_is_cached() {
    let setup = Setup::new();
    let pinned = setup.push_zscore("team/zscore");
    let layer = digest(&zscore_bytes());
    let mut tampered = zscore_bytes();
    let last = tampered.len() - 1;
    tampered[last] ^= 0xff;
    std::fs::write(setup.registry.blob_file(&layer), &tampered).unwrap();
    let output = setup.eval(&pinned);
    assert_eq!(output.status.code(), Some(2), "{}", stderr(&output));
    assert!(
        stderr(&output).contains(&format!("not the {layer} it was asked for by")),
        "{}",
        stderr(&output)
    );
    assert!(!setup.cached_blob(&layer).exists());
}

#[test]
fn a_digest_the_registry_does_not_hold_is_a_clear_error() {
    let setup = Setup::new();
    setup.push_zscore("team/zscore");
    let missing = format!(
        "{}@sha256:{}",
        setup.registry.reference("team/zscore"),
        "0".repeat(64)
    );
    let output = setup.eval(&missing);
    assert_eq!(output.status.code(), Some(2), "{}", stderr(&output));
    assert!(
        stderr(&output).contains("does not exist in its registry"),
        "{}",
        stderr(&output)
    );
}

#[test]
fn a_missing_tag_is_a_clear_error_naming_the_reference() {
    let setup = Setup::new();
    setup.push_zscore("team/zscore");
    let missing = format!("{}:9.9", setup.registry.reference("team/zscore"));
    let output = setup.eval(&missing);
    assert_eq!(output.status.code(), Some(2), "{}", stderr(&output));
    assert!(
        stderr(&output).contains(&format!("{missing} does not exist in its registry")),
        "{}",
        stderr(&output)
    );
}

#[test]
fn a_pulled_policy_keeps_working_by_digest_and_by_tag_while_the_registry_is_down() {
    let mut setup = Setup::new();
    let pinned = setup.push_zscore("team/zscore");
    let tagged = format!("{}:1.0", setup.registry.reference("team/zscore"));
    assert!(setup.warbler(&["policy", "pull", &tagged]).status.success());
    setup.registry.stop();
    assert_eq!(verdict(&setup.eval(&pinned)), file_verdict());
    let by_tag = setup.eval(&tagged);
    assert_eq!(verdict(&by_tag), file_verdict());
    assert!(
        stderr(&by_tag)
            .contains("registry unreachable; using the digest this tag resolved to before"),
        "{}",
        stderr(&by_tag)
    );
}

#[test]
fn a_policy_never_pulled_is_a_clear_error_while_the_registry_is_down() {
    let mut setup = Setup::new();
    let tagged = format!("{}:1.0", setup.registry.reference("team/zscore"));
    setup.push_zscore("team/zscore");
    setup.registry.stop();
    let output = setup.eval(&tagged);
    assert_eq!(output.status.code(), Some(3), "{}", stderr(&output));
    assert!(
        stderr(&output).contains("and it is not in the policy cache"),
        "{}",
        stderr(&output)
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_run_whose_policy_cannot_be_pulled_fails_safe_and_rolls_back() {
    let mut setup = Setup::new();
    let tagged = format!("{}:1.0", setup.registry.reference("team/zscore"));
    setup.push_zscore("team/zscore");
    setup.registry.stop();
    let mut canary = frontend_canary(&format!(
        "  analysis:\n    interval: 10s\n    threshold: 2\n    stepWeight: 10\n    policy:\n      ref: {tagged}\n"
    ));
    let ports = Reconciler {
        platform: MemoryPlatform::with_target("podinfo:6.0"),
        router: MemoryRouter::default(),
        metrics: ScriptedMetrics::default(),
        hooks: ScriptedHooks::default(),
        judge: setup.judge(),
        journal: MemoryJournal::default(),
        clock: ManualClock::at(1_795_000_000_000),
    };
    for tick in 0..10 {
        if tick == 1 {
            ports.platform.deploy("podinfo:6.1");
        }
        let outcome = ports.reconcile(&canary).await.unwrap();
        canary.status = outcome.status;
        ports.clock.advance(outcome.requeue_after);
        if canary.status.phase == Phase::Failed {
            break;
        }
    }
    assert_eq!(canary.status.phase, Phase::Failed);
    assert_eq!(ports.router.weight(), 0);
    let steps = ports.journal.entries();
    assert!(!steps.is_empty());
    for step in steps {
        let failure = step.outcome.unwrap_err();
        assert!(failure.contains("not in the policy cache"), "{failure}");
    }
}

#[test]
fn a_registry_that_never_answers_fails_the_pull_instead_of_hanging() {
    let setup = Setup::new();
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let address = listener.local_addr().unwrap().to_string();
    let output = Command::new(env!("CARGO_BIN_EXE_warbler"))
        .args(["policy", "pull", "--registry-timeout", "1"])
        .arg(format!("oci://{address}/team/zscore:1.0"))
        .arg("--insecure-registry")
        .arg(&address)
        .arg("--cache-dir")
        .arg(setup.cache())
        .output()
        .unwrap();
    drop(listener);
    assert_eq!(output.status.code(), Some(3), "{}", stderr(&output));
    assert!(stderr(&output).contains(&address), "{}", stderr(&output));
}

#[test]
fn a_corrupt_cached_component_is_fetched_again() {
    let setup = Setup::new();
    let pinned = setup.push_zscore("team/zscore");
    assert!(setup.warbler(&["policy", "pull", &pinned]).status.success());
    let cached = setup.cached_blob(&digest(&zscore_bytes()));
    std::fs::write(&cached, b"corrupt").unwrap();
    assert_eq!(verdict(&setup.eval(&pinned)), file_verdict());
    assert!(std::fs::read(&cached).unwrap() == zscore_bytes());
}

#[test]
fn two_pulls_of_one_policy_at_once_both_succeed() {
    let setup = Setup::new();
    let pinned = setup.push_zscore("team/zscore");
    let spawn = || {
        Command::new(env!("CARGO_BIN_EXE_warbler"))
            .args(["policy", "pull", &pinned])
            .arg("--insecure-registry")
            .arg(setup.registry.address())
            .arg("--cache-dir")
            .arg(setup.cache())
            .env("WARBLER_CACHE_KEY", setup.dir.path().join("cache.key"))
            .stdout(std::process::Stdio::piped())
            .stderr(std::process::Stdio::piped())
            .spawn()
            .unwrap()
    };
    let (first, second) = (spawn(), spawn());
    for child in [first, second] {
        let output = child.wait_with_output().unwrap();
        assert!(output.status.success(), "{}", stderr(&output));
    }
    assert!(std::fs::read(setup.cached_blob(&digest(&zscore_bytes()))).unwrap() == zscore_bytes());
}
