"""Server-side latency charts for the status page: samples -> per-minute medians -> SVG polyline points."""

from __future__ import annotations

import statistics
from dataclasses import dataclass


@dataclass(frozen=True)
class Chart:
    points: str  # "x,y x,y ..." for <polyline>
    max_ms: float
    median_ms: float | None
    count: int


def per_minute_medians(samples: list[tuple[float, float]], now: float, minutes: int = 60) -> list[float | None]:
    buckets: list[list[float]] = [[] for _ in range(minutes)]
    start = now - minutes * 60
    for ts, ms in samples:
        index = int((ts - start) // 60)
        if 0 <= index < minutes:
            buckets[index].append(ms)
    return [statistics.median(b) if b else None for b in buckets]


def chart(samples: list[tuple[float, float]], now: float, width: int = 600, height: int = 120) -> Chart:
    medians = per_minute_medians(samples, now)
    values = [m for m in medians if m is not None]
    top = max(values, default=1.0) * 1.1 or 1.0
    step = width / (len(medians) - 1)
    points = " ".join(
        f"{i * step:.1f},{height - (m / top) * height:.1f}" for i, m in enumerate(medians) if m is not None
    )
    all_ms = [ms for _, ms in samples]
    return Chart(
        points=points,
        max_ms=round(top, 1),
        count=len(all_ms),
        median_ms=round(statistics.median(all_ms), 2) if all_ms else None,
    )
