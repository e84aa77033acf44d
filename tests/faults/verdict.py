"""The verdict of a fault scenario: what was produced versus what was stored or delivered.

Pure. A scenario names what it produced (the ids a consumer had to see exactly once, in
order) and what came out the other side; the verdict counts what went missing (`lost`) and
what should not be there at all (`unexpected`: duplicates, out-of-order arrivals, and ids
nobody produced). A clean run is lost = 0 and unexpected = 0. A verdict also keeps a few
`examples` of what went wrong (which keys were lost or foreign, and where), so a failure
that happened once under load can be explained from its message alone.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Hashable, Iterable, Sequence
from dataclasses import dataclass
from itertools import pairwise
from typing import Any, TypeVar

K = TypeVar("K", bound=Hashable)

# Examples a verdict keeps: enough to see the pattern, short enough for an assertion message.
MAX_EXAMPLES = 10


@dataclass(frozen=True)
class Verdict:
    scenario: str
    checked: int  # produced items the scenario checked
    lost: int  # produced, never stored or delivered
    duplicates: int  # stored or delivered more than once
    out_of_order: int  # arrived after something produced later
    foreign: int = 0  # stored or delivered, never produced
    examples: tuple[str, ...] = ()  # the first few lost or foreign keys, and where

    @property
    def unexpected(self) -> int:
        return self.duplicates + self.out_of_order + self.foreign

    def __add__(self, other: Verdict) -> Verdict:
        return Verdict(
            self.scenario,
            self.checked + other.checked,
            self.lost + other.lost,
            self.duplicates + other.duplicates,
            self.out_of_order + other.out_of_order,
            self.foreign + other.foreign,
            (self.examples + other.examples)[:MAX_EXAMPLES],
        )

    def line(self) -> str:
        return (
            f"{self.scenario}: checked {self.checked}, lost {self.lost}, "
            f"duplicates {self.duplicates}, out of order {self.out_of_order}, "
            f"foreign {self.foreign}"
        )

    def assert_clean(self) -> None:
        assert self.checked > 0, f"{self.scenario}: nothing was checked"
        assert (self.lost, self.unexpected) == (0, 0), "; ".join((self.line(), *self.examples))


def compare(
    scenario: str, produced: Sequence[K], delivered: Iterable[K], *, where: str = ""
) -> Verdict:
    """`delivered` against `produced`: each produced id once, in produced order. `where`
    labels the examples (e.g. which client and channel)."""
    order = {key: n for n, key in enumerate(produced)}
    seen = list(delivered)
    counts = Counter(seen)
    out_of_order, last = 0, -1
    for key in seen:
        position = order.get(key)
        if position is None:
            continue
        if position < last:
            out_of_order += 1
        last = max(last, position)
    lost = [key for key in order if key not in counts]
    foreign = [key for key in counts if key not in order]
    label = f"{scenario}{f' ({where})' if where else ''}"
    examples = [f"{label}: foreign {key!r}" for key in foreign]
    examples += [f"{label}: lost {key!r}" for key in lost]
    if foreign and produced:
        examples.append(f"{label}: produced {produced[0]!r}..{produced[-1]!r}")
    return Verdict(
        scenario,
        checked=len(order),
        lost=len(lost),
        duplicates=sum(n - 1 for key, n in counts.items() if n > 1),
        out_of_order=out_of_order,
        foreign=len(foreign),
        examples=tuple(examples[:MAX_EXAMPLES]),
    )


def sequence_faults(scenario: str, keys: Sequence[Any]) -> Verdict:
    """A sequence that must be strictly increasing (a published history): its duplicates and
    out-of-order entries, with nothing to say about loss."""
    counts = Counter(keys)
    out_of_order = sum(1 for a, b in pairwise(keys) if b < a)
    return Verdict(
        scenario,
        checked=len(keys),
        lost=0,
        duplicates=sum(n - 1 for n in counts.values() if n > 1),
        out_of_order=out_of_order,
    )
