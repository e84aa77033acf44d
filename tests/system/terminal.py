"""Run a command the way a person does: on a terminal of its own, stopped with Ctrl-C.

The command gets a new pseudo-terminal as its controlling terminal (`setsid --ctty`), so a
Ctrl-C typed into it is the terminal driver's SIGINT to the foreground process group, exactly
as at a shell prompt; signalling one process by hand would test something else.
"""

from __future__ import annotations

import contextlib
import os
import pty
import re
import signal
import subprocess
import threading
from pathlib import Path

_ANSI = re.compile(rb"\x1b\[[0-9;?]*[A-Za-z]")
CTRL_C = b"\x03"


def _descendants(root: int) -> list[int]:
    """Every live descendant of `root`, deepest first, from /proc."""
    parents: dict[int, int] = {}
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            fields = stat.read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        parents[int(stat.parent.name)] = int(fields[1])
    found: list[int] = []
    frontier = [root]
    while frontier:
        children = [pid for pid, parent in parents.items() if parent in frontier]
        found.extend(children)
        frontier = children
    return found[::-1]


class Terminal:
    """One command on its own pseudo-terminal; everything it prints is kept."""

    def __init__(self, argv: list[str], *, cwd: Path, env: dict[str, str]) -> None:
        self._master, slave = pty.openpty()
        self._output = bytearray()
        self.proc = subprocess.Popen(
            ["setsid", "--ctty", *argv], stdin=slave, stdout=slave, stderr=slave, cwd=cwd, env=env
        )
        os.close(slave)
        self._reader = threading.Thread(target=self._read, daemon=True)
        self._reader.start()

    def _read(self) -> None:
        while True:
            try:
                chunk = os.read(self._master, 65536)
            except OSError:  # EIO: every process holding the terminal has gone
                return
            if not chunk:
                return
            self._output.extend(chunk)

    def output(self) -> str:
        """What was printed so far, without colour codes."""
        return _ANSI.sub(b"", bytes(self._output)).decode(errors="replace").replace("\r", "")

    def tail(self, lines: int = 60) -> str:
        return "\n".join(self.output().splitlines()[-lines:])

    def exited(self) -> bool:
        return self.proc.poll() is not None

    def ctrl_c(self) -> None:
        os.write(self._master, CTRL_C)

    def wait(self, timeout: float) -> int:
        """Exit status; the process is killed (and the test told) if it outlives `timeout`."""
        try:
            return self.proc.wait(timeout)
        except subprocess.TimeoutExpired:
            self.kill()
            raise AssertionError(f"still running after {timeout}s:\n{self.tail()}") from None
        finally:
            self._reader.join(5)

    def kill(self) -> None:
        """Last resort: SIGKILL the command and every process it started, wherever they went.

        The product's children run in sessions of their own, so a process group is not enough.
        """
        for pid in [*_descendants(self.proc.pid), self.proc.pid]:
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, signal.SIGKILL)
        self.proc.wait()

    def close(self) -> None:
        self.kill()
        os.close(self._master)
