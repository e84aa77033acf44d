"""Schemathesis against the OpenAPI document a real gateway serves: what it proves.

A gateway process (tests/system/stack.py: real Redis, simulated ingestor and compute, so
every resource holds realistic cached data) is fuzzed over loopback from its own
`/openapi.json`. The per-operation tests are generated at collection from the document the
gateway code builds, and the first tests check that each running gateway serves exactly
that document; the stateful tests load it from the gateway. Every schemathesis phase runs:
examples (the served assets), coverage (boundary and just-outside values of every
parameter), fuzzing (positive and negative data) and stateful (sequences following the
document's links, incl. revalidating with the ETag just received).

Every answer must pass every built-in check: no 5xx; a status the document lists; its
content type (problem+json for errors); its body schema; its headers (ETag on 200 and 304,
Retry-After on 429 and 503, WWW-Authenticate on 401); 405 with Allow for undocumented
methods; 4xx for negative data and not for positive data.

Three deployments of the gateway on the same Redis: open (no keys, no rate limit: the data
paths), guarded (MP_API_KEYS_REQUIRED: each case is sent with a valid key and without one;
schemathesis also sends it with a forged one: 401) and limited (a tight rate limit: 429
with Retry-After). They are apart because the gateway rightly rate-limits made-up keys by
address before looking them up, so a limited deployment answers a forged key with 429.
The last test checks that the fuzzing reached each kind of answer (200, 304, 404, 422, 401,
429) and no 5xx, so a run that only ever hit one wall cannot pass, and reports the figures
that README's Reliability section quotes.

Fix the product (gateway or document) when this fails; never loosen the checks.
"""

from __future__ import annotations

import contextlib
import os
from collections import Counter
from collections.abc import Iterator
from typing import Any

import httpx
import hypothesis
import pytest
import schemathesis
from hypothesis.errors import FlakyStrategyDefinition
from schemathesis import Case

from marketpulse_common.settings import load_settings
from marketpulse_gateway.app import create_app
from tests.hostile.conftest import ExtraGateway, create_api_key, extra_gateway
from tests.system.stack import ASSET, TIMEFRAMES, Stack

pytestmark = [pytest.mark.system, pytest.mark.hostile, pytest.mark.timeout(600)]

# Fuzzing-phase examples per operation and generation mode; the examples and coverage phases
# add theirs. ~1 minute for both deployments on a loaded 2-core machine.
MAX_EXAMPLES = 25
STATEFUL_STEPS = 12
STATEFUL_CALLS = 150
STATEFUL_ROUNDS = 8
STATEFUL_SETTINGS = hypothesis.settings(
    phases=[hypothesis.Phase.generate],  # no replay or shrinking of a live, changing API
    max_examples=MAX_EXAMPLES,
    stateful_step_count=STATEFUL_STEPS,
    deadline=None,
    database=None,
    suppress_health_check=list(hypothesis.HealthCheck),
)
# In CI the examples are derandomised (as for every hypothesis test here, tests/conftest.py).
DETERMINISTIC = os.environ.get("CI") == "true"
GUARDED_ENV = {"MP_API_KEYS_REQUIRED": "true"}
LIMITED_ENV = {"MP_RATE_LIMIT_PER_MINUTE": "600", "MP_RATE_LIMIT_BURST": "20"}

# (deployment, status) → answers seen, over the whole module.
TALLY: Counter[tuple[str, int]] = Counter()


CONFIG = schemathesis.Config.from_dict(
    {
        "generation": {
            "mode": "all",
            "max-examples": MAX_EXAMPLES,
            "deterministic": DETERMINISTIC,
        },
        "phases": {"stateful": {"max-steps": STATEFUL_STEPS}},
        "request-timeout": 10,
    }
)


def document(*, keys_required: bool) -> dict[str, Any]:
    """The OpenAPI document of a gateway configured as the stack's (checked against the
    served one by the first tests)."""
    settings = load_settings(
        redis_url="redis://127.0.0.1:1/0",  # never contacted: the app is not started
        assets=[ASSET],
        timeframes=TIMEFRAMES.split(","),
        api_keys_required=keys_required,
    )
    return create_app(settings).api.openapi()


# Eager schemas: schemathesis's fixture-based loader does not run under pytest 9.
OPEN = schemathesis.openapi.from_dict(document(keys_required=False), config=CONFIG)
GUARDED = schemathesis.openapi.from_dict(document(keys_required=True), config=CONFIG)
LIMITED = schemathesis.openapi.from_dict(document(keys_required=False), config=CONFIG)


@pytest.fixture(scope="module")
def guarded(hostile_stack: Stack) -> Iterator[tuple[ExtraGateway, str]]:
    key = create_api_key(hostile_stack, "schemathesis")
    with extra_gateway(hostile_stack, **GUARDED_ENV) as gateway:
        yield gateway, key


@pytest.fixture(scope="module")
def limited(hostile_stack: Stack) -> Iterator[ExtraGateway]:
    with extra_gateway(hostile_stack, **LIMITED_ENV) as gateway:
        yield gateway


