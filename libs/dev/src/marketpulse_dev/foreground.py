"""Own the terminal's foreground while the product runs, so a Ctrl-C reaches only us.

A Ctrl-C is delivered to the terminal's whole foreground process group. Under `make run` that
group is make's, so make dies of the signal (status 130, "*** Interrupt") even after the
supervisor stopped everything cleanly. Moving the supervisor into a process group of its own
and making that group the foreground — what a shell's job control does for a job — sends
Ctrl-C to the supervisor alone; make then ends with the supervisor's status (0 after a clean
stop). Without a controlling terminal, or when started in the background, nothing changes.
"""

from __future__ import annotations

import os
import signal
from collections.abc import Iterator
from contextlib import contextmanager, suppress


def _terminal() -> int | None:
    """The controlling terminal, if this process is in its foreground group."""
    try:
        fd = os.open("/dev/tty", os.O_RDWR | os.O_NOCTTY)
    except OSError:
        return None
    try:
        if os.tcgetpgrp(fd) == os.getpgrp():
            return fd
    except OSError:
        pass
    os.close(fd)
    return None


@contextmanager
def terminal_foreground() -> Iterator[bool]:
    """Run the body as the terminal's foreground group; yields whether that happened."""
    fd = _terminal()
    if fd is None:
        yield False
        return
    previous = os.getpgrp()
    # Changing the foreground from a background group raises SIGTTOU; a shell ignores it too.
    ttou = signal.signal(signal.SIGTTOU, signal.SIG_IGN)
    # Ctrl-Z would stop only this group while make waits on it, leaving a hung terminal.
    tstp = signal.signal(signal.SIGTSTP, signal.SIG_IGN)
    try:
        try:
            if previous != os.getpid():  # already a group leader (started by a shell): keep it
                os.setpgid(0, 0)
            os.tcsetpgrp(fd, os.getpgrp())
            took = True
        except OSError:
            took = False
        yield took
    finally:
        if os.getpgrp() != previous:
            with suppress(OSError):  # the previous group may be gone (make was killed)
                os.tcsetpgrp(fd, previous)
        signal.signal(signal.SIGTSTP, tstp)
        signal.signal(signal.SIGTTOU, ttou)
        os.close(fd)
