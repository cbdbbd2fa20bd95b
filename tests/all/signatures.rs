//! Cosign-compatible keyed signatures on policies in a real registry, with
//! keys, payloads and signatures made outside Warbler (Debian's `openssl`)
//! and pushed in cosign's tag scheme: `sha256-HEX.sig`, one simple-signing
//! layer per signature.

use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};

use serde_json::json;

use super::common::frontend_canary;
use super::registry::{Setup, file_verdict, stderr, verdict};
use super::registry_server::digest;

/// An ECDSA P-256 key pair made by `openssl`, as `cosign generate-key-pair`
/// makes one.
pub(super) struct Signer {
    private: PathBuf,
    public: PathBuf,
}

/// `openssl ARGS` with `stdin`; its standard output.
pub(super) fn openssl(args: &[&str], stdin: &[u8]) -> Vec<u8> {
    use std::io::Write;
    let mut child = Command::new("openssl")
        .args(args)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("openssl runs; install Debian's `openssl` package (tests/run.sh does)");
    child.stdin.take().unwrap().write_all(stdin).unwrap();
    let output = child.wait_with_output().unwrap();
    assert!(
        output.status.success(),
        "openssl {args:?} failed: {}",
        String::from_utf8_lossy(&output.stderr)
    );
    output.stdout
}

impl Signer {
    pub(super) fn new(dir: &Path, name: &str) -> Signer {
        let private = dir.join(format!("{name}.key"));
        let public = dir.join(format!("{name}.pub"));
        let (private_arg, public_arg) = (private.to_str().unwrap(), public.to_str().unwrap());
        openssl(
            &[
                "ecparam",
                "-name",
                "prime256v1",
                "-genkey",
                "-noout",
                "-out",
                private_arg,
            ],
            b"",
        );
        openssl(
            &["ec", "-in", private_arg, "-pubout", "-out", public_arg],
            b"",
        );
        Signer { private, public }
    }

    pub(super) fn public_pem(&self) -> String {
        std::fs::read_to_string(&self.public).unwrap()
    }

    /// The base64 DER signature of `payload`.
    fn sign(&self, payload: &[u8]) -> String {
        let der = openssl(
            &["dgst", "-sha256", "-sign", self.private.to_str().unwrap()],
            payload,
        );
        String::from_utf8(openssl(&["base64", "-A"], &der)).unwrap()
    }
}

/// Cosign's simple-signing payload for the manifest `digest`.
fn payload(setup: &Setup, repository: &str, digest: &str) -> Vec<u8> {
    serde_json::to_vec(&json!({
        "critical": {
            "identity": { "docker-reference": format!("{}/{repository}", setup.registry.address()) },
            "image": { "docker-manifest-digest": digest },
            "type": "cosign container image signature",
        },
        "optional": null,
    }))
    .unwrap()
}

/// `signer`'s signature layer (payload, base64 signature) for the manifest
/// `digest` of `team/zscore`.
fn signed_by(setup: &Setup, signer: &Signer, digest: &str) -> (Vec<u8>, String) {
    let payload = payload(setup, "team/zscore", digest);
    let signature = signer.sign(&payload);
    (payload, signature)
}

/// Push `signatures` (payload, base64 signature) as cosign does for the
/// manifest `signed` of the policy: tag `sha256-HEX.sig` in `repository`.
async fn push_signatures(
    setup: &Setup,
    repository: &str,
    signed: &str,
    signatures: &[(Vec<u8>, String)],
) {
    let config =
        br#"{"architecture":"","os":"","config":{},"rootfs":{"type":"layers","diff_ids":[]}}"#;
    let layers: Vec<_> = signatures
        .iter()
        .map(|(payload, signature)| {
            json!({
                "mediaType": "application/vnd.dev.cosign.simplesigning.v1+json",
                "digest": digest(payload),
                "size": payload.len(),
                "annotations": { "dev.cosignproject.cosign/signature": signature },
            })
        })
        .collect();
    let media_type = "application/vnd.oci.image.manifest.v1+json";
    let manifest = serde_json::to_vec(&json!({
        "schemaVersion": 2,
        "mediaType": media_type,
        "config": {
            "mediaType": "application/vnd.oci.image.config.v1+json",
            "digest": digest(config),
            "size": config.len(),
        },
        "layers": layers,
    }))
    .unwrap();
    let mut blobs: Vec<&[u8]> = signatures.iter().map(|(p, _)| p.as_slice()).collect();
    blobs.push(config);
    let tag = format!("sha256-{}.sig", signed.strip_prefix("sha256:").unwrap());
    setup
        .registry
        .push_raw(repository, &tag, &blobs, &manifest, media_type)
        .await;
}

