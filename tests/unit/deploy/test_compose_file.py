"""compose.yaml stays in step with the settings and within what Compose v1 accepts.

Every setting of the services reaches the containers (a name with no value in `environment`
passes the shell's or .env's value through), except the few compose itself fixes; Compose v1
(Debian's docker-compose 1.29, what CI runs) validates the file when it is installed.
tests/compose runs the file for real.
"""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path
from typing import Any

import pytest
import yaml

from marketpulse_common.settings import Settings

ROOT = Path(__file__).resolve().parents[3]
COMPOSE = ROOT / "compose.yaml"
# Set by compose.yaml itself (the network's Redis, listening on every interface in a
# container) or by the image (JSON logs); the gateway's port is the published container port;
# compose.cluster.yaml moves Redis to a cluster (MP_REDIS_URL and MP_REDIS_CLUSTER together).
FIXED = {
    "MP_REDIS_URL",
    "MP_REDIS_CLUSTER",
    "MP_METRICS_HOST",
    "MP_GATEWAY_HOST",
    "MP_GATEWAY_PORT",
    "MP_LOG_FORMAT",
    "MP_DASHBOARD_DIR",  # the gateway's alone, defaulting to the image's copy
}


def compose() -> dict[str, Any]:
    loaded: dict[str, Any] = yaml.safe_load(COMPOSE.read_text())
    return loaded


def setting_variables() -> set[str]:
    names = set()
    for name, field in Settings.model_fields.items():
        alias = field.validation_alias
        choices = getattr(alias, "choices", None)
        names.add(str(choices[0]) if choices else f"MP_{name.upper()}")
    return names


def test_every_setting_reaches_every_service() -> None:
    services = compose()["services"]
    for name in ("ingestor", "compute", "sentiment", "gateway"):
        passed = set(services[name]["environment"])
        missing = setting_variables() - FIXED - passed
        assert not missing, f"{name} never receives {sorted(missing)}"
    gateway = services["gateway"]["environment"]
    assert gateway["MP_GATEWAY_HOST"] == "0.0.0.0"
    assert gateway["MP_DASHBOARD_DIR"] == "${MP_DASHBOARD_DIR:-/app/dashboard}"


def test_the_file_keeps_to_what_compose_v1_reads() -> None:
    document = compose()
    assert "version" not in document
    for service in document["services"].values():
        # The long env_file syntax (path/required) is v2-only; a missing short one fails v1.
        assert "env_file" not in service
    for name in ("ingestor", "compute", "sentiment", "gateway"):
        args = document["services"][name]["build"]["args"]
        assert args["SERVICE"] == name
        assert {"PYTHON_IMAGE", "WHEELHOUSE"} <= args.keys()


@pytest.mark.parametrize("files", [["compose.yaml"], ["compose.yaml", "compose.cluster.yaml"]])
def test_compose_v1_validates_the_file(files: list[str]) -> None:
    tool = shutil.which("docker-compose")
    if tool is None:
        pytest.skip("docker-compose (Compose v1) not installed: compose.yaml not validated by it")
    done = subprocess.run(
        [tool, *(f"--file={name}" for name in files), "config", "--quiet"],
        capture_output=True,
        text=True,
        check=False,
        cwd=ROOT,
    )
    assert done.returncode == 0, done.stderr
