"""A property-based fuzzer for the `/v1/stream` WebSocket protocol: what it proves.

Against a gateway process serving live data (tests/system/stack.py: real Redis, simulated
market at 600x, so tickers and 5m candles change every second), Hypothesis generates
conversations of hostile client messages: malformed JSON, JSON that is not an object,
unknown or missing ops, valid ops with wrong types or extra fields, binary frames, unknown
and malformed channel names, and subscribes that resume with forged positions (any epoch,
seqs that are any string, negative, huge, unparseable, non-ASCII digits, or a genuine seq
under a forged epoch) or with a genuine one. After each conversation a `ping` must be
answered with `pong`, and what came back must be exactly what DESIGN.md §7 documents:

- every frame is valid against the AsyncAPI document (tests/asyncapi_frames.py);
- each refused message gets one `error` frame with the documented code, in order
  (bad_request, unknown_op, unknown_channel), and the connection stays open;
- a subscribe answers `subscribed` per served channel; a forged position gives
  `recovered: false` and a fresh snapshot (never an error), a genuine one `recovered: true`
  and deltas chained from the client's own seq; every channel's deltas are chained;
- an oversized message (text or binary) closes the connection with 1009, a client that keeps
  being refused is closed with 1008 after its strikes, and a subscribe flood gets
  `rate_limited` / `too_many_channels` errors (or 1008), never anything undocumented.

Throughout, a witness client on the same gateway, subscribed before the first example to
the fastest channels, keeps reading: at the end its seqs are chained with no gap, it was
never closed, and it caught up with what the server holds. The gateway never stops serving.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

import orjson
import pytest
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st
from websockets.exceptions import ConnectionClosed
from websockets.sync.client import ClientConnection, connect

from marketpulse_gateway.stream.delta import apply_delta
from tests.asyncapi_frames import checked_frame
from tests.system.stack import ASSET, Stack
from tests.waiting import eventually_sync

pytestmark = [pytest.mark.system, pytest.mark.hostile, pytest.mark.timeout(600)]

SERVED = [
    f"ticker:{ASSET}",
    f"sentiment:{ASSET}",
    *(
        f"{kind}:{ASSET}:{tf}"
        for kind in ("candles", "indicators", "forecast")
        for tf in ("5m", "1h")
    ),
]
# The fastest channels at 600x: what the witness follows.
WITNESSED = [f"ticker:{ASSET}", f"candles:{ASSET}:5m", f"indicators:{ASSET}:5m"]
MAX_MESSAGE_BYTES = 16_384  # MP_WS_MAX_MESSAGE_BYTES default
STRIKES = 10  # refused messages before 1008 (stream/limits.py), one forgiven every 2 s
DOCUMENTED_CODES = {
    "bad_request",
    "unknown_op",
    "unknown_channel",
    "unavailable",
    "rate_limited",
    "too_many_channels",
}
FUZZ = settings(
    max_examples=200,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture],
)


# --- a client's view of channels, insisting on chained seqs ------------------------------


@dataclass
class Chain:
    """One channel as a client sees it; a delta must continue from the seq it holds."""

    epoch: str | None = None
    seq: str | None = None
    value: Any = None
    deltas: int = 0

    def snapshot(self, frame: dict[str, Any]) -> None:
        self.epoch, self.seq, self.value = frame["epoch"], frame["seq"], frame["data"]

    def delta(self, frame: dict[str, Any]) -> None:
        assert frame["prev_seq"] == self.seq, f"gap: {frame} after seq {self.seq}"
        self.epoch, self.seq = frame["epoch"], frame["seq"]
        self.value = apply_delta(self.value, frame["data"])
        self.deltas += 1


def seq_order(seq: str) -> tuple[int, int]:
    ms, _, n = seq.partition("-")
    return int(ms), int(n)


# --- the witness ---------------------------------------------------------------------------


@dataclass
class Witness:
    """A well-behaved client reading throughout the module, in its own thread."""

    url: str
    chains: dict[str, Chain] = field(default_factory=dict)
    problems: list[str] = field(default_factory=list)
    closed: str | None = None
    stop: threading.Event = field(default_factory=threading.Event)
    lock: threading.Lock = field(default_factory=threading.Lock)

    def run(self, ready: threading.Event) -> None:
        try:
            with connect(self.url, open_timeout=10, close_timeout=2) as ws:
                ws.send(orjson.dumps({"op": "subscribe", "channels": WITNESSED}).decode())
                while not self.stop.is_set():
                    try:
                        self._apply(checked_frame(ws.recv(timeout=0.5)))
                    except TimeoutError:
                        continue
                    if len(self.chains) == len(WITNESSED):
                        ready.set()
        except ConnectionClosed as e:
            self.closed = f"closed by the server: {e}"
        except (AssertionError, OSError) as e:
            self.problems.append(repr(e))
        finally:
            ready.set()

    def _apply(self, frame: dict[str, Any]) -> None:
        with self.lock:
            if frame["type"] == "snapshot":
                self.chains.setdefault(frame["channel"], Chain()).snapshot(frame)
            elif frame["type"] == "delta":
                self.chains[frame["channel"]].delta(frame)
            elif frame["type"] == "error":
                self.problems.append(f"error frame: {frame}")

    def position(self, channel: str) -> dict[str, str] | None:
        """The genuine resume position the witness holds on `channel`."""
        with self.lock:
            chain = self.chains.get(channel)
            if chain is None or chain.epoch is None or chain.seq is None:
                return None
            return {"epoch": chain.epoch, "seq": chain.seq}


@pytest.fixture(scope="module")
def witness(hostile_stack: Stack) -> Iterator[Witness]:
    found = Witness(hostile_stack.ws_url)
    ready = threading.Event()
    thread = threading.Thread(target=found.run, args=(ready,), daemon=True)
    thread.start()
    assert ready.wait(20), "the witness got no snapshot"
    assert not found.problems and found.closed is None, (found.problems, found.closed)
    yield found
    found.stop.set()
    thread.join(10)


# --- hostile messages and what the protocol answers to each -------------------------------


@dataclass(frozen=True)
class Move:
    """One client message and the answer DESIGN §7 documents for it.

    A subscribe's resume positions that come from the live stream (genuine ones, and genuine
    seqs under forged epochs) are filled in when it is sent (`payload`), so what Hypothesis
    draws never depends on the stream."""

    raw: str | bytes | None = None
    op: dict[str, Any] | None = None
    errors: tuple[tuple[str, str | None], ...] = ()  # (code, channel) error frames, in order
    subscribes: tuple[tuple[str, str], ...] = ()  # (channel, fresh|forged|forged-epoch|genuine)
    pong: bool = False

    def payload(self, witness: Witness, resumed: dict[str, list[str]]) -> str | bytes:
        """The message to send; `resumed` gets the genuine seqs each channel resumes from,
        in the order sent."""
        if self.raw is not None:
            return self.raw
        assert self.op is not None
        op = {**self.op, "resume": dict(self.op.get("resume", {}))}
        for channel, how in self.subscribes:
            if how in ("genuine", "forged-epoch"):
                position = witness.position(channel)
                assert position is not None, f"the witness holds no position on {channel}"
                if how == "forged-epoch":
                    position = {"epoch": "forged-" + position["epoch"], "seq": position["seq"]}
                else:
                    resumed.setdefault(channel, []).append(position["seq"])
                op["resume"][channel] = position
        return dumps(op if op["resume"] else {k: v for k, v in op.items() if k != "resume"})


def dumps(value: Any) -> str:
    return orjson.dumps(value).decode()


def parses(text: str) -> bool:
    try:
        orjson.loads(text)
    except orjson.JSONDecodeError:
        return False
    return True


def bad_request(value: str | bytes) -> Move:
    return Move(raw=value, errors=(("bad_request", None),))


SCALARS = (
    st.none()
    | st.booleans()
    | st.integers(-(2**63), 2**64 - 1)
    | st.floats(allow_nan=False, allow_infinity=False)
    | st.text(max_size=20)
)
JSON = st.recursive(
    SCALARS,
    lambda inner: (
        st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=8), inner, max_size=4)
    ),
    max_leaves=12,
)
OPS = ("subscribe", "unsubscribe", "ping")
TICKER = f"ticker:{ASSET}"
VALID_OPS = [
    dumps({"op": "ping"}),
    dumps({"op": "subscribe", "channels": [TICKER]}),
    dumps({"op": "unsubscribe", "channels": [TICKER]}),
]

# Text that is not JSON at all, or valid ops cut short or with a stray character.
not_json = st.one_of(
    st.text(max_size=200),
    st.tuples(st.sampled_from(VALID_OPS), st.integers(1, 20)).map(lambda p: p[0][: -p[1]]),
    st.tuples(st.sampled_from(VALID_OPS), st.sampled_from(["}", ",", "\x00", "{", "'"])).map(
        lambda p: p[0] + p[1]
    ),
).filter(lambda t: not parses(t))
not_an_object = JSON.filter(lambda v: not isinstance(v, dict)).map(dumps)
unknown_op = st.tuples(
    st.dictionaries(st.text(max_size=8).filter(lambda k: k != "op"), JSON, max_size=3),
    st.one_of(st.just(None), JSON.filter(lambda op: op not in OPS)),
).map(
    lambda p: Move(
        raw=dumps(p[0] if p[1] is None else {**p[0], "op": p[1]}), errors=(("unknown_op", None),)
    )
)

not_a_channel_list = st.one_of(
    JSON.filter(lambda v: not isinstance(v, list)),
    st.just([]),
    st.lists(JSON, min_size=1, max_size=4).filter(lambda v: not all(isinstance(x, str) for x in v)),
    st.lists(st.sampled_from(SERVED), min_size=101, max_size=120),  # over 100 in one op
    st.text(min_size=97, max_size=150).map(lambda t: [t]),  # a name over 96 characters
    st.just([""]),
)
not_a_position = st.one_of(
    JSON.filter(lambda v: not isinstance(v, dict)),
    st.fixed_dictionaries({"epoch": st.text(max_size=10)}),  # no seq
    st.fixed_dictionaries(
        {"epoch": JSON.filter(lambda v: not isinstance(v, str)), "seq": st.just("1-0")}
    ),
    st.fixed_dictionaries(  # a seq that is a number, not a string
        {"epoch": st.just("e"), "seq": JSON.filter(lambda v: not isinstance(v, str))}
    ),
    st.fixed_dictionaries({"epoch": st.just("e"), "seq": st.text(min_size=49, max_size=80)}),
    st.fixed_dictionaries({"epoch": st.just("e"), "seq": st.just("1-0"), "extra": JSON}),
)
wrong_types = st.one_of(
    not_a_channel_list.map(lambda c: {"op": "subscribe", "channels": c}),
    not_a_channel_list.map(lambda c: {"op": "unsubscribe", "channels": c}),
    not_a_position.map(lambda p: {"op": "subscribe", "channels": [TICKER], "resume": {TICKER: p}}),
    JSON.filter(lambda v: not isinstance(v, dict) and v is not None).map(
        lambda r: {"op": "subscribe", "channels": [TICKER], "resume": r}
    ),
    st.tuples(st.sampled_from(OPS), st.text(min_size=1, max_size=8), JSON)
    .filter(lambda p: p[1] not in ("op", "channels", "resume"))
    .map(lambda p: {"op": p[0], "channels": [TICKER], p[1]: p[2]}),
).map(dumps)

refused = st.one_of(
    not_json.map(bad_request),
    not_an_object.map(bad_request),
    unknown_op,
    st.binary(max_size=MAX_MESSAGE_BYTES).map(bad_request),  # binary frames
    wrong_types.map(bad_request),
)

# Resume positions a client could forge: none of them is one the server issued.
big = st.integers(0, 10**40)
forged_seq = st.one_of(
    st.text(max_size=48),
    st.tuples(big, big).map(lambda p: f"{p[0]}-{p[1]}"[:48]),
    st.tuples(st.integers(-(10**20), -1), st.integers(-5, 5)).map(lambda p: f"{p[0]}-{p[1]}"),
    st.sampled_from(
        [
            *("", "-", "0-0", "0", "-0", "1-", "18446744073709551616-0", "1-18446744073709551616"),
            *("٣-1", "1-٣", "²-1", "1-0-0", " 1-0", "1-0 ", "+1-0", "1_0-0", "0x10-0"),
        ]
    ),
)
unknown_channel = st.one_of(
    st.text(min_size=1, max_size=96),
    st.tuples(
        st.sampled_from(["ticker", "candles", "indicators", "forecast", "sentiment", "evaluation"]),
        st.sampled_from(["dogecoin", ASSET, "BTC", ""]),
        st.sampled_from(["", ":1h", ":5m", ":4h", ":1d", ":x", ":1h:1h"]),
    ).map(lambda p: f"{p[0]}:{p[1]}{p[2]}"),
).filter(lambda name: name not in SERVED)


@st.composite
def subscribe(draw: st.DrawFn) -> Move:
    """A well-formed subscribe: served and unknown channels, some resumed from positions that
    are forged (any epoch and seq, or a genuine seq under a forged epoch) or genuine."""
    names = draw(
        st.lists(st.one_of(st.sampled_from(SERVED), unknown_channel), min_size=1, max_size=6)
    )
    unique = list(dict.fromkeys(names))
    resume: dict[str, dict[str, str]] = {}
    kinds: dict[str, str] = {}
    for name in unique:
        choices = ["fresh", "forged"] + (["forged-epoch", "genuine"] if name in WITNESSED else [])
        kinds[name] = how = draw(st.sampled_from(choices))
        if how == "forged":
            resume[name] = {"epoch": draw(st.text(max_size=48)), "seq": draw(forged_seq)}
    if draw(st.booleans()):  # a position for a channel not subscribed is ignored
        resume[draw(unknown_channel)] = {"epoch": "e", "seq": draw(forged_seq)}
    op: dict[str, Any] = {"op": "subscribe", "channels": names}
    if resume:
        op["resume"] = resume
    return Move(
        op=op,
        errors=tuple(("unknown_channel", n) for n in unique if n not in SERVED),
        subscribes=tuple((n, kinds[n]) for n in unique if n in SERVED),
    )


unsubscribe = st.lists(
    st.one_of(st.sampled_from(SERVED), unknown_channel), min_size=1, max_size=4
).map(lambda names: Move(raw=dumps({"op": "unsubscribe", "channels": names})))
PING = Move(raw=dumps({"op": "ping"}), pong=True)
moves = st.one_of(refused, subscribe(), unsubscribe, st.just(PING))


# --- talking to the gateway -------------------------------------------------------------


@dataclass
class Answer:
    frames: list[dict[str, Any]]
    close_code: int | None  # None: still open
    seconds: float


def converse(url: str, payloads: list[str | bytes], *, pongs: int, timeout: float = 15) -> Answer:
    """Send `payloads`, then read until `pongs` pongs arrived or the server closed."""
    frames: list[dict[str, Any]] = []
    started = time.monotonic()
    with connect(url, open_timeout=10, close_timeout=2, max_size=None) as ws:
        try:
            for payload in payloads:
                ws.send(payload)
            deadline = started + timeout
            seen = 0
            while seen < pongs:
                frame = checked_frame(ws.recv(timeout=max(0.01, deadline - time.monotonic())))
                frames.append(frame)
                seen += frame["type"] == "pong"
            return Answer(frames, None, time.monotonic() - started)
        except ConnectionClosed:
            received = ws.protocol.close_rcvd  # the server's close frame, if one came
            code = received.code if received is not None else None
            return Answer(_drain(ws, frames), code, time.monotonic() - started)


def _drain(ws: ClientConnection, frames: list[dict[str, Any]]) -> list[dict[str, Any]]:
    # Frames that arrived before the close are still readable after it.
    while True:
        try:
            frames.append(checked_frame(ws.recv(timeout=0)))
        except (ConnectionClosed, TimeoutError):
            return frames


def check_streams(
    frames: list[dict[str, Any]],
    expected: list[tuple[str, str]],
    resumed: dict[str, list[str]],
) -> None:
    """`subscribed` frames as expected, in order; each not recovered is followed by its
    snapshot, each recovered continues from the client's own seq; deltas are chained."""
    subscribed = [(f["channel"], f["recovered"]) for f in frames if f["type"] == "subscribed"]
    assert subscribed == [(channel, how == "genuine") for channel, how in expected], frames
    chains: dict[str, Chain] = {}
    waiting: set[str] = set()
    for frame in frames:
        kind, channel = frame["type"], frame.get("channel")
        if kind == "subscribed":
            chains[channel] = Chain()
            if frame["recovered"]:
                chains[channel].seq = resumed[channel].pop(0)
                waiting.discard(channel)
            else:
                waiting.add(channel)
        elif kind == "snapshot":
            assert channel in waiting, f"a snapshot nobody asked for: {frame}"
            assert frame["seq"] is not None, f"every served channel holds a value: {frame}"
            waiting.discard(channel)
            chains[channel].snapshot(frame)
        elif kind == "delta":
            assert channel not in waiting, f"a delta before its snapshot: {frame}"
            chains[channel].delta(frame)
    assert not waiting, f"subscribed without a snapshot: {waiting}"


