"""Push a Wasm component as a CNCF Wasm OCI artifact with PyPI's `oras`
SDK, not with Warbler: proof that an artifact made by another tool loads.

Usage: oras_push.py REGISTRY REPOSITORY:TAG COMPONENT.wasm
Prints the manifest digest the registry answered with.
"""

import hashlib
import json
import os
import sys
import tempfile

import oras.client


def main() -> None:
    registry, target, component = sys.argv[1:4]
    with open(component, "rb") as f:
        layer_digest = "sha256:" + hashlib.sha256(f.read()).hexdigest()
    config = {
        "created": "2026-01-01T00:00:00Z",
        "author": "oras interop test",
        "architecture": "wasm",
        "os": "wasip2",
        "layerDigests": [layer_digest],
        "component": {"exports": ["warbler:policy/analysis@0.1.0"], "imports": [], "target": None},
    }
    with tempfile.TemporaryDirectory() as scratch:
        config_path = os.path.join(scratch, "config.json")
        with open(config_path, "w") as f:
            json.dump(config, f)
        client = oras.client.OrasClient(hostname=registry, insecure=True)
        response = client.push(
            target=f"{registry}/{target}",
            files=[f"{component}:application/wasm"],
            manifest_config=f"{config_path}:application/vnd.wasm.config.v0+json",
            disable_path_validation=True,
            quiet=True,
        )
    print(response.headers["Docker-Content-Digest"])


if __name__ == "__main__":
    main()
