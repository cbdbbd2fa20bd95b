//! Policies carried by tools Warbler did not write: pushed with PyPI's
//! `oras` SDK, and mirrored by `skopeo` from registry to registry and
//! through an OCI image layout on disk (how air-gapped clusters get them).

use std::process::{Command, Output};

use super::registry::{INPUT, Setup, file_verdict, stderr, verdict};
use super::registry_server::Registry;

/// The Python that has `oras` (tests/run.sh makes it), else the system's.
fn python() -> String {
    std::env::var("WARBLER_TEST_PYTHON").unwrap_or_else(|_| "python3".to_owned())
}

const ORAS_PUSH: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/../tests/tools/oras_push.py");

/// `skopeo copy --preserve-digests FROM TO`, over plain HTTP.
fn skopeo_copy(from: &str, to: &str) {
    let output = Command::new("skopeo")
        .args(["copy", "--preserve-digests"])
        .args(["--src-tls-verify=false", "--dest-tls-verify=false"])
        .args([from, to])
        .output()
        .expect("skopeo runs");
    assert!(output.status.success(), "{}", stderr(&output));
}

/// The zscore policy pushed by Warbler as `team/zscore:1.0`, then copied to
/// `mirror` as `repository:1.0` through `via` (skopeo transports); the
/// verdict evaluated from the mirror by the original manifest digest, with
/// a cache that has never seen the policy.
fn mirrored_verdict(setup: &Setup, mirror: &Registry, repository: &str, via: &[String]) -> Output {
    let pinned = setup.push_zscore("team/zscore");
    let mut from = format!("docker://{}/team/zscore:1.0", setup.registry.address());
    let destination = format!("docker://{}/{repository}:1.0", mirror.address());
    for to in via.iter().chain([&destination]) {
        skopeo_copy(&from, to);
        from = to.clone();
    }
    let manifest_digest = pinned.rsplit_once('@').unwrap().1;
    let mirrored = format!("{}@{manifest_digest}", mirror.reference(repository));
    Command::new(env!("CARGO_BIN_EXE_warbler"))
        .args(["policy", "eval", "--input", INPUT, "--policy", &mirrored])
        .arg("--insecure-registry")
        .arg(mirror.address())
        .arg("--cache-dir")
        .arg(setup.dir.path().join("mirror-cache"))
        .env("WARBLER_CACHE_KEY", setup.dir.path().join("cache.key"))
        .output()
        .unwrap()
}

#[test]
fn a_policy_pushed_by_oras_loads_and_decides() {
    let setup = Setup::new();
    let push = Command::new(python())
        .arg(ORAS_PUSH)
        .arg(setup.registry.address())
        .arg("team/by-oras:1.0")
        .arg(warbler_test_guests::ZSCORE)
        .output()
        .expect("python runs");
    assert!(
        push.status.success(),
        "oras push failed (tests/run.sh installs the oras SDK): {}",
        stderr(&push)
    );
    let digest = String::from_utf8(push.stdout).unwrap().trim().to_owned();
    let reference = setup.registry.reference("team/by-oras");
    for policy in [format!("{reference}:1.0"), format!("{reference}@{digest}")] {
        assert_eq!(verdict(&setup.eval(&policy)), file_verdict(), "{policy}");
    }
}

#[test]
fn a_policy_copied_by_skopeo_with_its_digest_preserved_loads_from_the_mirror() {
    let setup = Setup::new();
    let mirror = Registry::start(&setup.dir.path().join("mirror"));
    let output = mirrored_verdict(&setup, &mirror, "mirrored/zscore", &[]);
    assert_eq!(verdict(&output), file_verdict());
}

#[test]
fn a_policy_carried_through_an_oci_layout_by_skopeo_keeps_its_digest_and_runs() {
    let setup = Setup::new();
    let mirror = Registry::start(&setup.dir.path().join("mirror"));
    let layout = format!("oci:{}:1.0", setup.dir.path().join("layout").display());
    let output = mirrored_verdict(&setup, &mirror, "airgap/zscore", &[layout]);
    assert_eq!(verdict(&output), file_verdict());
}
