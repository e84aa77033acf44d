"""The README's commands, typed as written in a fresh clone: a newcomer's first ten minutes.

A clone of this working tree (its commits plus any changes to tracked files) is made in a
temporary directory, and every command is read out of README.md itself, so a README edit
that breaks a command fails here. Each runs from the clone's top directory on a terminal of
its own, with the runner's environment minus every marketpulse setting; the only thing added
is a free port in place of the README's 8000 (and, for `make run`, a closed upstream port, so
the test never depends on whether this machine reaches the internet). `make` bootstraps
everything else itself, exactly as for a person: uv, `.venv`, the embedded Redis.
"""

from __future__ import annotations

import os
import re
import shlex
import shutil
import subprocess
import threading
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import IO, Any

import httpx
import orjson
import pytest

from marketpulse_dev.embedded_redis import free_port
from tests.system.terminal import Terminal
from tests.waiting import eventually_sync

pytestmark = [
    pytest.mark.system,
    pytest.mark.skipif(shutil.which("setsid") is None, reason="needs util-linux setsid"),
]

REPO = Path(__file__).resolve().parents[2]
README = (REPO / "README.md").read_text()
README_PORT = "8000"
# The first start in a clone installs uv and the workspace; later starts only start.
FIRST_START_S = 300
START_S = 120
STOP_S = 60
BENCH_S = 900
SNAPSHOT_PARTS = ("ticker", "candles", "indicators", "forecast")
ANSI = re.compile(r"\x1b(\[[0-9;?]*[A-Za-z]|[78])")
KEYS = "MP_REDIS_URL=$(cat .run/redis.url) .venv/bin/python -m marketpulse_gateway keys"


def readme_line(prefix: str) -> str:
    """The one README line that starts with `prefix` (the test fails if it is gone)."""
    found = [line for line in README.splitlines() if line.startswith(prefix)]
    assert len(found) == 1, f"README should show exactly one line starting {prefix!r}: {found}"
    return found[0]


def line_after(line: str) -> str:
    lines = README.splitlines()
    return lines[lines.index(line) + 1]


def person_env(port: int, **extra: str) -> dict[str, str]:
    """A person's shell: no marketpulse settings, no active virtualenv."""
    env = {
        k: v
        for k, v in os.environ.items()
        if not k.startswith(("MP_", "ANTHROPIC_")) and k != "VIRTUAL_ENV"
    }
    return {**env, "MP_GATEWAY_PORT": str(port), **extra}


def shell(
    command: str, clone: Path, port: int, env: dict[str, str] | None = None, **kwargs: Any
) -> subprocess.Popen[str]:
    """A README line run by bash in the clone, on our port instead of 8000."""
    return subprocess.Popen(
        ["bash", "-c", command.replace(README_PORT, str(port))],
        cwd=clone,
        env=env or person_env(port),
        text=True,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        **kwargs,
    )


def clone_working_tree(dest: Path) -> Path:
    """`git clone` of this repository, checked out at its working tree's tracked content."""
    identity = {"GIT_AUTHOR_NAME": "t", "GIT_AUTHOR_EMAIL": "t@t", "GIT_COMMITTER_NAME": "t"}
    identity["GIT_COMMITTER_EMAIL"] = "t@t"
    git_env = {**os.environ, **identity}
    stash = subprocess.run(
        ["git", "stash", "create"], cwd=REPO, env=git_env, capture_output=True, text=True
    )
    subprocess.run(["git", "clone", "--quiet", "--shared", str(REPO), str(dest)], check=True)
    if stash.returncode == 0 and stash.stdout.strip():  # uncommitted changes to test too
        checkout = ["git", "checkout", "--quiet", "--detach", stash.stdout.strip()]
        subprocess.run(checkout, cwd=dest, check=True)
    return dest


