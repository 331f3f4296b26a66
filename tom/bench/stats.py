"""Percentiles and summaries, in one place so bench, tests and reports agree on the maths."""

from __future__ import annotations

import math
from collections.abc import Iterable
from dataclasses import asdict, dataclass
from typing import Any


def percentile(values: Iterable[float], q: float) -> float | None:
    """The q-th percentile (0..100) with linear interpolation between ranks; None when empty.

    Same definition as numpy's default, so figures match whatever a reader checks them with.
    """
    if not 0 <= q <= 100:
        raise ValueError(f"percentile q must be within 0..100, got {q}")
    xs = sorted(float(v) for v in values)
    if not xs:
        return None
    rank = (len(xs) - 1) * q / 100.0
    lo, hi = math.floor(rank), math.ceil(rank)
    return xs[lo] + (xs[hi] - xs[lo]) * (rank - lo)


@dataclass(frozen=True, slots=True)
class Summary:
    """p50/p95/max of one figure; every field is None when nothing was measured."""

    count: int
    p50: float | None
    p95: float | None
    max: float | None

    @classmethod
    def of(cls, values: Iterable[float]) -> Summary:
        xs = [float(v) for v in values]
        return cls(len(xs), percentile(xs, 50), percentile(xs, 95), max(xs) if xs else None)

    def to_dict(self) -> dict[str, Any]:
        return {k: (round(v, 2) if isinstance(v, float) else v) for k, v in asdict(self).items()}


def summaries_by(pairs: Iterable[tuple[str, float]], keys: Iterable[str] = ()) -> dict[str, Summary]:
    """One Summary per key of (key, value) pairs; every key in `keys` is present, maybe empty.

    Used to show FAQ and off-script turns apart (a few slow LLM turns hide in a pooled p95).
    """
    groups: dict[str, list[float]] = {k: [] for k in keys}
    for key, value in pairs:
        groups.setdefault(key, []).append(value)
    return {k: Summary.of(v) for k, v in groups.items()}