def served(base_url: str) -> dict[str, Any]:
    response = httpx.get(f"{base_url}/openapi.json", timeout=10)
    assert response.status_code == 200
    return response.json()  # type: ignore[no-any-return]


def test_the_open_gateway_serves_the_fuzzed_document(hostile_stack: Stack) -> None:
    assert served(hostile_stack.base_url) == OPEN.raw_schema


def test_the_guarded_gateway_serves_the_fuzzed_document(
    guarded: tuple[ExtraGateway, str],
) -> None:
    assert served(guarded[0].base_url) == GUARDED.raw_schema


def test_the_limited_gateway_serves_the_fuzzed_document(limited: ExtraGateway) -> None:
    assert served(limited.base_url) == LIMITED.raw_schema


@OPEN.parametrize()
def test_open_gateway_answers_as_documented(case: Case, hostile_stack: Stack) -> None:
    """Examples, coverage and fuzzing (positive and negative) against the open gateway."""
    response = case.call_and_validate(base_url=hostile_stack.base_url)
    TALLY["open", response.status_code] += 1


@GUARDED.parametrize()
def test_guarded_gateway_answers_as_documented(
    case: Case, guarded: tuple[ExtraGateway, str]
) -> None:
    """The same against a gateway that wants keys: each case with a valid key, then without
    it (schemathesis's own auth check also sends it with a forged key): 401 as documented."""
    gateway, key = guarded
    response = case.call_and_validate(
        base_url=gateway.base_url, headers={"Authorization": f"Bearer {key}"}
    )
    TALLY["guarded", response.status_code] += 1
    # And as sent by someone without a key (or with a generated, forged one).
    keyless = case.call_and_validate(base_url=gateway.base_url)
    TALLY["guarded", keyless.status_code] += 1


@LIMITED.parametrize()
def test_limited_gateway_answers_as_documented(case: Case, limited: ExtraGateway) -> None:
    """The same against a gateway with a tight rate limit: 429 with Retry-After."""
    response = case.call_and_validate(base_url=limited.base_url)
    TALLY["limited", response.status_code] += 1


def run_stateful(deployment: str, base_url: str, headers: dict[str, str]) -> int:
    """Run scenarios until STATEFUL_CALLS calls were made; returns the calls made.

    The data changes under the fuzzer (a 600x market), so the values a scenario feeds forward
    (ETags) differ between two runs of the same choices, which Hypothesis reports as a flaky
    *strategy*: as schemathesis's own runner does, such a round ends and a new one starts.
    A failed check is never retried."""
    schema = schemathesis.openapi.from_url(f"{base_url}/openapi.json", config=CONFIG)
    calls = 0

    class Workflow(schema.as_state_machine()):  # type: ignore[misc]
        def get_call_kwargs(self, case: Case) -> dict[str, Any]:
            return {"headers": headers}

        def after_call(self, response: schemathesis.Response, case: Case) -> None:
            nonlocal calls
            super().after_call(response, case)
            calls += 1
            TALLY[deployment, response.status_code] += 1

    for _round in range(STATEFUL_ROUNDS):
        with contextlib.suppress(FlakyStrategyDefinition):
            Workflow.run(settings=STATEFUL_SETTINGS)
        if calls >= STATEFUL_CALLS:
            break
    return calls


def test_open_gateway_sequences_follow_the_links(hostile_stack: Stack) -> None:
    """Stateful: call sequences along the document's links (incl. ETag revalidation)."""
    assert run_stateful("open", hostile_stack.base_url, {}) >= STATEFUL_CALLS


def test_guarded_gateway_sequences_follow_the_links(guarded: tuple[ExtraGateway, str]) -> None:
    gateway, key = guarded
    calls = run_stateful("guarded", gateway.base_url, {"Authorization": f"Bearer {key}"})
    assert calls >= STATEFUL_CALLS


def test_the_fuzzing_reached_every_kind_of_answer(capsys: pytest.CaptureFixture[str]) -> None:
    """Run after the tests above (file order): each deployment gave the answers it exists to
    give, and none was a server error. Reports the figures README quotes."""
    if not TALLY:
        pytest.skip("reads the tally of this module's fuzzing tests: run the module whole")
    seen = {d: {s for (dd, s) in TALLY if dd == d} for d in ("open", "guarded", "limited")}
    assert {200, 304, 404, 422} <= seen["open"], TALLY
    assert {200, 401} <= seen["guarded"], TALLY
    assert 429 in seen["limited"], TALLY
    server_errors = sum(n for (_, status), n in TALLY.items() if status >= 500)
    assert server_errors == 0, TALLY
    figures = ", ".join(f"{d} {s}: {n}" for (d, s), n in sorted(TALLY.items()))
    with capsys.disabled():
        print(f"\nschemathesis: {sum(TALLY.values())} requests, 5xx: {server_errors} ({figures})")
