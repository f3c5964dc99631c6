"""The figures of a template evaluation, from its games' results (pure: no Django).

Each result is what maze/autopilot.py's `AutopilotGame.result()` returns. The spread is the sample standard
deviation (0 with one game): ten seeded games are a sample of the mazes a template will meet.
"""

from __future__ import annotations

import statistics
from collections import Counter
from typing import Any

TOP_REASONS = 5


def _mean(values: list[float]) -> float | None:
    return round(statistics.fmean(values), 1) if values else None


def summarize(results: list[dict[str, Any]]) -> dict[str, Any]:
    """Win rate, score mean and spread, hint latency, actions used and ignored over the finished games."""
    games = len(results)
    points = [r["points"] for r in results]
    latencies = [
        h["latency_ms"] for r in results for h in r.get("hints", []) if not h.get("error") and h.get("latency_ms")
    ]
    used: Counter = Counter()
    ignored: Counter = Counter()
    reasons: Counter = Counter()
    for r in results:
        used.update(r.get("actions_used", {}))
        ignored.update(r.get("actions_ignored", {}))
        for hint in r.get("hints", []):
            for item in hint.get("ignored", []):
                reasons[f"{item['action']}: {item['reason']}"] += 1
    wins = sum(1 for r in results if r["won"])
    return {
        "games": games,
        "wins": wins,
        "win_rate": round(wins / games, 3) if games else None,
        "points_mean": _mean(points),
        "points_stdev": round(statistics.stdev(points), 1) if games > 1 else (0.0 if games else None),
        "points_min": min(points) if points else None,
        "points_max": max(points) if points else None,
        "hint_latency_ms_mean": _mean(latencies),
        "hints_per_game": _mean([r["hint_count"] for r in results]),
        "hint_errors": sum(1 for r in results for h in r.get("hints", []) if h.get("error")),
        "steps_mean": _mean([r["steps"] for r in results]),
        "duration_ms_mean": _mean([r["duration_ms"] for r in results]),
        "actions_used": dict(used.most_common()),
        "actions_ignored": dict(ignored.most_common()),
        "top_ignored_reasons": [{"reason": k, "count": n} for k, n in reasons.most_common(TOP_REASONS)],
        "end_reasons": dict(Counter(r["end_reason"] for r in results).most_common()),
    }


def compare(a: dict[str, Any] | None, b: dict[str, Any] | None) -> list[dict[str, Any]]:
    """Rows for a side-by-side table: each figure of two summaries and B − A where both are numbers."""
    rows = []
    for key, label in (
        ("win_rate", "Win rate"),
        ("points_mean", "Score, mean"),
        ("points_stdev", "Score, spread (stdev)"),
        ("points_min", "Score, lowest"),
        ("points_max", "Score, highest"),
        ("hint_latency_ms_mean", "Hint latency, mean (ms)"),
        ("hints_per_game", "Hints per game"),
        ("hint_errors", "Hints unanswered or unreadable"),
        ("steps_mean", "Steps per game"),
        ("duration_ms_mean", "Game time, mean (ms)"),
    ):
        va, vb = (a or {}).get(key), (b or {}).get(key)
        both = isinstance(va, (int, float)) and isinstance(vb, (int, float))
        rows.append({"key": key, "label": label, "a": va, "b": vb, "delta": round(vb - va, 3) if both else None})
    return rows
