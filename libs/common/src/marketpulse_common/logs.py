"""Structured logging: JSON lines in containers, a console renderer on a terminal.

Secrets never reach a log line: fields whose name looks secret are masked, any value
registered with `register_secret` is scrubbed from every string, wherever it hides (a URL,
an exception message, a header dump), and so is the value of any URL query parameter whose
name looks secret (a client's `?api_key=` in a logged request line).
"""

from __future__ import annotations

import logging
import re
import sys
from collections.abc import Mapping, MutableMapping
from typing import Any, TextIO
from urllib.parse import urlsplit

import orjson
import structlog

from marketpulse_common.settings import LogFormat, LogLevel, Settings

_SECRET_NAME = re.compile(r"key|token|secret|password|authorization|cookie", re.IGNORECASE)
MASK = "***"
_secrets: set[str] = set()
# Values shorter than this are too likely to collide with ordinary text to be scrubbed.
_MIN_SECRET_LEN = 6


def register_secret(value: str | None) -> None:
    """Scrub this exact value from every future log line."""
    if value and len(value) >= _MIN_SECRET_LEN:
        _secrets.add(value)


def register_settings_secrets(settings: Settings) -> None:
    """Register every secret a service may hold: API keys and a Redis URL password."""
    for secret in (settings.coingecko_api_key, settings.anthropic_api_key):
        if secret is not None:
            register_secret(secret.get_secret_value())
    if settings.redis_url:
        register_secret(urlsplit(settings.redis_url).password)


# A URL query parameter whose name looks secret (`?api_key=…`, `&x_cg_demo_api_key=…`): its
# value is masked even when it was never registered, e.g. a client's key in the WebSocket
# URL that uvicorn logs for every handshake.
_SECRET_PARAM = re.compile(
    r"([?&][\w.-]*(?:key|token|secret|password)[\w.-]*=)[^&\s\"'#]+", re.IGNORECASE
)
# The password of a URL (`redis://user:password@host`), however short.
_URL_PASSWORD = re.compile(r"(\b[a-z][a-z0-9+.-]*://[^\s:/@]*:)[^\s/@]+@", re.IGNORECASE)
# A client's marketpulse API key (`mp_<id>_<secret>`, see the gateway's api_keys.py), never
# registered since the gateway sees each only when presented: its secret part is masked
# wherever it shows (a header echoed in an error, a request scope in a traceback); the id,
# which names the key, stays.
_CLIENT_KEY = re.compile(r"\b(mp_[a-z0-9]{8}_)[A-Za-z0-9_-]{20,}")


def _scrub_text(text: str) -> str:
    for secret in _secrets:
        if secret in text:
            text = text.replace(secret, MASK)
    if "=" in text:
        text = _SECRET_PARAM.sub(rf"\1{MASK}", text)
    if "@" in text:
        text = _URL_PASSWORD.sub(rf"\1{MASK}@", text)
    if "mp_" in text:
        text = _CLIENT_KEY.sub(rf"\1{MASK}", text)
    return text


def describe(error: BaseException) -> str:
    """An exception for a log field: its type and its message. redis-py's exceptions show
    neither message nor cause in their repr ("network:ConnectionError"), and `str()` of
    many (a TimeoutError) is empty."""
    message = str(error)
    return f"{type(error).__name__}: {message}" if message else type(error).__name__


def _redact(value: Any, depth: int = 0) -> Any:
    if depth > 6:
        return value
    if isinstance(value, str):
        return _scrub_text(value)
    if isinstance(value, Mapping):
        return {
            k: MASK if isinstance(k, str) and _SECRET_NAME.search(k) else _redact(v, depth + 1)
            for k, v in value.items()
        }
    if isinstance(value, list | tuple):
        return [_redact(v, depth + 1) for v in value]
    return value