EXAMPLES: dict[str, int] = {
    "conversations": 0,
    "messages": 0,
    "genuine resumes": 0,
    "forged resumes": 0,
    "oversized": 0,
    "abuse": 0,
    "floods": 0,
}


# --- the properties ---------------------------------------------------------------------


@FUZZ
@given(conversation=st.lists(moves, min_size=1, max_size=STRIKES))
def test_hostile_messages_get_the_documented_answers(
    hostile_stack: Stack, witness: Witness, conversation: list[Move]
) -> None:
    """Up to STRIKES messages of any kind, then a ping: the answer, frame by frame, is the
    documented one, and the connection stays open."""
    sent = [*conversation, PING]
    resumed: dict[str, list[str]] = {}
    payloads = [move.payload(witness, resumed) for move in sent]
    answer = converse(hostile_stack.ws_url, payloads, pongs=sum(m.pong for m in sent))
    assert answer.close_code is None, f"closed with {answer.close_code}: {answer.frames[-5:]}"
    errors = [(f["code"], f.get("channel")) for f in answer.frames if f["type"] == "error"]
    assert errors == [e for move in sent for e in move.errors], answer.frames
    check_streams(answer.frames, [s for move in sent for s in move.subscribes], resumed)
    assert answer.frames[-1]["type"] == "pong"
    EXAMPLES["conversations"] += 1
    EXAMPLES["genuine resumes"] += sum(
        f["type"] == "subscribed" and f["recovered"] for f in answer.frames
    )
    EXAMPLES["messages"] += len(sent)


