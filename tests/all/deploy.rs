//! What `deploy/` ships stays what the binary says: the CRDs in the plain
//! manifests and in the Helm chart are `warbler crd`'s output, and the
//! seed's Flagger manifest parses as a Warbler Canary once its apiVersion
//! is changed.

use std::process::Command;

const DEPLOY: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/../deploy");

fn printed_crds() -> String {
    let output = Command::new(env!("CARGO_BIN_EXE_warbler"))
        .arg("crd")
        .output()
        .expect("the warbler binary runs");
    assert!(output.status.success());
    String::from_utf8(output.stdout).unwrap()
}

#[test]
fn the_manifests_crds_are_what_warbler_crd_prints() {
    let shipped = std::fs::read_to_string(format!("{DEPLOY}/crds/warbler.dev.yaml")).unwrap();
    assert!(
        shipped == printed_crds(),
        "deploy/crds/warbler.dev.yaml is stale: run `cargo run -- crd > deploy/crds/warbler.dev.yaml`"
    );
}

#[test]
fn the_charts_crds_are_what_warbler_crd_prints() {
    let shipped =
        std::fs::read_to_string(format!("{DEPLOY}/chart/warbler/crds/warbler.dev.yaml")).unwrap();
    assert!(
        shipped == printed_crds(),
        "deploy/chart/warbler/crds/warbler.dev.yaml is stale: copy deploy/crds/warbler.dev.yaml over it"
    );
}

#[test]
fn the_crds_name_every_kind_and_the_canary_has_a_status_subresource() {
    let crds = printed_crds();
    for name in [
        "canaries.warbler.dev",
        "metrictemplates.warbler.dev",
        "analysispolicies.warbler.dev",
        "clusteranalysispolicies.warbler.dev",
    ] {
        assert!(crds.contains(&format!("name: {name}")), "{name}");
    }
    assert!(crds.contains("subresources:\n      status: {}"), "{crds}");
}
