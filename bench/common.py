"""What the benchmarks share: the platform they run against, bulk users, percentiles and the machine line.

Load is generated with asyncio (aiohttp for HTTP, websockets' asyncio client for sockets) in one thread, on
uvloop (`run_load`): with a thread per simulated user, or on the standard loop, the client itself would take more
of the two cores the platform is being measured on.
"""

from __future__ import annotations

import asyncio
import json
import os
import platform as host_platform
import statistics
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

import uvloop  # noqa: E402

from tests.harness.platform import Platform  # noqa: E402

SESSIONS_PER_USER = 20  # chat sessions each benchmark user owns (users own several, as real ones do)


class Target:
    """One chat session and the credentials of its owner."""

    def __init__(self, client, session_id: int, base_url: str):
        self.session_id = session_id
        self.base_url = base_url  # the daphne process this user's requests go to
        self.ws_url = f"{base_url.replace('http://', 'ws://')}/ws/chat/{session_id}/"
        self.cookie = client.cookie_header
        self.headers = {
            "Cookie": client.cookie_header,
            "X-CSRFToken": client.http.cookies.get("csrftoken", ""),
            "Content-Type": "application/json",
        }


async def ws_chat_turn(ws, marker: str, timeout: float) -> str:
    """Send one chat.message on a chat socket and wait for its own reply: "ok", "wrong reply" (a reply that does
    not quote it), the error's code, or "client timeout"."""
    await ws.send(json.dumps({"type": "chat.message", "content": marker}))
    request_id = None
    try:
        async with asyncio.timeout(timeout):
            while True:
                event = json.loads(await ws.recv())
                if event["type"] == "chat.accepted" and event["user_message"]["content"] == marker:
                    request_id = event["request_id"]
                elif event["type"] == "chat.reply" and event.get("request_id") == request_id:
                    return "ok" if marker in event["assistant_message"]["content"] else "wrong reply"
                elif event["type"] == "chat.error":
                    return event.get("code", "error")
    except TimeoutError:
        return "client timeout"


def run_load(main):
    """Run the load generator's coroutine (uvloop: less of the cores the platform is measured on)."""
    return uvloop.run(main)


def machine_line(extra: str) -> str:
    cpu = "unknown CPU"
    try:
        cpu = next(line.split(":", 1)[1].strip() for line in open("/proc/cpuinfo") if line.startswith("model name"))
    except (OSError, StopIteration):
        pass
    return (
        f"machine: {host_platform.machine()} {cpu}, {os.cpu_count()} cores, "
        f"Python {host_platform.python_version()}, mosquitto {mosquitto_version()}; {extra}"
    )


def mosquitto_version() -> str:
    try:
        out = subprocess.run(["mosquitto", "-h"], capture_output=True, text=True, timeout=5).stdout
        return out.split("version", 1)[1].split()[0]
    except Exception:  # noqa: BLE001 - only for the report
        return "?"


def pct(values, p: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, max(0, int(round(p / 100 * len(ordered))) - 1))]


@dataclass
class Run:
    """One measured run: latencies (ms) of the successes, and every outcome by status."""

    name: str
    total: int = 0
    elapsed: float = 0.0
    latencies_ms: list[float] = field(default_factory=list)
    outcomes: dict = field(default_factory=dict)

    def count(self, outcome) -> None:
        self.outcomes[outcome] = self.outcomes.get(outcome, 0) + 1

    @property
    def ok(self) -> int:
        return len(self.latencies_ms)

    @property
    def p50(self) -> float:
        return statistics.median(self.latencies_ms) if self.latencies_ms else float("nan")

    def line(self, floor_p50: float | None = None) -> str:
        if not self.latencies_ms:
            return f"{self.name:<36} no successes; outcomes {self.outcomes}"
        ms = self.latencies_ms
        text = (
            f"{self.name:<36} ok {self.ok}/{self.total} ({100 * self.ok / self.total:5.1f} %)  "
            f"{self.total / self.elapsed:7.1f} req/s  p50 {self.p50:8.2f}  p95 {pct(ms, 95):8.2f}  "
            f"p99 {pct(ms, 99):8.2f} ms"
        )
        if floor_p50 is not None:
            text += f"  over floor {self.p50 - floor_p50:+8.2f} ms"
        others = {k: v for k, v in self.outcomes.items() if k != "ok"}
        if others:
            text += f"  other outcomes {others}"
        return text


def start_platform(prefix: str, **env: str) -> Platform:
    p = Platform(
        Path(tempfile.mkdtemp(prefix=prefix)), **{"LOG_LEVEL": "WARNING", "WORKER_HEARTBEAT_INTERVAL": "2", **env}
    )
    p.start_all()
    return p


def create_users(p: Platform, names: list[str], password: str = "correct-horse-battery-9") -> None:
    """All users in one management-command process (one process per user would take a second each)."""
    code = (
        "from django.contrib.auth import get_user_model\n"
        "from django.contrib.auth.hashers import make_password\n"
        "U = get_user_model()\n"
        f"hashed = make_password({password!r})\n"
        f"U.objects.bulk_create([U(username=n, password=hashed) for n in {json.dumps(names)}])\n"
    )
    result = p.manage("shell", "-c", code)
    assert result.returncode == 0, result.stderr


def make_targets(p: Platform, sessions: int) -> tuple[list[str], list[Target]]:
    """Users enough for `sessions` chat sessions (SESSIONS_PER_USER each), their sessions spread over the running
    daphne processes in turn (as behind nginx): (user names, targets)."""
    web_urls = [f"http://127.0.0.1:{port}" for port in p.web_ports[: len(p.webs)]]
    users = [f"bench{u}" for u in range(max(1, -(-sessions // SESSIONS_PER_USER)))]
    create_users(p, users)
    targets: list[Target] = []
    for name in users:
        client = p.client(name)
        targets += [
            Target(client, client.new_session()["id"], web_urls[(len(targets) + i) % len(web_urls)])
            for i in range(SESSIONS_PER_USER)
        ]
    return users, targets


def rss_mb(pid: int) -> float:
    with open(f"/proc/{pid}/status") as status:
        for line in status:
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024
    return float("nan")


def cpu_seconds(pid: int) -> float:
    """User + system CPU time of one process so far (from /proc; the benchmarks run on Linux)."""
    with open(f"/proc/{pid}/stat") as stat:
        fields = stat.read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


class CpuMeter:
    """CPU spent per request by each process of a run: where the two cores go, which no latency figure says."""

    def __init__(self, pids: dict[str, int]):
        self.pids = pids
        self.before = self._read()

    def _read(self) -> dict[str, float]:
        readings = {name: cpu_seconds(pid) for name, pid in self.pids.items()}
        readings["load generator"] = time.process_time()
        return readings

    def line(self, requests: int) -> str:
        after = self._read()
        parts = [f"{name} {1000 * (after[name] - self.before[name]) / requests:.2f}" for name in after]
        return f"{'':<36} CPU ms per request: " + ", ".join(parts)


def platform_pids(p: Platform) -> dict[str, int]:
    pids = {f"daphne {n}" if len(p.webs) > 1 else "daphne": w.pid for n, w in enumerate(p.webs, 1)}
    pids.update({f"worker {n}": w.pid for n, w in enumerate(p.workers, 1)})
    pids.update({"responder": p.responder.pid, "redis": p.redis.proc.pid, "mosquitto": p.broker.proc.pid})
    return pids
