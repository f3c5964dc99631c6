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


def test_stream_latency_times_the_first_words_and_the_soak_stores_every_answer_once():
    out = run_bench(
        "bench/stream_latency.py",
        "--requests",
        "10",
        "--concurrency",
        "2",
        "--soak-streams",
        "10",
        "--soak-seconds",
        "3",
        "--rate",
        "60",
        "--words",
        "3",
    )
    assert "floor: first chunk, 2 in flight      ok 10/10 (100.0 %)" in out
    assert "WebSocket: first delta, concurrency 2 ok 10/10 (100.0 %)" in out
    assert "SSE: first delta, concurrency 2      ok 10/10 (100.0 %)" in out
    soak = next(line for line in out.splitlines() if line.startswith("soak: "))
    answered, requests = soak.split(" answered")[0].rsplit(" ", 1)[1].split("/")
    assert answered == requests and int(requests) >= 10, soak
    stored = next(line for line in out.splitlines() if "answers stored" in line)
    assert f"pending afterwards: 0; answers stored {requests}, distinct requests {requests}" in stored
