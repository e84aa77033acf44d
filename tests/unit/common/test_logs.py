"""Log lines are structured and never carry a secret."""

from __future__ import annotations

import io
import logging
from collections.abc import Callable, Iterator

import orjson
import pytest
import structlog
from redis.exceptions import ConnectionError as RedisConnectionError

from marketpulse_common.logs import configure_logging, describe, get_logger, register_secret

SECRET = "CG-very-secret-key-123"


Lines = Callable[[], list[dict[str, object]]]


@pytest.fixture
def lines() -> Iterator[Lines]:
    """Configure JSON logging into a buffer; the fixture returns a reader of parsed lines."""
    out = io.StringIO()
    configure_logging(service="test", log_format="json", level="debug", stream=out)
    register_secret(SECRET)
    yield lambda: [orjson.loads(line) for line in out.getvalue().splitlines() if line]
    structlog.reset_defaults()
    logging.getLogger().handlers.clear()


def test_secret_named_fields_are_masked(lines: Lines) -> None:
    """Fields named like key/token/secret/authorization are masked whatever their value."""
    get_logger().info("call", api_key="abc", headers={"Authorization": "Bearer x"}, n=1)
    (line,) = lines()
    assert line["api_key"] == "***"
    assert line["headers"] == {"Authorization": "***"}
    assert line["n"] == 1


def test_registered_secret_values_are_scrubbed_everywhere(lines: Lines) -> None:
    """A registered secret is removed from messages, URLs, stdlib records and tracebacks."""
    log = get_logger()
    log.info(f"GET https://x/?k={SECRET}", url=f"https://x/?x_cg_demo_api_key={SECRET}")
    logging.getLogger("uvicorn").warning("key was %s", SECRET)
    try:
        raise RuntimeError(f"boom {SECRET}")
    except RuntimeError:
        log.exception("failed")
    text = orjson.dumps(lines()).decode()
    assert SECRET not in text
    assert text.count("***") >= 4


def test_a_key_in_a_logged_url_is_masked_though_never_registered(lines: Lines) -> None:
    """uvicorn logs every WebSocket handshake's path with its query string, where a browser
    sends its API key: the value of a secret-named parameter never reaches the line."""
    client_key = "mp_abcdefgh_" + "S3cr3t" * 5
    logging.getLogger("uvicorn.error").info(
        '%s - "WebSocket %s" [accepted]', "1.2.3.4:5", f"/v1/stream?api_key={client_key}&x=1"
    )
    get_logger().info("fetched", url=f"https://gw/v1?channel=a&access_token={client_key}")
    text = orjson.dumps(lines()).decode()
    assert client_key not in text
    assert "/v1/stream?api_key=***&x=1" in text and "channel=a&access_token=***" in text


def test_a_url_password_is_masked_however_short(lines: Lines) -> None:
    """Registered secrets must be 6 characters or more; a URL's password is masked anyway."""
    get_logger().warning("connecting", url="redis://default:abc@redis:6379/0")
    logging.getLogger("redis").warning("Error connecting to rediss://:pw@cache:6380")
    text = orjson.dumps(lines()).decode()
    assert "abc@" not in text and ":pw@" not in text
    assert "redis://default:***@redis:6379/0" in text and "rediss://:***@cache:6380" in text


def test_lines_are_json_with_service_level_and_timestamp(lines: Lines) -> None:
    """Each JSON line carries the service, level, timestamp and event."""
    get_logger().warning("hello")
    (line,) = lines()
    assert {"service", "level", "timestamp", "event"} <= line.keys()
    assert line["service"] == "test"


def test_an_exception_is_described_by_its_type_and_message() -> None:
    """redis-py's reprs drop the message ("network:ConnectionError"); str() of a timeout is
    empty: a log field gets both the type and the message, whichever is there."""
    refused = RedisConnectionError("Error 111 connecting to 127.0.0.1:6379. Connection refused.")
    assert describe(refused) == (
        "ConnectionError: Error 111 connecting to 127.0.0.1:6379. Connection refused."
    )
    assert describe(TimeoutError()) == "TimeoutError"


def test_a_client_api_key_is_masked_though_never_registered(lines: Lines) -> None:
    """The gateway sees a client's key only when it is presented, so it is never
    registered: its secret part is masked by its shape wherever it shows; its id stays."""
    client_key = "mp_abcd1234_" + "S3cr3t-_" * 5 + "xyz"
    get_logger().warning("refused", detail=f"Bearer {client_key}", scope={"h": [client_key]})
    text = orjson.dumps(lines()).decode()
    assert "S3cr3t" not in text
    assert "mp_abcd1234_***" in text


def test_console_tracebacks_carry_no_local_variables() -> None:
    """The console format (a terminal's default) renders tracebacks without each frame's
    locals: a request's headers there would print whatever key or token they carry."""
    out = io.StringIO()
    configure_logging(service="test", log_format="console", stream=out)
    try:
        # Built at run time: the traceback shows source lines, and the value must not be one.
        checked = "-".join(["a", "local", "value"])  # noqa: F841 - what a frame would show
        raise RuntimeError("boom")
    except RuntimeError:
        get_logger().exception("failed")
    finally:
        structlog.reset_defaults()
        logging.getLogger().handlers.clear()
    text = out.getvalue()
    assert "RuntimeError" in text and "boom" in text
    assert "a-local-value" not in text
