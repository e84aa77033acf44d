"""Which failures a worker's main names in one line, and which keep their traceback."""

from __future__ import annotations

from redis.exceptions import ConnectionError as RedisConnectionError

from marketpulse_common.errors import LeaseLost
from marketpulse_common.lifecycle import describe, operational_cause


def test_the_world_failing_is_operational() -> None:
    """Redis, the OS and marketpulse's own errors are named, not traced."""
    for error in (RedisConnectionError("refused"), OSError(98, "in use"), LeaseLost("taken")):
        assert operational_cause(error) is error


def test_a_bug_keeps_its_traceback() -> None:
    """Anything else escaping a service is a bug: no one-line summary hides it."""
    assert operational_cause(TypeError("bad call")) is None
    assert operational_cause(KeyError("x")) is None


def test_a_task_group_is_operational_only_when_every_failure_is() -> None:
    """A TaskGroup's ExceptionGroup is unwrapped; one bug inside keeps the traceback."""
    refused = RedisConnectionError("refused")
    assert operational_cause(ExceptionGroup("tasks", [refused])) is refused
    nested = ExceptionGroup("outer", [ExceptionGroup("inner", [refused]), OSError("x")])
    assert operational_cause(nested) is refused
    assert operational_cause(ExceptionGroup("tasks", [refused, TypeError("bug")])) is None


def test_a_cause_is_described_in_one_line() -> None:
    """The type and the first line of the message, nothing more."""
    assert describe(RedisConnectionError("Error 111\ndetails")) == "ConnectionError: Error 111"
    assert describe(TimeoutError()) == "TimeoutError"
