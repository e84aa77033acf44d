"""compose.cluster.yaml (not run by the tests) stays a valid override that puts every service
of compose.yaml on the cluster."""

from __future__ import annotations

from pathlib import Path

import yaml

ROOT = Path(__file__).resolve().parents[2]


def test_every_service_of_compose_yaml_is_moved_onto_the_cluster() -> None:
    base = yaml.safe_load((ROOT / "compose.yaml").read_text())
    override = yaml.safe_load((ROOT / "compose.cluster.yaml").read_text())
    services = set(base["services"]) - {"redis"}
    for name in services:
        env = override["services"][name]["environment"]
        assert env["MP_REDIS_CLUSTER"] == "true", name
        node = env["MP_REDIS_URL"].removeprefix("redis://").split(":")[0]
        assert node in override["services"], f"{name} points at an unknown node {node}"
        init = override["services"][name]["depends_on"]["redis-cluster-init"]
        assert init["condition"] == "service_completed_successfully"
    nodes = [n for n in override["services"] if n.startswith("redis-node-")]
    assert len(nodes) == 6  # three masters, three replicas
    init_command = override["services"]["redis-cluster-init"]["command"][0]
    assert "--cluster-replicas 1" in init_command
