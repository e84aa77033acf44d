"""Build `.wheelhouse/`: every wheel the four services need, at exactly uv.lock's versions,
for image builds where the containers cannot reach a package registry:

    .venv/bin/python deploy/build_wheelhouse.py --python-version 3.11.2
    MP_WHEELHOUSE=1 MP_PYTHON_IMAGE=<a local base> docker compose build

Third-party wheels are downloaded on the host (its pip settings, the lock's hashes checked);
the project's own packages are built from this tree. The lock's environment markers are
decided here for the image's interpreter (`--python-version`, Linux, CPython), because pip
decides them for the interpreter it runs in: Python 3.11.2 needs async-timeout for redis
where the host's 3.11.7 does not.
"""

from __future__ import annotations

import argparse
import os
import platform
import shutil
import subprocess
import sys
from pathlib import Path

from packaging.requirements import Requirement

ROOT = Path(__file__).resolve().parents[1]
SERVICES = ("ingestor", "compute", "sentiment", "gateway")
PACKAGES = ("marketpulse-common", *(f"marketpulse-{s}" for s in SERVICES))
# Wheels for Debian 12's glibc (2.36, the local base images' system) and older: pip's
# --platform takes each tag as written, so name the ones wheels are published under.
GLIBC_TAGS = (
    "manylinux_2_36",
    "manylinux_2_34",
    "manylinux_2_28",
    "manylinux_2_27",
    "manylinux2014",
    "manylinux_2_17",
    "manylinux2010",
    "manylinux1",
)


def uv() -> str:
    found = shutil.which("uv") or str(ROOT / ".tools/bin/uv")
    if not Path(found).exists():
        sys.exit("build_wheelhouse: uv not found (run `make install` first)")
    return found


def pip_python() -> str:
    """A Python with pip (uv's venvs have none): $PIP_PYTHON, else python3 on PATH."""
    found = os.environ.get("PIP_PYTHON") or shutil.which("python3")
    if found is None:
        sys.exit("build_wheelhouse: no python3 with pip on PATH (or set PIP_PYTHON)")
    return found


def target_environment(python_version: str) -> dict[str, str]:
    major_minor = ".".join(python_version.split(".")[:2])
    return {
        "python_version": major_minor,
        "python_full_version": python_version,
        "implementation_name": "cpython",
        "platform_python_implementation": "CPython",
        "sys_platform": "linux",
        "platform_system": "Linux",
        "os_name": "posix",
        "platform_machine": platform.machine(),
    }


Block = tuple[str, list[str]]  # a requirement and its `--hash=…` options


def for_target(exported: str, environment: dict[str, str]) -> list[Block]:
    """The requirements (with their hashes) whose markers hold in `environment`, the markers
    removed so the host's pip takes them as they are."""
    kept: list[Block] = []
    for first, hashes in parse(exported):
        requirement = Requirement(first)
        if requirement.marker is not None and not requirement.marker.evaluate(environment):
            continue
        requirement.marker = None
        kept.append((str(requirement), hashes))
    return kept


def parse(exported: str) -> list[Block]:
    """uv export's `name==v ; marker \\` lines, each followed by its `--hash=…` lines."""
    blocks: list[Block] = []
    for raw in exported.splitlines():
        line = raw.strip().rstrip("\\").strip()
        if not line or line.startswith("#"):
            continue
        if line.startswith("--hash"):
            blocks[-1][1].append(line)
        else:
            blocks.append((line, []))
    return blocks


def render(blocks: list[Block]) -> str:
    return "".join(" \\\n    ".join([first, *hashes]) + "\n" for first, hashes in blocks)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument(
        "--python-version",
        default=platform.python_version(),
        help="the image's Python (default: this one's)",
    )
    parser.add_argument("--out", type=Path, default=ROOT / ".wheelhouse")
    args = parser.parse_args()
    environment = target_environment(args.python_version)
    shutil.rmtree(args.out, ignore_errors=True)
    args.out.mkdir(parents=True)
    every: dict[str, Block] = {}
    for service in SERVICES:
        exported = subprocess.run(
            [
                uv(),
                "export",
                "--quiet",
                "--locked",
                "--no-dev",
                "--no-editable",
                "--no-emit-workspace",
                "--no-header",
                "--package",
                f"marketpulse-{service}",
            ],
            cwd=ROOT,
            check=True,
            capture_output=True,
            text=True,
        ).stdout
        wanted = for_target(exported, environment)
        (args.out / f"requirements-{service}.txt").write_text(render(wanted))
        every.update((block[0], block) for block in wanted)
    union = args.out / "requirements-all.txt"
    union.write_text(render(list(every.values())))
    subprocess.run(
        [
            pip_python(),
            "-m",
            "pip",
            "download",
            "--quiet",
            "--only-binary=:all:",
            "--no-deps",
            "--require-hashes",
            "--python-version",
            args.python_version,
            *(f"--platform={tag}_{platform.machine()}" for tag in GLIBC_TAGS),
            "--dest",
            str(args.out),
            "-r",
            str(union),
        ],
        check=True,
    )
    union.unlink()
    for package in PACKAGES:
        subprocess.run(
            [uv(), "build", "--quiet", "--wheel", "--package", package, "--out-dir", str(args.out)],
            cwd=ROOT,
            check=True,
        )
    wheels = sorted(args.out.glob("*.whl"))
    print(f"{len(wheels)} wheels for Python {args.python_version} in {args.out}")


if __name__ == "__main__":
    main()
