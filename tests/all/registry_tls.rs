//! A registry behind TLS with a private CA (made here with `openssl`):
//! trusted through `--registry-ca`, refused without it.

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use super::registry::{INPUT, file_verdict, stderr, verdict};
use super::registry_server::{Registry, Tls};
use super::signatures::openssl;

/// A throwaway CA and a server certificate it issued for 127.0.0.1.
struct TestCa {
    ca: PathBuf,
    certificate: PathBuf,
    key: PathBuf,
}

impl TestCa {
    fn new(dir: &Path) -> TestCa {
        let path = |name: &str| dir.join(name).to_str().unwrap().to_owned();
        let ec = [
            "-newkey",
            "ec",
            "-pkeyopt",
            "ec_paramgen_curve:prime256v1",
            "-nodes",
        ];
        let mut ca_args = vec!["req", "-x509"];
        ca_args.extend(ec);
        let (ca_key, ca, key, csr, certificate, ext) = (
            path("ca.key"),
            path("ca.pem"),
            path("server.key"),
            path("server.csr"),
            path("server.pem"),
            path("server.ext"),
        );
        ca_args.extend([
            "-keyout",
            &ca_key,
            "-out",
            &ca,
            "-days",
            "2",
            "-subj",
            "/CN=warbler test CA",
            "-addext",
            "basicConstraints=critical,CA:TRUE",
            "-addext",
            "keyUsage=critical,keyCertSign",
        ]);
        openssl(&ca_args, b"");
        let mut csr_args = vec!["req"];
        csr_args.extend(ec);
        csr_args.extend(["-keyout", &key, "-out", &csr, "-subj", "/CN=127.0.0.1"]);
        openssl(&csr_args, b"");
        std::fs::write(
            &ext,
            "subjectAltName=IP:127.0.0.1\nbasicConstraints=CA:FALSE\nkeyUsage=digitalSignature\nextendedKeyUsage=serverAuth\n",
        )
        .unwrap();
        openssl(
            &[
                "x509",
                "-req",
                "-in",
                &csr,
                "-CA",
                &ca,
                "-CAkey",
                &ca_key,
                "-CAcreateserial",
                "-out",
                &certificate,
                "-days",
                "2",
                "-extfile",
                &ext,
            ],
            b"",
        );
        TestCa {
            ca: ca.into(),
            certificate: certificate.into(),
            key: key.into(),
        }
    }
}

/// A registry in `dir` serving TLS with a certificate a new test CA issued.
fn tls_registry(dir: &Path) -> (TestCa, Registry) {
    let ca = TestCa::new(dir);
    let registry = Registry::start_with(
        dir,
        Some(Tls {
            certificate: &ca.certificate,
            key: &ca.key,
        }),
    );
    (ca, registry)
}

/// `warbler ARGS` with a cache in `dir`.
fn warbler(dir: &Path, args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_warbler"))
        .args(args)
        .arg("--cache-dir")
        .arg(dir.join("cache"))
        .env("WARBLER_CACHE_KEY", dir.join("cache.key"))
        .env("DOCKER_CONFIG", dir.join("docker"))
        .output()
        .expect("the warbler binary runs")
}

#[test]
fn a_registry_with_a_private_ca_is_trusted_through_registry_ca() {
    let dir = tempfile::tempdir().unwrap();
    let (ca, registry) = tls_registry(dir.path());
    let target = format!("{}:1.0", registry.reference("team/zscore"));
    let ca_file = ca.ca.to_str().unwrap();
    let push = warbler(
        dir.path(),
        &[
            "policy",
            "push",
            warbler_test_guests::ZSCORE,
            &target,
            "--registry-ca",
            ca_file,
        ],
    );
    assert!(push.status.success(), "{}", stderr(&push));
    let pinned = String::from_utf8(push.stdout).unwrap().trim().to_owned();
    let eval = warbler(
        dir.path(),
        &[
            "policy",
            "eval",
            "--policy",
            &pinned,
            "--input",
            INPUT,
            "--registry-ca",
            ca_file,
        ],
    );
    assert_eq!(verdict(&eval), file_verdict());
}

#[test]
fn a_registry_whose_certificate_is_not_trusted_is_refused() {
    let dir = tempfile::tempdir().unwrap();
    let (_ca, registry) = tls_registry(dir.path());
    let target = format!("{}:1.0", registry.reference("team/zscore"));
    let push = warbler(
        dir.path(),
        &["policy", "push", warbler_test_guests::ZSCORE, &target],
    );
    assert_eq!(push.status.code(), Some(3), "{}", stderr(&push));
    assert!(
        stderr(&push).contains(&format!("registry request for {target} failed"))
            && stderr(&push).contains("--registry-ca"),
        "{}",
        stderr(&push)
    );
}
