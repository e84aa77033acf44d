"""The /v1/stream protocol: parsing client ops, encoding server frames."""

from __future__ import annotations

import orjson
import pytest

from marketpulse_gateway.errors import ProtocolError
from marketpulse_gateway.stream.protocol import (
    MAX_CHANNELS_PER_OP,
    Delta,
    ErrorFrame,
    Heartbeat,
    Ping,
    Pong,
    SnapshotFrame,
    Subscribe,
    Subscribed,
    Unsubscribe,
    decode_frame,
    encode_frame,
    parse_client_op,
)


class TestParseClientOp:
    def test_subscribe_with_resume(self) -> None:
        """A subscribe carries its channels and optional resume positions."""
        op = parse_client_op(
            '{"op": "subscribe", "channels": ["ticker:bitcoin"],'
            ' "resume": {"ticker:bitcoin": {"epoch": "e1", "seq": "1-0"}}}'
        )
        assert isinstance(op, Subscribe)
        assert op.channels == ["ticker:bitcoin"]
        assert op.resume is not None
        assert op.resume["ticker:bitcoin"].seq == "1-0"

    def test_unsubscribe_and_ping(self) -> None:
        """Unsubscribe and ping parse to their own types; bytes are accepted like text."""
        assert isinstance(
            parse_client_op('{"op": "unsubscribe", "channels": ["a:b"]}'), Unsubscribe
        )
        assert isinstance(parse_client_op(b'{"op": "ping"}'), Ping)

    @pytest.mark.parametrize("text", ["{not json", "", '{"op": "ping"'])
    def test_bad_json_is_bad_request(self, text: str) -> None:
        """Text that is not JSON is a bad_request."""
        with pytest.raises(ProtocolError) as caught:
            parse_client_op(text)
        assert caught.value.code == "bad_request"

    @pytest.mark.parametrize("text", ["[1, 2]", '"ping"', "42", "null"])
    def test_non_object_is_bad_request(self, text: str) -> None:
        """JSON that is not an object is a bad_request."""
        with pytest.raises(ProtocolError) as caught:
            parse_client_op(text)
        assert caught.value.code == "bad_request"

    @pytest.mark.parametrize("text", ['{"op": "publish"}', "{}", '{"op": 1}'])
    def test_unknown_op(self, text: str) -> None:
        """A missing or unknown op is unknown_op, and the message names the valid ones."""
        with pytest.raises(ProtocolError) as caught:
            parse_client_op(text)
        assert caught.value.code == "unknown_op"
        assert "subscribe" in caught.value.message

    @pytest.mark.parametrize(
        "op",
        [
            {"op": "subscribe"},
            {"op": "subscribe", "channels": []},
            {"op": "subscribe", "channels": "ticker:bitcoin"},
            {"op": "subscribe", "channels": ["x"], "extra": 1},
            {"op": "subscribe", "channels": ["x" * 500]},
            {"op": "subscribe", "channels": ["c"] * (MAX_CHANNELS_PER_OP + 1)},
            {"op": "subscribe", "channels": ["c"], "resume": {"c": {"epoch": "e"}}},
            {"op": "ping", "channels": ["c"]},
        ],
    )
    def test_malformed_op_is_bad_request(self, op: dict[str, object]) -> None:
        """A known op with missing, extra, oversized or mistyped fields is a bad_request."""
        with pytest.raises(ProtocolError) as caught:
            parse_client_op(orjson.dumps(op))
        assert caught.value.code == "bad_request"
        assert caught.value.message


class TestFrames:
    @pytest.mark.parametrize(
        "frame",
        [
            Subscribed(channel="ticker:bitcoin", epoch="e", recovered=False),
            Subscribed(channel="ticker:bitcoin", epoch="e", recovered=True),
            SnapshotFrame(channel="ticker:bitcoin", epoch="e", seq="1-0", data={"price": 1.5}),
            SnapshotFrame(channel="ticker:bitcoin", epoch=None, seq=None, data=None),
            Delta(channel="c:x", epoch="e", seq="2-0", prev_seq="1-0", data={"price": 2.0}),
            Delta(channel="c:x", epoch="e", seq="2-0", prev_seq=None, data={}),
            Heartbeat(ts=1700000000.5),
            Pong(),
            ErrorFrame(code="unknown_channel", message="nope", channel="x"),
            ErrorFrame(code="too_many_channels", message="at most 2"),
            ErrorFrame(code="rate_limited", message="slow down"),
        ],
    )
    def test_round_trip(self, frame: object) -> None:
        """Every server frame decodes back to itself from its encoded text."""
        assert decode_frame(encode_frame(frame)) == frame  # type: ignore[arg-type]

    def test_delta_wire_shape(self) -> None:
        """A delta on the wire has exactly the fields DESIGN §7 names."""
        text = encode_frame(Delta(channel="c", epoch="e", seq="2-0", prev_seq="1-0", data={}))
        assert orjson.loads(text) == {
            "type": "delta",
            "channel": "c",
            "epoch": "e",
            "seq": "2-0",
            "prev_seq": "1-0",
            "data": {},
        }
