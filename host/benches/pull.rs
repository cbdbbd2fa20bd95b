//! A policy from a registry to its first decision: pull from Debian's
//! `docker-registry` on loopback (manifest, config, component, each
//! digest-verified), verify its cosign signature, compile (or load the
//! precompiled artifact) and decide one step. For the Rust, Python and
//! JavaScript `zscore` examples, cold (empty store and compile cache, as on
//! a new node) and warm (both filled, a new process: what a controller
//! restart costs).
//!
//! `cargo bench -p warbler --bench pull` (prints figures). Builds the
//! Python and JavaScript examples first (tests/run.sh installs their
//! toolchains); needs `docker-registry`.

#[path = "../../tests/all/prometheus_server.rs"]
#[allow(dead_code)]
mod prometheus_server;
#[path = "../../tests/all/registry_server.rs"]
#[allow(dead_code)]
mod registry_server;

use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::{Duration, Instant};

use base64::Engine;
use ring::rand::SystemRandom;
use ring::signature::{ECDSA_P256_SHA256_ASN1_SIGNING, EcdsaKeyPair, KeyPair};
use serde_json::json;
use warbler::case_table::CaseTable;
use warbler::oci::{
    BlobStore, OciReference, PolicyRegistry, RegistryOptions, TrustedKey, TrustedKeys,
};
use warbler::policy::{CpuBudget, PolicyRuntime, RuntimeConfig};
use warbler_guest_sdk::Input;

use registry_server::{Registry, digest};

const EXAMPLES: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/../policies/examples");
/// The DER prefix of a P-256 SubjectPublicKeyInfo.
const P256_SPKI_PREFIX: [u8; 26] = [
    0x30, 0x59, 0x30, 0x13, 0x06, 0x07, 0x2a, 0x86, 0x48, 0xce, 0x3d, 0x02, 0x01, 0x06, 0x08, 0x2a,
    0x86, 0x48, 0xce, 0x3d, 0x03, 0x01, 0x07, 0x03, 0x42, 0x00,
];

fn build(example: &str) -> PathBuf {
    let out = Path::new(env!("CARGO_TARGET_TMPDIR")).join(format!("{example}.wasm"));
    let status = Command::new("sh")
        .arg(Path::new(EXAMPLES).join(example).join("build.sh"))
        .arg(&out)
        .status()
        .expect("sh runs");
    assert!(status.success(), "building {example} failed");
    out
}

/// The signing key of the bench, and the requirement that trusts it.
struct Signer {
    pair: EcdsaKeyPair,
    trust: TrustedKeys,
}

impl Signer {
    fn new() -> Signer {
        let rng = SystemRandom::new();
        let pkcs8 = EcdsaKeyPair::generate_pkcs8(&ECDSA_P256_SHA256_ASN1_SIGNING, &rng).unwrap();
        let pair = EcdsaKeyPair::from_pkcs8(&ECDSA_P256_SHA256_ASN1_SIGNING, pkcs8.as_ref(), &rng)
            .unwrap();
        let mut spki = P256_SPKI_PREFIX.to_vec();
        spki.extend_from_slice(pair.public_key().as_ref());
        let pem = pem::encode(&pem::Pem::new("PUBLIC KEY", spki));
        let key = TrustedKey::from_pem("bench", &pem).unwrap();
        let trust = TrustedKeys::new(vec![key], 1, None).unwrap();
        Signer { pair, trust }
    }

    /// Sign the manifest `signed` of `repository` as cosign does.
    async fn sign(&self, registry: &Registry, repository: &str, signed: &str) {
        let payload = serde_json::to_vec(&json!({
            "critical": {
                "identity": { "docker-reference": format!("{}/{repository}", registry.address()) },
                "image": { "docker-manifest-digest": signed },
                "type": "cosign container image signature",
            },
            "optional": null,
        }))
        .unwrap();
        let signature = self.pair.sign(&SystemRandom::new(), &payload).unwrap();
        let config =
            br#"{"architecture":"","os":"","config":{},"rootfs":{"type":"layers","diff_ids":[]}}"#;
        let media_type = "application/vnd.oci.image.manifest.v1+json";
        let manifest = serde_json::to_vec(&json!({
            "schemaVersion": 2,
            "mediaType": media_type,
            "config": {
                "mediaType": "application/vnd.oci.image.config.v1+json",
                "digest": digest(config),
                "size": config.len(),
            },
            "layers": [{
                "mediaType": "application/vnd.dev.cosign.simplesigning.v1+json",
                "digest": digest(&payload),
                "size": payload.len(),
                "annotations": {
                    "dev.cosignproject.cosign/signature":
                        base64::engine::general_purpose::STANDARD.encode(signature.as_ref()),
                },
            }],
        }))
        .unwrap();
        let tag = format!("sha256-{}.sig", signed.strip_prefix("sha256:").unwrap());
        registry
            .push_raw(repository, &tag, &[&payload, config], &manifest, media_type)
            .await;
    }
}

