"""The benchmark scripts (bench/) still run end to end and measure what they say, on a tiny load: they are how
the README's figures are made, and a broken one would only be found when a figure is next needed."""

import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def run_bench(*args: str) -> str:
    out = subprocess.run([sys.executable, *args], cwd=ROOT, capture_output=True, text=True, timeout=240)
    assert out.returncode == 0, out.stdout[-2000:] + out.stderr[-3000:]
    return out.stdout


def test_chat_latency_measures_both_paths_against_the_floor():
    out = run_bench("bench/chat_latency.py", "--requests", "20", "--concurrency", "2")
    assert "floor, 2 in flight                   ok 20/20 (100.0 %)" in out
    assert "HTTP chat, concurrency 2             ok 20/20 (100.0 %)" in out
    assert "WebSocket chat, concurrency 2        ok 20/20 (100.0 %)" in out
    assert "pending afterwards: 0" in out and "CPU ms per request: daphne" in out


def test_memory_soak_samples_rss_and_answers_everything():
    out = run_bench(
        "bench/memory_soak.py",
        "--minutes",
        "0.2",
        "--sample",
        "4",
        "--rate",
        "20",
        "--concurrency",
        "4",
        "--env",
        "CHAT_REPLY_TIMEOUT=30",
    )
    assert "settings {'CHAT_REPLY_TIMEOUT': '30'}" in out
    assert "others none; pending at end 0" in out
    assert out.count(" s  daphne ") >= 3 and "RSS worker:" in out and "MB/hour" in out