@pytest.fixture(scope="module")
def clone(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return clone_working_tree(tmp_path_factory.mktemp("fresh") / "marketpulse")


@dataclass
class Started:
    """`make …` on its own terminal, serving on `port`."""

    terminal: Terminal
    port: int

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def get(self, path: str) -> httpx.Response | None:
        if self.terminal.exited():
            raise AssertionError(f"make exited early:\n{self.terminal.tail()}")
        try:
            return httpx.get(self.base_url + path, timeout=2)
        except httpx.HTTPError:
            return None

    def full_snapshot(self, timeout: float) -> dict[str, Any]:
        def full() -> dict[str, Any] | None:
            response = self.get("/v1/assets/bitcoin/snapshot?tf=1h")
            data = response.json()["data"] if response and response.status_code == 200 else {}
            return data if all(data.get(part) for part in SNAPSHOT_PARTS) else None

        return eventually_sync(full, timeout=timeout, interval=0.5, what="a full snapshot")

    def ctrl_c(self) -> int:
        self.terminal.ctrl_c()
        return self.terminal.wait(STOP_S)


@pytest.fixture
def start(clone: Path) -> Iterator[Any]:
    """Start `make <args>` in the clone (or from `cwd`); everything is stopped afterwards."""
    started: list[Started] = []

    def starter(*args: str, cwd: Path | None = None, **env: str) -> Started:
        port = free_port()
        terminal = Terminal(["make", *args], cwd=cwd or clone, env=person_env(port, **env))
        started.append(Started(terminal, port))
        return started[-1]

    yield starter
    for one in started:
        one.terminal.close()


def assert_clean(started: Started, status: int) -> None:
    output = started.terminal.output()
    assert status == 0, f"exit status {status}:\n{started.terminal.tail()}"
    assert "Traceback" not in output
    assert "Interrupt" not in output  # make's own "*** Interrupt": it was killed, not done


@pytest.mark.timeout(FIRST_START_S + 2 * STOP_S + START_S)
def test_make_demo_serves_a_full_snapshot_stops_on_ctrl_c_and_starts_again(
    start: Any, clone: Path
) -> None:
    """The quick start: a full snapshot, Ctrl-C exits 0, and a second start on its data too."""
    first = start("demo")
    snapshot = first.full_snapshot(FIRST_START_S)
    assert snapshot["ticker"]["price"] > 0
    assert len(snapshot["candles"]) > 50
    assert_clean(first, first.ctrl_c())
    assert (clone / ".run/redis/simulated/appendonlydir").is_dir()
    assert not (clone / ".run/redis.url").exists()  # it names a running Redis only

    second = start("demo")
    second.full_snapshot(START_S)
    assert_clean(second, second.ctrl_c())


@pytest.mark.timeout(FIRST_START_S + STOP_S + 120)
def test_readme_curl_websocket_and_keys_lines_work_against_make_demo(
    start: Any, clone: Path
) -> None:
    """The quick start's curl and WebSocket lines, and the keys commands, as written."""
    demo = start("demo")
    demo.full_snapshot(FIRST_START_S)

    with shell(readme_line("curl -s localhost:8000/"), clone, demo.port) as curl:
        out, err = curl.communicate(timeout=30)
    assert curl.returncode == 0, err
    assert '"ticker"' in out and '"indicators"' in out

    ws_line = readme_line(".venv/bin/python -m websockets ws://127.0.0.1:8000/v1/stream")
    frames = websocket_session(ws_line, line_after(ws_line), clone, demo.port)
    assert {"subscribed", "snapshot"} <= {frame["type"] for frame in frames}

    key, key_id = create_key_with_readme_lines(clone, demo)
    ticker = f"{demo.base_url}/v1/assets/bitcoin/ticker"
    assert httpx.get(ticker, headers={"X-API-Key": key}, timeout=5).status_code == 200
    revoke = readme_line(f"{KEYS} revoke <id>").replace("<id>", key_id)
    with shell(revoke, clone, demo.port) as done:
        _, err = done.communicate(timeout=30)
    assert done.returncode == 0, err
    eventually_sync(  # the gateway trusts a looked-up key for MP_API_KEY_CACHE_S (5 s)
        lambda: httpx.get(ticker, headers={"X-API-Key": key}, timeout=5).status_code == 401,
        timeout=15,
        what="the revoked key refused",
    )
    cli_lines_work(clone, demo)
    assert_clean(demo, demo.ctrl_c())


def cli_lines_work(clone: Path, demo: Started) -> None:
    """The Python client's CLI lines: a JSON snapshot, and a live table until Ctrl-C."""
    url = {"MARKETPULSE_URL": demo.base_url}  # the README's gateway, on our port
    snapshot = readme_line(".venv/bin/marketpulse snapshot bitcoin").split("#")[0]
    with shell(snapshot, clone, demo.port, env={**person_env(demo.port), **url}) as cli:
        out, err = cli.communicate(timeout=60)
    assert cli.returncode == 0, err
    assert orjson.loads(out)["data"]["ticker"]["price"] > 0
    watch = shlex.split(readme_line(".venv/bin/marketpulse watch bitcoin").split("#")[0])
    table = Terminal(watch, cwd=clone, env={**person_env(demo.port), **url})
    try:
        eventually_sync(lambda: "live" in table.output(), timeout=30, what="a live table")
        table.ctrl_c()
        assert table.wait(30) == 130, table.tail()  # the shell's status for "stopped by Ctrl-C"
        assert "Traceback" not in table.output()
    finally:
        table.close()


def websocket_session(command: str, typed: str, clone: Path, port: int) -> list[dict[str, Any]]:
    """Run the README's WebSocket client, type the README's message, read until a snapshot."""
    received: list[dict[str, Any]] = []

    def read(stdout: IO[str]) -> None:
        for line in stdout:  # "< <message>" per frame, wrapped in cursor-control codes
            message = ANSI.sub("", line).partition("< ")[2].strip()
            if message.startswith("{"):
                received.append(orjson.loads(message))

    with shell(command, clone, port, stdin=subprocess.PIPE) as client:
        assert client.stdin is not None and client.stdout is not None
        reader = threading.Thread(target=read, args=(client.stdout,), daemon=True)
        reader.start()
        client.stdin.write(typed + "\n")
        client.stdin.flush()
        try:
            eventually_sync(
                lambda: any(frame["type"] == "snapshot" for frame in received),
                timeout=30,
                what="a snapshot printed by the README's WebSocket client",
            )
        finally:
            client.stdin.close()  # end of input: the client closes the connection and exits
            client.wait(30)
            reader.join(5)
    return received


def create_key_with_readme_lines(clone: Path, demo: Started) -> tuple[str, str]:
    with shell(readme_line(f"{KEYS} create "), clone, demo.port) as create:
        key, err = create.communicate(timeout=30)
    assert create.returncode == 0, err
    key_id = re.search(r"created key (\w+)", err)
    assert key_id is not None, err
    with shell(readme_line(f"{KEYS} list"), clone, demo.port) as listed:
        out, err = listed.communicate(timeout=30)
    assert listed.returncode == 0, err
    assert re.search(rf"^{key_id.group(1)}\s+active\s+.*dashboard$", out, re.MULTILINE), out
    return key.strip(), key_id.group(1)


@pytest.mark.timeout(START_S + STOP_S + 30)
def test_make_run_without_the_upstream_says_why_it_is_not_ready(start: Any) -> None:
    """`make run` with CoinGecko unreachable: /readyz is unready and names it; Ctrl-C exits 0."""
    closed = free_port()
    run = start("run", MP_COINGECKO_BASE_URL=f"http://127.0.0.1:{closed}/api/v3")

    def unready_because_of_coingecko() -> list[str] | None:
        response = run.get("/readyz")
        if response is None or response.status_code != 503:
            return None
        body = response.json()
        blamed = [r for r in body["reasons"] if "coingecko" in r]
        return blamed if body["state"] == "unready" and blamed else None

    eventually_sync(unready_because_of_coingecko, timeout=START_S, what="unready: coingecko")
    assert_clean(run, run.ctrl_c())


@pytest.mark.timeout(START_S + STOP_S + 30)
def test_make_c_from_another_directory(start: Any, clone: Path, tmp_path: Path) -> None:
    """`make -C <clone> demo` from elsewhere serves the same; its data stays in the clone."""
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    demo = start("-C", str(clone), "demo", cwd=elsewhere)
    demo.full_snapshot(START_S)
    assert_clean(demo, demo.ctrl_c())
    assert list(elsewhere.iterdir()) == []


@pytest.mark.timeout(START_S + 30)
def test_a_redis_that_cannot_start_is_one_line_naming_why(start: Any, clone: Path) -> None:
    """When the embedded Redis cannot start, `make demo` says why in one line and fails."""
    log = clone / ".run/redis/simulated/redis.log"
    saved = log.with_suffix(".saved")
    log.parent.mkdir(parents=True, exist_ok=True)
    if log.exists():
        log.rename(saved)
    log.mkdir()  # redis-server cannot open a directory as its log file
    try:
        demo = start("demo")
        status = demo.terminal.wait(START_S)
        output = demo.terminal.output()
        assert status != 0
        lines = [line for line in output.splitlines() if "embedded Redis did not start" in line]
        assert len(lines) == 1, output
        assert "Can't open the log file" in lines[0]
        assert "Traceback" not in output
    finally:
        log.rmdir()
        if saved.exists():
            saved.rename(log)


def path_without(program: str, shadows: Path) -> str:
    """$PATH with every directory holding `program` replaced by a copy of links without it."""
    dirs = []
    for entry in os.environ["PATH"].split(os.pathsep):
        if (Path(entry) / program).exists():
            shadow = shadows / str(len(dirs))
            shadow.mkdir(parents=True)
            for item in Path(entry).iterdir():
                if item.name != program:
                    (shadow / item.name).symlink_to(item)
            entry = str(shadow)
        dirs.append(entry)
    return os.pathsep.join(dirs)


@pytest.mark.timeout(BENCH_S + 30)  # on the test: on the helper above it set nothing
def test_make_bench_quick_runs_every_benchmark_without_wrk(clone: Path, tmp_path: Path) -> None:
    """The README's smoke run of `make bench`, on a PATH without wrk, reports every benchmark."""
    command = shlex.split(readme_line("| `make bench BENCH_ARGS=--quick`").split("`")[1])
    env = {**person_env(free_port()), "PATH": path_without("wrk", tmp_path / "bin")}
    done = subprocess.run(
        command, cwd=clone, env=env, capture_output=True, text=True, timeout=BENCH_S
    )
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
    assert "wrk not found" in done.stderr  # the fallback the README promises was taken
    scripts = sorted(p.name for p in (clone / "bench").glob("bench_*.py"))
    for script in scripts:
        assert f"_{script}: " in done.stdout, f"{script} missing from the report"
    assert "failed" not in done.stdout
    changed = subprocess.run(["git", "status", "--porcelain"], cwd=clone, capture_output=True)
    assert b"BENCHMARKS.md" not in changed.stdout  # a quick run's numbers are not kept