/// The zscore policy pushed to `team/zscore`: (pinned reference, digest).
fn pushed(setup: &Setup) -> (String, String) {
    let pinned = setup.push_zscore("team/zscore");
    let digest = pinned.rsplit_once('@').unwrap().1.to_owned();
    (pinned, digest)
}

/// `policy eval` of `policy`, requiring signatures by `keys` and `extra`
/// flags.
fn eval_verified(setup: &Setup, policy: &str, keys: &[&Signer], extra: &[&str]) -> Output {
    let mut args = vec![
        "policy",
        "eval",
        "--policy",
        policy,
        "--input",
        super::registry::INPUT,
    ];
    for key in keys {
        args.extend(["--verify-key", key.public.to_str().unwrap()]);
    }
    args.extend(extra);
    setup.warbler(&args)
}

fn refused(output: &Output, expected: &str) {
    assert_eq!(output.status.code(), Some(2), "{}", stderr(output));
    assert!(stderr(output).contains(expected), "{}", stderr(output));
}

#[tokio::test]
async fn a_policy_signed_by_the_trusted_key_evaluates() {
    let setup = Setup::new();
    let alice = Signer::new(setup.dir.path(), "alice");
    let (pinned, digest) = pushed(&setup);
    let layer = signed_by(&setup, &alice, &digest);
    push_signatures(&setup, "team/zscore", &digest, &[layer]).await;
    let tagged = format!("{}:1.0", setup.registry.reference("team/zscore"));
    for policy in [&pinned, &tagged] {
        assert_eq!(
            verdict(&eval_verified(&setup, policy, &[&alice], &[])),
            file_verdict()
        );
    }
}

#[tokio::test]
async fn inspect_names_the_key_that_signed_the_policy() {
    let setup = Setup::new();
    let alice = Signer::new(setup.dir.path(), "alice");
    let (pinned, digest) = pushed(&setup);
    let layer = signed_by(&setup, &alice, &digest);
    push_signatures(&setup, "team/zscore", &digest, &[layer]).await;
    let output = setup.warbler(&[
        "policy",
        "inspect",
        &pinned,
        "--verify-key",
        alice.public.to_str().unwrap(),
    ]);
    assert!(output.status.success(), "{}", stderr(&output));
    let text = String::from_utf8_lossy(&output.stdout);
    let line = format!("signed by     --verify-key {}", alice.public.display());
    assert!(text.contains(&line), "{text}");
}

#[test]
fn an_unsigned_policy_is_refused_before_its_component_is_fetched() {
    let setup = Setup::new();
    let alice = Signer::new(setup.dir.path(), "alice");
    let (pinned, digest) = pushed(&setup);
    let output = eval_verified(&setup, &pinned, &[&alice], &[]);
    refused(
        &output,
        &format!(
            "is not signed: there is no {}:sha256-{}.sig",
            setup.registry.reference("team/zscore"),
            digest.strip_prefix("sha256:").unwrap()
        ),
    );
    let wasm = digest_of_zscore();
    assert!(!setup.cached_blob(&wasm).exists());
}

fn digest_of_zscore() -> String {
    digest(&std::fs::read(warbler_test_guests::ZSCORE).unwrap())
}

#[tokio::test]
async fn a_signature_by_another_key_is_refused() {
    let setup = Setup::new();
    let (alice, mallory) = (
        Signer::new(setup.dir.path(), "alice"),
        Signer::new(setup.dir.path(), "mallory"),
    );
    let (pinned, digest) = pushed(&setup);
    let layer = signed_by(&setup, &mallory, &digest);
    push_signatures(&setup, "team/zscore", &digest, &[layer]).await;
    refused(
        &eval_verified(&setup, &pinned, &[&alice], &[]),
        "layer 0 is signed by none of the trusted keys",
    );
}

