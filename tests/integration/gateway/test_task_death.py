"""A background task of the gateway that dies says why, in the log, when it dies."""

from __future__ import annotations

import httpx
import pytest
from structlog.testing import capture_logs

from marketpulse_common.publisher import Publisher
from marketpulse_gateway.channel_event import ChannelEvent
from marketpulse_gateway.stream.hub import Hub
from tests.integration.gateway.conftest import publish_ticker, running_gateway, wait_until

pytestmark = pytest.mark.redis


class HubBug(RuntimeError):
    pass


async def test_a_dead_stream_reader_is_logged_with_its_traceback(
    redis_url: str, unique: str, publisher: Publisher, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A bug that ends the stream reader (here, in the hub) is logged at once with the task's
    name and the exception; /healthz asks for a restart, which would erase the evidence."""

    def broken(self: Hub, event: ChannelEvent) -> None:
        raise HubBug(f"cannot fan out {event.channel}")

    monkeypatch.setattr(Hub, "publish", broken)
    with capture_logs() as logs:
        async with (
            running_gateway(redis_url, unique) as gateway,
            httpx.AsyncClient(base_url=gateway.base_url) as http,
        ):
            await publish_ticker(publisher, unique, 1.0)

            def died() -> bool:
                return any(e["event"] == "background task died" for e in logs)

            await wait_until(died)
            assert (await http.get("/healthz")).status_code == 503
    (death,) = [e for e in logs if e["event"] == "background task died"]
    assert death["task"] == "stream-reader" and death["log_level"] == "error"
    assert isinstance(death["exc_info"], HubBug)
