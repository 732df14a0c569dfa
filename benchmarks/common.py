"""What every benchmark returns, and small helpers to measure with."""

from __future__ import annotations

import statistics
import time
from collections.abc import Callable
from dataclasses import dataclass


@dataclass(frozen=True)
class Result:
    issue: str  # which capability: "board", "nurture", "scoring", "import", "startup"
    name: str  # what was measured, in words
    value: float
    unit: str  # "ms", "MB", "msg/s", "rows/s", "x", "s"
    target: str  # the target as text, e.g. "<= 300 ms"
    ok: bool


def timed_ms(fn: Callable[[], object], repeat: int = 1) -> list[float]:
    samples = []
    for _ in range(repeat):
        start = time.perf_counter()
        fn()
        samples.append((time.perf_counter() - start) * 1000)
    return samples


def median(values: list[float]) -> float:
    return statistics.median(values)


def peak_rss_mb() -> float:
    """Peak resident memory of this process so far (Linux reports KiB)."""
    import resource

    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