#[tokio::test]
async fn a_tampered_payload_is_refused() {
    let setup = Setup::new();
    let alice = Signer::new(setup.dir.path(), "alice");
    let (pinned, digest) = pushed(&setup);
    let payload = payload(&setup, "team/zscore", &digest);
    let signature = alice.sign(&payload);
    let mut tampered = payload.clone();
    tampered.insert(1, b' ');
    push_signatures(&setup, "team/zscore", &digest, &[(tampered, signature)]).await;
    refused(
        &eval_verified(&setup, &pinned, &[&alice], &[]),
        "signed by none of the trusted keys",
    );
}

#[tokio::test]
async fn a_signature_of_another_manifest_is_refused() {
    let setup = Setup::new();
    let alice = Signer::new(setup.dir.path(), "alice");
    let (pinned, digest) = pushed(&setup);
    let other = format!("sha256:{}", "e".repeat(64));
    let payload = payload(&setup, "team/zscore", &other);
    let signature = alice.sign(&payload);
    push_signatures(&setup, "team/zscore", &digest, &[(payload, signature)]).await;
    refused(
        &eval_verified(&setup, &pinned, &[&alice], &[]),
        &format!("but for {other}, another manifest"),
    );
}

#[tokio::test]
async fn signatures_in_another_repository_are_found_there() {
    let setup = Setup::new();
    let alice = Signer::new(setup.dir.path(), "alice");
    let (pinned, digest) = pushed(&setup);
    let layer = signed_by(&setup, &alice, &digest);
    push_signatures(&setup, "signatures/zscore", &digest, &[layer]).await;
    refused(
        &eval_verified(&setup, &pinned, &[&alice], &[]),
        "is not signed",
    );
    let elsewhere = format!("{}/signatures/zscore", setup.registry.address());
    let output = eval_verified(
        &setup,
        &pinned,
        &[&alice],
        &["--signatures-repository", &elsewhere],
    );
    assert_eq!(verdict(&output), file_verdict());
}

#[tokio::test]
async fn a_minimum_of_two_keys_needs_two_distinct_signers() {
    let setup = Setup::new();
    let keys = ["alice", "bob", "carol"].map(|n| Signer::new(setup.dir.path(), n));
    let trusted: Vec<&Signer> = keys.iter().collect();
    let (pinned, digest) = pushed(&setup);
    let by_alice = signed_by(&setup, &keys[0], &digest);
    push_signatures(
        &setup,
        "team/zscore",
        &digest,
        &[by_alice.clone(), by_alice.clone()],
    )
    .await;
    refused(
        &eval_verified(&setup, &pinned, &trusted, &["--verify-minimum", "2"]),
        "1 of the 3 trusted key(s) signed",
    );
    let by_carol = signed_by(&setup, &keys[2], &digest);
    push_signatures(&setup, "team/zscore", &digest, &[by_alice, by_carol]).await;
    let output = eval_verified(&setup, &pinned, &trusted, &["--verify-minimum", "2"]);
    assert_eq!(verdict(&output), file_verdict());
}

#[test]
fn a_minimum_over_the_number_of_keys_is_refused_as_bad_input() {
    let setup = Setup::new();
    let alice = Signer::new(setup.dir.path(), "alice");
    let (pinned, _) = pushed(&setup);
    refused(
        &eval_verified(&setup, &pinned, &[&alice], &["--verify-minimum", "2"]),
        "can never be met",
    );
}

#[test]
fn a_private_key_given_as_a_trusted_key_is_refused_naming_it() {
    let setup = Setup::new();
    let alice = Signer::new(setup.dir.path(), "alice");
    let (pinned, _) = pushed(&setup);
    let output = setup.warbler(&[
        "policy",
        "eval",
        "--policy",
        &pinned,
        "--input",
        super::registry::INPUT,
        "--verify-key",
        alice.private.to_str().unwrap(),
    ]);
    refused(
        &output,
        &format!("verification key --verify-key {}", alice.private.display()),
    );
}

