"""Ready bodies: data spliced as stored, meta formatted per response, ETag tracking staleness."""

from __future__ import annotations

from datetime import UTC, datetime

import orjson

from marketpulse_gateway.freshness import Freshness
from marketpulse_gateway.rest.envelope import ReadyBody, encode_envelope, meta_dict
from marketpulse_gateway.rest.etag import etag_for

DATA = b'{"price":101.5,"asset":"bitcoin"}'
PRODUCED = 1_700_000_000.25


def ready(source: str = "simulated") -> ReadyBody:
    return ReadyBody.build(DATA, PRODUCED, max_age_s=60.0, source=source)


def test_body_is_the_envelope_with_the_data_bytes_untouched() -> None:
    """The stored data bytes appear verbatim; meta carries as_of, age_s, stale and source."""
    body = ready().render(PRODUCED + 12.3456).body
    assert body.startswith(b'{"data":' + DATA + b',"meta":')
    meta = orjson.loads(body)["meta"]
    assert meta == {
        "as_of": "2023-11-14T22:13:20.250Z",
        "age_s": 12.346,
        "stale": False,
        "source": "simulated",
    }


def test_age_grows_but_the_etag_holds_while_fresh() -> None:
    """Two renders of one value differ in age_s only; the ETag is the same."""
    first, second = ready().render(PRODUCED + 1), ready().render(PRODUCED + 2)
    assert first.body != second.body
    assert first.etag == second.etag == etag_for(DATA, stale=False).encode()


def test_old_value_is_stale_with_its_own_etag() -> None:
    """Past max_age the body says stale and the ETag changes, so a 304 never hides it."""
    rendered = ready().render(PRODUCED + 61)
    assert orjson.loads(rendered.body)["meta"]["stale"] is True
    assert rendered.etag == etag_for(DATA, stale=True).encode()


def test_forced_stale_marks_last_known_good() -> None:
    """Serving through an outage marks even a young value stale."""
    rendered = ready().render(PRODUCED + 1, force_stale=True)
    assert orjson.loads(rendered.body)["meta"]["stale"] is True
    assert rendered.etag.endswith(b'-stale"')


def test_clock_skew_never_gives_a_negative_age() -> None:
    """A value stamped slightly in the future is zero seconds old."""
    body = ready().render(PRODUCED - 5).body
    assert orjson.loads(body)["meta"]["age_s"] == 0.0


def test_unknown_source_reads_cache() -> None:
    """A value whose producer named no source says it came from the cache."""
    body = ready(source="").render(PRODUCED).body
    assert orjson.loads(body)["meta"]["source"] == "cache"


def test_headers_describe_the_body() -> None:
    """A rendering carries the 200 headers: JSON, its exact length, its ETag, no-cache."""
    rendered = ready().render(PRODUCED + 3)
    headers = dict(rendered.headers)
    assert headers[b"content-type"] == b"application/json"
    assert int(headers[b"content-length"]) == len(rendered.body)
    assert headers[b"etag"] == rendered.etag
    assert headers[b"cache-control"] == b"no-cache"


def test_rendered_once_per_millisecond() -> None:
    """Reads within the same millisecond of age share one rendering; the next one renders."""
    value = ready()
    first = value.render(PRODUCED + 1.0001)
    assert value.render(PRODUCED + 1.0003) is first
    later = value.render(PRODUCED + 1.0021)
    assert later is not first
    assert orjson.loads(later.body)["meta"]["age_s"] == 1.002
    assert value.render(PRODUCED + 1.0021, force_stale=True).stale


def test_composed_meta_with_nothing_cached_is_null_and_stale() -> None:
    """A composed body with no part present has null as_of/age_s and is stale."""
    assert meta_dict(None) == {"as_of": None, "age_s": None, "stale": True, "source": "cache"}


def test_composed_envelope() -> None:
    """Composed bodies splice their data and encode their meta with the same as_of format."""
    fresh = Freshness(as_of=datetime.fromtimestamp(PRODUCED, UTC), age_s=1.5, stale=False)
    body = encode_envelope(b"[1,2]", meta_dict(fresh, "compute", force_stale=True))
    assert orjson.loads(body) == {
        "data": [1, 2],
        "meta": {
            "as_of": "2023-11-14T22:13:20.250Z",
            "age_s": 1.5,
            "stale": True,
            "source": "compute",
        },
    }