/// `warbler policy push`; the pinned reference.
fn push(registry: &Registry, dir: &Path, file: &Path, repository: &str) -> String {
    let output = Command::new(env!("CARGO_BIN_EXE_warbler"))
        .args(["policy", "push"])
        .arg(file)
        .arg(format!("{}:1.0", registry.reference(repository)))
        .args(["--insecure-registry", &registry.address()])
        .arg("--cache-dir")
        .arg(dir.join("push-cache"))
        .env("WARBLER_CACHE_KEY", dir.join("cache.key"))
        .output()
        .expect("warbler runs");
    assert!(
        output.status.success(),
        "push failed: {}",
        String::from_utf8_lossy(&output.stderr)
    );
    String::from_utf8(output.stdout).unwrap().trim().to_owned()
}

/// Time of each stage of one registry-to-decision.
#[derive(Default, Clone, Copy)]
struct Stages {
    pull: Duration,
    compile: Duration,
    decide: Duration,
}

impl Stages {
    fn total(&self) -> Duration {
        self.pull + self.compile + self.decide
    }
}

/// Pull `reference` (by tag) with its signature checked, load and decide
/// once, with the store and compile cache under `state`, all through new
/// clients and a new runtime (as a new process has them).
async fn first_decision(
    registry: &Registry,
    state: &Path,
    reference: &OciReference,
    trust: &TrustedKeys,
    input: &Input,
) -> Stages {
    let client = PolicyRegistry::new(
        BlobStore::open(state.join("oci")).unwrap(),
        RegistryOptions {
            insecure: vec![registry.address()],
            ..RegistryOptions::default()
        },
    )
    .unwrap();
    let runtime = PolicyRuntime::new(RuntimeConfig {
        cpu: CpuBudget::Fuel(200_000_000),
        cache_dir: Some(state.join("compiled")),
        ..RuntimeConfig::default()
    })
    .unwrap();
    let started = Instant::now();
    let pulled = client.pull(reference, Some(trust)).await.expect("the pull");
    let pull = started.elapsed();
    let started = Instant::now();
    let policy = runtime
        .load_bytes(&pulled.pinned.to_string(), &pulled.wasm)
        .expect("the policy loads");
    let compile = started.elapsed();
    let started = Instant::now();
    policy.evaluate(input).expect("a verdict");
    Stages {
        pull,
        compile,
        decide: started.elapsed(),
    }
}

fn median(mut runs: Vec<Stages>) -> Stages {
    runs.sort_by_key(Stages::total);
    runs[runs.len() / 2]
}

fn show(language: &str, kind: &str, runs: usize, stages: Stages) {
    println!(
        "{language:<11} {kind}  median of {runs:>2}: {:>9.2?}  (pull + verify {:>8.2?}, compile/load {:>9.2?}, first decision {:>8.2?})",
        stages.total(),
        stages.pull,
        stages.compile,
        stages.decide
    );
}

#[tokio::main]
async fn main() {
    let table = CaseTable::read(&Path::new(EXAMPLES).join("zscore-cases.yaml")).expect("table");
    let input = table.cases[1].input.clone().expect("a valid input");
    let dir = tempfile::tempdir().unwrap();
    let registry = Registry::start(dir.path());
    let signer = Signer::new();
    let components = [
        ("Rust", PathBuf::from(warbler_test_guests::ZSCORE), 20),
        ("Python", build("python-zscore"), 3),
        ("JavaScript", build("js-zscore"), 3),
    ];
    println!("a signed zscore policy from a loopback registry to its first decision:");
    for (language, path, runs) in components {
        let repository = format!("bench/{}", language.to_lowercase());
        let pinned = push(&registry, dir.path(), &path, &repository);
        let signed = pinned.rsplit_once('@').unwrap().1.to_owned();
        signer.sign(&registry, &repository, &signed).await;
        let tagged: OciReference = format!("{}:1.0", registry.reference(&repository))
            .parse()
            .unwrap();
        let mut cold = Vec::new();
        for _ in 0..runs {
            let state = tempfile::tempdir().unwrap();
            cold.push(
                first_decision(&registry, state.path(), &tagged, &signer.trust, &input).await,
            );
        }
        let warm_state = tempfile::tempdir().unwrap();
        first_decision(&registry, warm_state.path(), &tagged, &signer.trust, &input).await;
        let mut warm = Vec::new();
        for _ in 0..runs {
            warm.push(
                first_decision(&registry, warm_state.path(), &tagged, &signer.trust, &input).await,
            );
        }
        let size = std::fs::metadata(&path).map_or(0, |m| m.len());
        println!("{language} ({:.1} MiB)", size as f64 / f64::from(1 << 20));
        show(language, "cold", runs, median(cold));
        show(language, "warm", runs, median(warm));
    }
}