#[tokio::test]
async fn a_verified_policy_verifies_again_while_the_registry_is_down() {
    let mut setup = Setup::new();
    let alice = Signer::new(setup.dir.path(), "alice");
    let (pinned, digest) = pushed(&setup);
    let layer = signed_by(&setup, &alice, &digest);
    push_signatures(&setup, "team/zscore", &digest, &[layer]).await;
    assert!(
        eval_verified(&setup, &pinned, &[&alice], &[])
            .status
            .success()
    );
    setup.registry.stop();
    assert_eq!(
        verdict(&eval_verified(&setup, &pinned, &[&alice], &[])),
        file_verdict()
    );
}

/// The seed's Canary with `pinned` as its policy, requiring `key`.
fn canary_requiring(pinned: &str, key: &Signer) -> warbler::canary::Canary {
    let pem = key.public_pem().replace('\n', "\\n");
    frontend_canary(&format!(
        "  analysis:\n    interval: 1m\n    threshold: 5\n    policy:\n      ref: {pinned}\n      verify:\n        keys: [\"{pem}\"]\n"
    ))
}

#[tokio::test]
async fn a_canary_requiring_signatures_refuses_an_unsigned_policy_before_its_run() {
    let setup = Setup::new();
    let alice = Signer::new(setup.dir.path(), "alice");
    let (pinned, _) = pushed(&setup);
    let canary = canary_requiring(&pinned, &alice);
    let err = setup.judge().check(&canary).await.unwrap_err();
    assert!(
        err.starts_with("spec.analysis.policy.ref: ") && err.contains("is not signed"),
        "{err}"
    );
    // The same policy without the requirement loads: it is the signature
    // that is missing, and a cached load does not skip the check.
    let judge = setup.judge();
    let mut unverified = canary.clone();
    unverified.spec.analysis.policy.as_mut().unwrap().verify = None;
    judge.check(&unverified).await.unwrap();
    assert!(judge.check(&canary).await.is_err());
}

#[tokio::test]
async fn a_canary_requiring_signatures_runs_a_signed_policy() {
    let setup = Setup::new();
    let alice = Signer::new(setup.dir.path(), "alice");
    let (pinned, digest) = pushed(&setup);
    let layer = signed_by(&setup, &alice, &digest);
    push_signatures(&setup, "team/zscore", &digest, &[layer]).await;
    let canary = canary_requiring(&pinned, &alice);
    let checked = setup.judge().check(&canary).await.unwrap();
    assert_eq!(format!("sha256:{}", checked.digest), digest_of_zscore());
    assert_eq!(checked.resolved.as_deref(), Some(pinned.as_str()));
}

#[tokio::test]
async fn every_key_file_of_a_directory_is_a_trusted_signer() {
    let setup = Setup::new();
    let (alice, bob) = (
        Signer::new(setup.dir.path(), "alice"),
        Signer::new(setup.dir.path(), "bob"),
    );
    // The public keys as a mounted ConfigMap holds them, `..data` and all.
    let keys = setup.dir.path().join("keys");
    std::fs::create_dir_all(keys.join("..2026_12_06_data")).unwrap();
    std::fs::copy(&alice.public, keys.join("alice.pub")).unwrap();
    std::fs::copy(&bob.public, keys.join("bob.pub")).unwrap();
    let (pinned, digest) = pushed(&setup);
    let by_alice = signed_by(&setup, &alice, &digest);
    push_signatures(
        &setup,
        "team/zscore",
        &digest,
        std::slice::from_ref(&by_alice),
    )
    .await;
    let flags = [
        "--verify-key",
        keys.to_str().unwrap(),
        "--verify-minimum",
        "2",
    ];
    refused(
        &eval_verified(&setup, &pinned, &[], &flags),
        "1 of the 2 trusted key(s) signed",
    );
    let by_bob = signed_by(&setup, &bob, &digest);
    push_signatures(&setup, "team/zscore", &digest, &[by_alice, by_bob]).await;
    assert_eq!(
        verdict(&eval_verified(&setup, &pinned, &[], &flags)),
        file_verdict()
    );
}
