"""The output contract a model must meet, and the tool through which it is asked for it.

The model is forced to call one tool whose input schema is `ModelAnswer`'s JSON schema, and
whatever it sends back is validated against the same model, strictly: no extra fields, no
strings where numbers belong, no NaN. Validation errors are reported by location and rule
only, never with the offending value, so feeding them back cannot relay injected text.
"""

from __future__ import annotations

from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from marketpulse_sentiment.errors import InvalidAnswer

TOOL_NAME = "record_sentiment"
SUMMARY_MAX = 280
DRIVER_MAX = 120
MAX_DRIVERS = 5
# Room for a 280-character summary and five 120-character drivers as JSON, with margin.
MAX_OUTPUT_TOKENS = 700
# More problems than this are one problem: the answer is not trying to fit the schema.
_MAX_REPORTED = 6


class ModelAnswer(BaseModel):
    """A model's reading of one asset, exactly as the tool's schema allows it."""

    model_config = ConfigDict(extra="forbid", strict=True, frozen=True, allow_inf_nan=False)

    label: Literal["bullish", "bearish", "neutral"] = Field(
        description="bullish, bearish or neutral for the coming hours to days"
    )
    score: float = Field(ge=-1, le=1, description="-1 very bearish … +1 very bullish")
    confidence: float = Field(ge=0, le=1, description="0 no idea … 1 certain")
    summary: str = Field(
        min_length=1,
        max_length=SUMMARY_MAX,
        description="one or two plain sentences, no links, no quotes from headlines",
    )
    drivers: list[Annotated[str, Field(min_length=1, max_length=DRIVER_MAX)]] = Field(
        max_length=MAX_DRIVERS, description="the main factors, a few words each"
    )


def tool_definition() -> dict[str, Any]:
    return {
        "name": TOOL_NAME,
        "description": "Record the market reading of the asset. Call exactly once.",
        "input_schema": ModelAnswer.model_json_schema(),
    }


def _problem(error: Any) -> str:
    # An extra field's name is the model's own text: name it generically, never echo it.
    known = ModelAnswer.model_fields
    parts = [
        str(p) if isinstance(p, int) or p in known else "(unknown field)" for p in error["loc"]
    ]
    return f"{'.'.join(parts) or 'answer'}: {error['msg']}"


def parse_answer(raw: object) -> ModelAnswer:
    """The tool input as a ModelAnswer; InvalidAnswer naming what is wrong otherwise."""
    if raw is None:
        raise InvalidAnswer([f"no call of the {TOOL_NAME} tool"])
    if not isinstance(raw, dict):
        raise InvalidAnswer(["answer: the tool input must be a JSON object"])
    try:
        return ModelAnswer.model_validate(raw)
    except ValidationError as e:
        problems = [_problem(err) for err in e.errors(include_url=False, include_input=False)]
        raise InvalidAnswer(problems[:_MAX_REPORTED]) from None
