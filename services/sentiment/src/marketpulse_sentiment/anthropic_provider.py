"""The `anthropic` provider: a Claude reading of the numbers, validated, bounded, optional.

One assessment, in order:
1. refuse at once (ProviderUnavailable) while the shared cooldown runs, or while another
   call about this asset runs or answered within the minimum interval (throttle.py);
2. ask, each request first booking one call and its token estimate in the hourly budget
   (refused when over), retried on 429 / 5xx / 529 / timeouts within the deadline;
3. validate (contract.py) and screen (screening.py) the answer; if it fails, ask once more
   with the problems listed, and if that fails too, return the rule-based reading marked
   `fallback=True`.
The whole assessment runs under one deadline. Nothing the model said is stored unless it
passed both checks, and nothing it said is ever logged.
"""

from __future__ import annotations

import asyncio
import json
import random
from collections.abc import Callable
from datetime import datetime

from redis.exceptions import RedisError

from marketpulse_common.events import Sentiment
from marketpulse_common.logs import describe, get_logger
from marketpulse_sentiment import heuristic
from marketpulse_sentiment.budget import estimate_tokens
from marketpulse_sentiment.budget_store import CallBudget
from marketpulse_sentiment.claude import ModelClient, ModelReply
from marketpulse_sentiment.contract import (
    MAX_OUTPUT_TOKENS,
    ModelAnswer,
    parse_answer,
    tool_definition,
)
from marketpulse_sentiment.errors import INTERVAL, CallFailed, InvalidAnswer, ProviderUnavailable
from marketpulse_sentiment.inputs import SentimentInput
from marketpulse_sentiment.metrics import MODEL_REQUESTS, MODEL_TOKENS, REJECTED_ANSWERS
from marketpulse_sentiment.prompt import SYSTEM_PROMPT, user_message
from marketpulse_sentiment.retry_policy import RetryPolicy, cooldown_s
from marketpulse_sentiment.screening import screen
from marketpulse_sentiment.throttle import CallThrottle, Turn

log = get_logger(__name__)

PROVIDER = "anthropic"
# The tool's definition travels with every request and counts towards its tokens.
_TOOL_BYTES = len(json.dumps(tool_definition()).encode())


def request_estimate(user: str) -> int:
    """The tokens booked for one request with this user message (an upper bound)."""
    prompt_bytes = len(SYSTEM_PROMPT.encode()) + len(user.encode()) + _TOOL_BYTES
    return estimate_tokens(prompt_bytes, MAX_OUTPUT_TOKENS)