@settings(FUZZ, max_examples=100)
@given(
    channel=st.sampled_from(WITNESSED),
    epoch=st.one_of(st.text(max_size=48), st.none()),
    seq=forged_seq,
)
@example(channel=TICKER, epoch=None, seq="٣-1")  # a digit to Python, not to Redis
@example(channel=TICKER, epoch=None, seq="18446744073709551616-0")  # past 64 bits
@example(channel=TICKER, epoch="", seq="0-0")
@example(channel=TICKER, epoch=None, seq="99999999999999-0")  # in the future
def test_a_forged_resume_position_gets_a_fresh_snapshot(
    hostile_stack: Stack, witness: Witness, channel: str, epoch: str | None, seq: str
) -> None:
    """Any epoch (None: the genuine one) with any seq the server did not issue: recovered
    false and a fresh snapshot, never an error."""
    genuine = witness.position(channel)
    assert genuine is not None
    position = {"epoch": genuine["epoch"] if epoch is None else epoch, "seq": seq}
    op = {"op": "subscribe", "channels": [channel], "resume": {channel: position}}
    answer = converse(hostile_stack.ws_url, [dumps(op), PING.raw or ""], pongs=1)
    assert answer.close_code is None, answer
    assert [f["type"] for f in answer.frames if f["type"] != "delta"] == [
        "subscribed",
        "snapshot",
        "pong",
    ], answer.frames
    check_streams(answer.frames, [(channel, "forged")], {})
    EXAMPLES["forged resumes"] += 1