def redact_secrets(
    _logger: Any, _method: str, event_dict: MutableMapping[str, Any]
) -> MutableMapping[str, Any]:
    """structlog processor: mask secret-named fields and registered secret values."""
    for name in list(event_dict):
        value = event_dict[name]
        if _SECRET_NAME.search(name) and name != "event":
            event_dict[name] = MASK
        else:
            event_dict[name] = _redact(value)
    return event_dict


def _orjson_dumps(value: Any, **_kw: Any) -> str:
    return orjson.dumps(value, default=str).decode()


def configure_logging(
    *,
    service: str,
    log_format: LogFormat | None = None,
    level: LogLevel = "info",
    stream: TextIO | None = None,
) -> None:
    """Configure structlog (and route stdlib logging through it); call once from main()."""
    out = stream or sys.stdout
    fmt = log_format or ("console" if out.isatty() else "json")
    render = _renderer(fmt, colors=out.isatty())
    shared: list[Any] = [
        structlog.contextvars.merge_contextvars,
        structlog.processors.add_log_level,
        structlog.processors.TimeStamper(fmt="iso", utc=True),
        redact_secrets,
    ]
    structlog.configure(
        processors=[*shared, structlog.processors.StackInfoRenderer(), render],
        wrapper_class=structlog.make_filtering_bound_logger(_LEVELS[level]),
        logger_factory=structlog.PrintLoggerFactory(out),
        cache_logger_on_first_use=True,
    )
    structlog.contextvars.bind_contextvars(service=service)
    _route_stdlib_logging(shared, render, level, out)


_LEVELS: dict[str, int] = {
    "debug": logging.DEBUG,
    "info": logging.INFO,
    "warning": logging.WARNING,
    "error": logging.ERROR,
}


def _renderer(fmt: LogFormat, *, colors: bool) -> Any:
    inner: Any
    if fmt == "json":
        inner = structlog.processors.JSONRenderer(serializer=_orjson_dumps)
        exc = structlog.processors.format_exc_info
    else:
        # Tracebacks without each frame's local variables (structlog's default with rich
        # installed shows them): a request's headers, a key being checked, a message
        # being parsed would all be printed, and no scrub knows every secret they hold.
        inner = structlog.dev.ConsoleRenderer(colors=colors, exception_formatter=_traceback())
        exc = None

    def render(logger: Any, method: str, event_dict: MutableMapping[str, Any]) -> str:
        if exc is not None:
            event_dict = exc(logger, method, event_dict)
        # Tracebacks are rendered after redaction; scrub the final text once more.
        return _scrub_text(str(inner(logger, method, event_dict)))

    return render


def _traceback() -> Any:
    if getattr(structlog.dev, "rich", None) is None:  # rich is optional
        return structlog.dev.plain_traceback
    return structlog.dev.RichTracebackFormatter(show_locals=False)


def _route_stdlib_logging(shared: list[Any], render: Any, level: LogLevel, out: TextIO) -> None:
    # Libraries (uvicorn, httpx, apscheduler) log through stdlib logging; send them through
    # the same processors so every line is structured and redacted.
    handler = logging.StreamHandler(out)
    handler.setFormatter(
        structlog.stdlib.ProcessorFormatter(
            foreign_pre_chain=[structlog.stdlib.add_logger_name, *shared],
            processors=[structlog.stdlib.ProcessorFormatter.remove_processors_meta, render],
        )
    )
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(_LEVELS[level])
    # httpx logs every request URL at INFO; keep it at WARNING so URLs stay out of the logs.
    # redis-py 8 logs a debug line per connection about optional server features.
    # The Anthropic SDK ships its own httpx fork (httpx2/httpcore2) with the same habit.
    noisy_loggers = (
        *("httpx", "httpcore", "httpx2", "httpcore2"),
        *("apscheduler.executors.default", "apscheduler.scheduler"),
    )
    for noisy in (*noisy_loggers, "redis"):
        logging.getLogger(noisy).setLevel(logging.WARNING)


def get_logger(name: str | None = None) -> Any:
    return structlog.get_logger(name)