class AnthropicProvider:
    name = PROVIDER

    def __init__(
        self,
        client: ModelClient,
        throttle: CallThrottle,
        budget: CallBudget,
        *,
        model: str,
        retry: RetryPolicy,
        deadline_s: float,
        rand: Callable[[], float] = random.random,
    ) -> None:
        self._client = client
        self._throttle = throttle
        self._budget = budget
        self._model = model
        self._retry = retry
        self._deadline_s = deadline_s
        self._rand = rand

    async def assess(self, inp: SentimentInput, *, input_hash: str, now: datetime) -> Sentiment:
        """A validated model reading; the rules' reading as a fallback after two bad answers.

        Raises ProviderUnavailable when the model was not (or could not be) asked.
        """
        anchor = heuristic.assess(inp, input_hash=input_hash, now=now)
        turn = await self._admit(inp.asset)
        answered = False
        try:
            answer = await self._answer_within_deadline(inp, anchor.score)
            answered = True
        except InvalidAnswer as e:
            answered = True  # the model was asked: the interval holds
            REJECTED_ANSWERS.inc()
            log.warning(
                "model answers rejected twice; storing the rule-based reading as a fallback",
                asset=inp.asset,
                problems=e.problems,
            )
            return anchor.model_copy(update={"fallback": True})
        finally:
            await self._end_turn(turn, answered)
        return Sentiment(
            asset=inp.asset,
            label=answer.label,
            score=answer.score,
            confidence=answer.confidence,
            summary=answer.summary,
            drivers=list(answer.drivers),
            provider=PROVIDER,
            model=self._model,
            input_hash=input_hash,
            created_at=now,
        )

    async def aclose(self) -> None:
        await self._client.aclose()

    async def _admit(self, asset: str) -> Turn:
        left = await self._throttle.cooldown_left_s()
        if left is not None:
            raise ProviderUnavailable("cooldown", f"{left:.0f} s left")
        turn = await self._throttle.take_turn(asset, in_flight_s=self._deadline_s)
        if turn is None:
            raise ProviderUnavailable(INTERVAL, "being asked, or asked recently, elsewhere")
        return turn

    async def _end_turn(self, turn: Turn, answered: bool) -> None:
        try:
            await self._throttle.end_turn(turn, answered=answered)
        except RedisError as e:  # the gate still expires with the deadline
            log.warning("asset gate not updated", asset=turn.asset, error=describe(e))

    async def _answer_within_deadline(self, inp: SentimentInput, anchor: float) -> ModelAnswer:
        deadline = asyncio.get_running_loop().time() + self._deadline_s
        try:
            async with asyncio.timeout_at(deadline):
                return await self._validated_answer(inp, anchor, deadline)
        except TimeoutError as e:
            await self._throttle.cool_down(cooldown_s(None), "deadline")
            raise ProviderUnavailable("deadline", f"no answer within {self._deadline_s} s") from e

    async def _validated_answer(
        self, inp: SentimentInput, anchor: float, deadline: float
    ) -> ModelAnswer:
        try:
            return self._accept(await self._request(user_message(inp), deadline), inp, anchor)
        except InvalidAnswer as e:
            REJECTED_ANSWERS.inc()
            log.info("answer rejected; asking once more", asset=inp.asset, problems=e.problems)
            retry = user_message(inp, rejection=e.problems)
            return self._accept(await self._request(retry, deadline), inp, anchor)

    @staticmethod
    def _accept(reply: ModelReply, inp: SentimentInput, anchor: float) -> ModelAnswer:
        answer = parse_answer(reply.tool_input)
        problems = screen(answer, headlines=inp.headlines, anchor_score=anchor)
        if problems:
            raise InvalidAnswer(problems)
        return answer

    async def _request(self, user: str, deadline: float) -> ModelReply:
        """One answer from the model, retrying failed requests while the deadline allows."""
        estimate = request_estimate(user)
        retry = 0
        while True:
            try:
                return await self._attempt(user, estimate)
            except CallFailed as e:
                retry += 1
                remaining = deadline - asyncio.get_running_loop().time()
                wait = self._retry.delay(retry, e.retry_after_s, remaining, self._rand())
                if not e.retryable or wait is None:
                    raise await self._give_up(e) from e
                log.info(
                    "model request failed; retrying", reason=describe(e), wait_s=round(wait, 2)
                )
                await asyncio.sleep(wait)

    async def _attempt(self, user: str, estimate: int) -> ModelReply:
        reservation = await self._budget.reserve(estimate)
        if reservation is None:
            raise ProviderUnavailable("budget", "hourly model budget used up")
        # Cancelled mid-request (deadline, shutdown): the reservation stays booked in full.
        try:
            reply = await self._client.ask(SYSTEM_PROMPT, user)
        except CallFailed as e:
            MODEL_REQUESTS.labels(outcome=e.reason).inc()
            await self._budget.settle(reservation, reservation.tokens if e.billed else 0)
            raise
        used = reservation.tokens if reply.tokens is None else reply.tokens
        await self._budget.settle(reservation, used)
        MODEL_REQUESTS.labels(outcome="ok").inc()
        MODEL_TOKENS.inc(used)
        return reply

    async def _give_up(self, failure: CallFailed) -> ProviderUnavailable:
        """Pause every replica's model calls; the error to raise."""
        pause = cooldown_s(failure.retry_after_s, rejected=not failure.retryable)
        await self._throttle.cool_down(pause, failure.reason)
        log.warning(
            "model provider unavailable; pausing model calls",
            reason=str(failure),
            cooldown_s=pause,
        )
        return ProviderUnavailable(failure.reason, str(failure))