@settings(FUZZ, max_examples=15)
@given(channel=st.sampled_from(WITNESSED), behind_s=st.floats(0, 2))
def test_a_genuine_resume_replays_what_was_missed(
    hostile_stack: Stack, witness: Witness, channel: str, behind_s: float
) -> None:
    """A position the server issued, up to 2 s old: recovered true, no snapshot, and the
    missed updates as deltas chained from the client's own seq."""
    position = witness.position(channel)
    assert position is not None
    time.sleep(behind_s)  # updates the resuming client missed
    op = {"op": "subscribe", "channels": [channel], "resume": {channel: position}}
    answer = converse(hostile_stack.ws_url, [dumps(op), PING.raw or ""], pongs=1)
    assert answer.close_code is None, answer
    assert [f["type"] for f in answer.frames if f["type"] != "delta"] == ["subscribed", "pong"]
    check_streams(answer.frames, [(channel, "genuine")], {channel: [position["seq"]]})
    EXAMPLES["genuine resumes"] += 1


@settings(FUZZ, max_examples=30)
@given(
    before=st.lists(st.one_of(refused, st.just(PING)), max_size=3),
    size=st.integers(MAX_MESSAGE_BYTES + 1, 4 * MAX_MESSAGE_BYTES),
    form=st.sampled_from(["text", "multibyte", "binary", "op"]),
)
def test_an_oversized_message_closes_1009(
    hostile_stack: Stack, witness: Witness, before: list[Move], size: int, form: str
) -> None:
    """A message over MP_WS_MAX_MESSAGE_BYTES, text or binary, closes with 1009."""
    oversized: str | bytes = {
        "text": "x" * size,
        "multibyte": "é" * (size // 2 + 1),
        "binary": b"\x00" * size,
        "op": dumps({"op": "subscribe", "channels": [TICKER], "pad": "p" * size}),
    }[form]
    resumed: dict[str, list[str]] = {}
    payloads = [m.payload(witness, resumed) for m in before] + [
        oversized,
        PING.payload(witness, resumed),
    ]
    answer = converse(hostile_stack.ws_url, payloads, pongs=len(before) + 1)
    assert answer.close_code == 1009, answer
    EXAMPLES["oversized"] += 1


@settings(FUZZ, max_examples=30)
@given(abuse=st.lists(refused, min_size=STRIKES + 4, max_size=30))
def test_a_client_that_keeps_being_refused_is_closed_1008(
    hostile_stack: Stack, abuse: list[Move]
) -> None:
    """More refused messages than the strikes allow, sent at once: error frames, then 1008."""
    answer = converse(hostile_stack.ws_url, [m.raw for m in abuse if m.raw is not None], pongs=1)
    assert answer.close_code == 1008, answer
    assert all(f["type"] == "error" for f in answer.frames), answer.frames
    assert STRIKES + 1 <= len(answer.frames) <= len(abuse)
    EXAMPLES["abuse"] += 1


flood_channel = st.one_of(
    st.sampled_from(SERVED), st.text(min_size=1, max_size=12).filter(lambda n: n not in SERVED)
)


@settings(FUZZ, max_examples=40)
@given(ops=st.lists(st.lists(flood_channel, min_size=1, max_size=100), min_size=2, max_size=12))
def test_subscribe_floods_are_limited_as_documented(
    hostile_stack: Stack, ops: list[list[str]]
) -> None:
    """Many subscribes of many channels at once: only documented refusals (rate_limited),
    1008 at worst, every granted subscription still chained; a flood far beyond the
    subscribe burst is refused."""
    payloads: list[str | bytes] = [dumps({"op": "subscribe", "channels": c}) for c in ops]
    payloads.append(PING.raw or "")
    answer = converse(hostile_stack.ws_url, payloads, pongs=1)
    assert answer.close_code in (None, 1008), answer
    codes = [f["code"] for f in answer.frames if f["type"] == "error"]
    assert set(codes) <= {"unknown_channel", "rate_limited"}, codes
    granted = [(f["channel"], "fresh") for f in answer.frames if f["type"] == "subscribed"]
    check_streams(answer.frames, granted, {})
    # 100 channel tokens, 20 more a second: far beyond that some subscribe must be refused.
    asked = sum(len({c for c in op if c in SERVED}) for op in ops)
    if asked > 100 + 20 * answer.seconds + 20:
        assert "rate_limited" in codes or answer.close_code == 1008, (asked, codes)
    EXAMPLES["floods"] += 1


def test_the_witness_saw_every_update_in_order(
    hostile_stack: Stack, witness: Witness, capsys: pytest.CaptureFixture[str]
) -> None:
    """Run last (file order): the client subscribed throughout was never closed, never saw a
    gap (checked on every frame), and holds what the server holds now."""
    if not EXAMPLES["conversations"]:
        pytest.skip("watches this module's fuzzing: run the module whole")
    channel = f"ticker:{ASSET}"

    def caught_up() -> bool:
        assert witness.closed is None and not witness.problems, (witness.closed, witness.problems)
        server = hostile_stack.server_value(channel)
        held = witness.position(channel)
        return (
            server is not None
            and held is not None
            and seq_order(held["seq"]) >= seq_order(server.seq)
        )

    eventually_sync(caught_up, timeout=15, what="the witness holding the server's ticker")
    assert all(witness.chains[c].deltas > 0 for c in WITNESSED), witness.chains
    deltas = sum(chain.deltas for chain in witness.chains.values())
    figures = ", ".join(f"{k} {v}" for k, v in EXAMPLES.items())
    with capsys.disabled():
        print(f"\nws fuzz: {figures}; witness: {deltas} deltas, no gap, never closed")
