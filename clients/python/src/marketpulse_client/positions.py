"""Saved positions: what `MarketPulse.positions()` returns and `resume_from=` accepts.

A position is `{epoch, seq}` plus the value at it. The value is part of it because a resume
the gateway honours sends only the updates missed since `seq`, as deltas: without the value
they apply to, the client could not rebuild the current one. The mapping is plain JSON, so
storing it (a file, localStorage, a database row) and loading it back is `json.dumps` /
`json.loads`.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Annotated, Any

from pydantic import BaseModel, ConfigDict, Field, TypeAdapter

from marketpulse_client.channel import SavedPosition
from marketpulse_client.frames import MAX_CHANNEL_NAME, MAX_POSITION_TOKEN, seq_key

Token = Annotated[str, Field(min_length=1, max_length=MAX_POSITION_TOKEN)]
ChannelName = Annotated[str, Field(min_length=1, max_length=MAX_CHANNEL_NAME)]


class Position(BaseModel):
    model_config = ConfigDict(extra="ignore", frozen=True)

    epoch: Token
    seq: Token
    value: Any


_POSITIONS: TypeAdapter[dict[ChannelName, Position]] = TypeAdapter(dict[ChannelName, Position])

PositionsJSON = dict[str, dict[str, Any]]


def load_positions(raw: Mapping[str, Any] | str | bytes) -> dict[str, SavedPosition]:
    """Validate stored positions (a mapping, or its JSON text); raises pydantic's
    ValidationError or ValueError for anything that is not one."""
    parsed = (
        _POSITIONS.validate_json(raw)
        if isinstance(raw, str | bytes)
        else (_POSITIONS.validate_python(dict(raw)))
    )
    saved = {}
    for channel, p in parsed.items():
        seq_key(p.seq)
        saved[channel] = SavedPosition(p.epoch, p.seq, p.value)
    return saved


def dump_positions(saved: Mapping[str, SavedPosition]) -> PositionsJSON:
    return {ch: {"epoch": p.epoch, "seq": p.seq, "value": p.value} for ch, p in saved.items()}
