"""Soak benchmark: the whole platform under steady chat traffic, with faults injected on a schedule.

    .venv/bin/python bench/soak.py --minutes 30 --fault-every 60 --rate 5

Processes are real (mosquitto, redis-server, daphne, worker, offline responder), started on free ports; the
worker reaches the broker through a fault proxy so that half-open links can be injected. Faults rotate:
broker restart, half-open link (blackhole for 20 s), LLM service down (SIGKILL, restarted 10 s later).

Printed: requests, answered (200), 503/504 by cause, lost (no reply and no clear error: must be 0),
max pending, RSS of web and worker at start and end.
"""

from __future__ import annotations

import argparse
import collections
import statistics
import sys
import tempfile
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

import requests  # noqa: E402

from tests.harness.platform import Platform  # noqa: E402
from tests.harness.procs import wait_until  # noqa: E402
from tests.harness.proxy import FaultProxy  # noqa: E402


def rss_mb(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return float("nan")


class Tally:
    def __init__(self):
        self.lock = threading.Lock()
        self.outcomes = collections.Counter()
        self.latencies: list[float] = []

    def add(self, outcome: str, latency: float) -> None:
        with self.lock:
            self.outcomes[outcome] += 1
            if outcome == "200":
                self.latencies.append(latency)


def one_request(client, session_id: int, i: int, tally: Tally) -> None:
    started = time.monotonic()
    try:
        response = client.post("/api/chatbot/messages", {"session_id": session_id, "content": f"soak {i}"}, timeout=60)
    except requests.RequestException as exc:
        tally.add(f"lost ({type(exc).__name__})", 0)
        return
    latency = time.monotonic() - started
    if response.status_code == 200:
        ok = f"soak {i}" in response.json()["assistant_message"]["content"]
        tally.add("200" if ok else "wrong reply", latency)
    elif response.status_code in (503, 504):
        body = response.json()
        tally.add(f"{response.status_code} {body.get('code', '?')}: {body.get('detail', '')[:60]}", latency)
    else:
        tally.add(f"lost (HTTP {response.status_code})", latency)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--minutes", type=float, default=3.0)
    parser.add_argument("--fault-every", type=float, default=60.0, help="seconds between faults")
    parser.add_argument("--rate", type=float, default=5.0, help="chat requests per second")
    parser.add_argument("--sessions", type=int, default=20)
    args = parser.parse_args()

    workdir = Path(tempfile.mkdtemp(prefix="soak-"))
    p = Platform(workdir, CHAT_REPLY_TIMEOUT="10", LOG_LEVEL="WARNING")
    p.start_infra()
    p.start_web()
    proxy = FaultProxy(p.broker.port)
    p.start_worker(MQTT_BROKER_PORT=str(proxy.port))
    p.start_responder()
    p.create_user("soak")
    client = p.client("soak")
    sessions = [client.new_session()["id"] for _ in range(args.sessions)]
    time.sleep(2)
    rss_start = {"web": rss_mb(p.web.pid), "worker": rss_mb(p.workers[0].pid)}

    tally, max_pending, faults = Tally(), 0, []
    stop = threading.Event()

    def watch_pending():
        nonlocal max_pending
        while not stop.is_set():
            try:
                max_pending = max(max_pending, p.pending())
            except Exception:  # noqa: BLE001 - Redis may be the fault being injected
                pass
            time.sleep(0.5)

    def inject(kind: str):
        faults.append((round(time.monotonic() - t0), kind))
        if kind == "broker restart":
            p.broker.restart()
        elif kind == "half-open":
            proxy.blackhole()
            time.sleep(20)
            proxy.restore()
        elif kind == "llm down":
            p.responder.kill()
            time.sleep(10)
            p.start_responder()

    threading.Thread(target=watch_pending, daemon=True).start()
    kinds = ["broker restart", "half-open", "llm down"]
    t0 = time.monotonic()
    end = t0 + args.minutes * 60
    next_fault = t0 + args.fault_every
    i = 0
    with ThreadPoolExecutor(max_workers=64) as pool:
        fault_pool = ThreadPoolExecutor(max_workers=1)
        while time.monotonic() < end:
            pool.submit(one_request, client, sessions[i % len(sessions)], i, tally)
            i += 1
            if time.monotonic() >= next_fault:
                fault_pool.submit(inject, kinds[len(faults) % len(kinds)])
                next_fault += args.fault_every
            time.sleep(1 / args.rate)
        fault_pool.shutdown(wait=True)
    stop.set()
    proxy.restore()
    wait_until(lambda: p.pending() == 0, 30, what="pending to drain")
    pending_end = p.pending()
    rss_end = {"web": rss_mb(p.web.pid), "worker": rss_mb(p.workers[0].pid)}
    p.stop_all()
    proxy.close()

    lost = sum(n for k, n in tally.outcomes.items() if k.startswith("lost") or k == "wrong reply")
    print(f"soak: {args.minutes} min, {args.rate} req/s, fault every {args.fault_every} s; faults: {faults}")
    print(f"requests {sum(tally.outcomes.values())}  answered {tally.outcomes['200']}  lost {lost}")
    for outcome, n in sorted(tally.outcomes.items()):
        print(f"  {outcome}: {n}")
    if tally.latencies:
        lat = sorted(tally.latencies)
        print(
            f"latency of answered: median {statistics.median(lat) * 1000:.1f} ms, "
            f"p99 {lat[int(len(lat) * 0.99) - 1] * 1000:.1f} ms"
        )
    print(f"max pending {max_pending}  pending at end {pending_end}")
    for name in ("web", "worker"):
        print(
            f"RSS {name}: {rss_start[name]:.1f} MB -> {rss_end[name]:.1f} MB "
            f"({rss_end[name] - rss_start[name]:+.1f} MB)"
        )
    return 1 if lost or pending_end else 0


if __name__ == "__main__":
    sys.exit(main())
