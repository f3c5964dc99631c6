"""Server-side latency charts for the status page: samples -> per-minute medians -> an SVG's coordinates and labels.

Everything the template draws is computed here (pure, no Django), so it is tested without a browser and the page
needs no script: a few points must still read as data, hence a dot with its value for the latest point, a line only
from two points on, and "no data yet" when the hour is empty.
"""

from __future__ import annotations

import math
import statistics
from dataclasses import dataclass
from datetime import UTC, datetime, tzinfo

MINUTES = 60
WIDTH, HEIGHT = 480, 200  # the SVG's viewBox; it scales to its box, text with it, so it is never squashed
# Room around the plot for the latency labels (left) and the time labels (below).
LEFT, RIGHT, TOP, BOTTOM = 60, 14, 14, 34
X_TICKS = 5  # -60, -45, -30, -15 min and now


@dataclass(frozen=True)
class Tick:
    at: float  # x (time axis) or y (latency axis) in viewBox units
    label: str


@dataclass(frozen=True)
class Dot:
    x: float
    y: float
    value: str  # "12.3 ms"
    time: str  # "14:05", the end of its minute


@dataclass(frozen=True)
class Chart:
    dots: tuple[Dot, ...]
    line: str  # "x,y x,y ..." for <polyline>; "" below two points: one point is a dot, not a line
    y_ticks: tuple[Tick, ...]
    x_ticks: tuple[Tick, ...]
    max_ms: float  # top of the latency axis
    median_ms: float | None  # of every sample in the hour, not of the per-minute medians
    count: int
    width: int = WIDTH
    height: int = HEIGHT
    left: int = LEFT
    top: int = TOP
    right: int = WIDTH - RIGHT
    bottom: int = HEIGHT - BOTTOM

    @property
    def empty(self) -> bool:
        return not self.dots

    @property
    def latest(self) -> Dot | None:
        return self.dots[-1] if self.dots else None

    # Where the template puts things, so it does no arithmetic of its own.
    @property
    def plot_width(self) -> int:
        return self.right - self.left

    @property
    def plot_height(self) -> int:
        return self.bottom - self.top

    @property
    def middle_x(self) -> float:
        return (self.left + self.right) / 2

    @property
    def middle_y(self) -> float:
        return (self.top + self.bottom) / 2

    @property
    def y_label_x(self) -> int:
        return self.left - 6

    @property
    def x_tick_end(self) -> int:
        return self.bottom + 5

    @property
    def x_label_y(self) -> int:
        return self.bottom + 20

    @property
    def value_label(self) -> dict | None:
        """The latest value in words, beside its dot on the side with room, above it unless at the top."""
        d = self.latest
        if d is None:
            return None
        on_left = d.x > self.middle_x
        return {
            "x": d.x - 8 if on_left else d.x + 8,
            "y": d.y - 8 if d.y > self.middle_y else d.y + 8,
            "anchor": "end" if on_left else "start",
            "baseline": "auto" if d.y > self.middle_y else "hanging",
            "text": d.value,
        }


def per_minute_medians(samples: list[tuple[float, float]], now: float, minutes: int = MINUTES) -> list[float | None]:
    buckets: list[list[float]] = [[] for _ in range(minutes)]
    start = now - minutes * 60
    for ts, ms in samples:
        index = int((ts - start) // 60)
        if 0 <= index < minutes:
            buckets[index].append(ms)
    return [statistics.median(b) if b else None for b in buckets]


def nice_top(value: float) -> float:
    """The smallest 1, 2, 2.5 or 5 × 10^k at or above `value`: axis labels people can read at a glance."""
    if value <= 0:
        return 1.0
    power = 10 ** math.floor(math.log10(value))
    return next(m * power for m in (1, 2, 2.5, 5, 10) if m * power >= value * (1 - 1e-9))


def format_ms(ms: float) -> str:
    if ms >= 100:
        return f"{ms:.0f} ms"
    if ms >= 10:
        return f"{ms:.1f} ms".replace(".0 ms", " ms")
    return f"{ms:.2f}".rstrip("0").rstrip(".") + " ms"


def chart(samples: list[tuple[float, float]], now: float, tz: tzinfo = UTC) -> Chart:
    medians = per_minute_medians(samples, now)
    values = [m for m in medians if m is not None]
    top = nice_top(max(values, default=0.0))
    plot_w, plot_h = WIDTH - LEFT - RIGHT, HEIGHT - TOP - BOTTOM

    def clock(ts: float) -> str:
        return datetime.fromtimestamp(ts, tz).strftime("%H:%M")

    def x_of(minutes_ago: float) -> float:
        return round(LEFT + (1 - minutes_ago / MINUTES) * plot_w, 1)

    def y_of(ms: float) -> float:
        return round(TOP + (1 - ms / top) * plot_h, 1)

    dots = tuple(
        # A minute's median sits at the minute's end: the newest one reaches the "now" edge.
        Dot(x=x_of(MINUTES - i - 1), y=y_of(m), value=format_ms(m), time=clock(now - (MINUTES - i - 1) * 60))
        for i, m in enumerate(medians)
        if m is not None
    )
    step = MINUTES / (X_TICKS - 1)
    x_ticks = tuple(Tick(at=x_of(step * k), label=clock(now - step * k * 60)) for k in reversed(range(X_TICKS)))
    y_ticks = tuple(Tick(at=y_of(v), label=format_ms(v)) for v in (0.0, top / 2, top))
    all_ms = [ms for _, ms in samples]
    return Chart(
        dots=dots,
        line=" ".join(f"{d.x},{d.y}" for d in dots) if len(dots) >= 2 else "",
        y_ticks=y_ticks,
        x_ticks=x_ticks,
        max_ms=top,
        count=len(all_ms),
        median_ms=round(statistics.median(all_ms), 2) if all_ms else None,
    )
