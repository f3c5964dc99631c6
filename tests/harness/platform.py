"""The whole platform as real processes: broker, Redis, migrated database, daphne, worker, responder."""

from __future__ import annotations

import atexit
import json
import os
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

import requests

from .postgres import PostgresServer
from .procs import Mosquitto, Proc, RedisServer, free_port, port_open, wait_until

ROOT = Path(__file__).resolve().parents[2]
PYTHON = sys.executable
_migrated_sqlite: Path | None = None  # this test process's migrated SQLite database, copied for each platform


class Platform:
    def __init__(self, workdir: Path, *, broker: Mosquitto | None = None, **env_overrides: str):
        self.workdir = workdir
        self.broker = broker or Mosquitto(workdir)
        self.redis = RedisServer(workdir)
        self.web_port = free_port()
        self.db_path = workdir / "db.sqlite3"
        # TEST_DATABASE=postgres runs the platform on a PostgreSQL server of its own instead of a SQLite file.
        self.postgres = PostgresServer() if os.environ.get("TEST_DATABASE") == "postgres" else None
        self.env_overrides = env_overrides
        self.webs: list[Proc] = []
        self.web_ports: list[int] = [self.web_port]
        self.workers: list[Proc] = []
        self.responder: Proc | None = None

    # -- environment ---------------------------------------------------------------------------------
    def env(self, **extra: str) -> dict[str, str]:
        env = {k: v for k, v in os.environ.items() if not k.startswith(("MQTT_", "DJANGO_", "CHAT_", "WORKER_"))}
        env.update(
            {
                "DEBUG": "false",
                "SECRET_KEY": "integration-tests-secret-key-not-for-production",
                "ALLOWED_HOSTS": "127.0.0.1,localhost",
                "DATABASE_URL": self.postgres.url if self.postgres else f"sqlite:///{self.db_path}",
                "REDIS_URL": self.redis.url,
                "MQTT_BROKER_HOST": "127.0.0.1",
                "MQTT_BROKER_PORT": str(self.broker.port),
                "MQTT_KEEPALIVE": "5",
                "MQTT_RECONNECT_INTERVAL": "0.1",
                "MQTT_RECONNECT_MAX_DELAY": "1",
                "MQTT_PROBE_INTERVAL": "1",
                "MQTT_PROBE_TIMEOUT": "2",
                "WORKER_HEARTBEAT_INTERVAL": "0.5",
                "CHAT_REPLY_TIMEOUT": "5",
                "RESPONDER_STATUS_INTERVAL": "2",
                # The responder answers at once, unstreamed (as the deployed service does); the portal still asks
                # for streams. tests/integration/test_streaming.py and the streaming benchmark turn streaming on.
                "RESPONDER_STREAM_RATE": "0",
                # Tests and benchmarks send far faster than a person; the rate-limit test turns limits back on.
                "CHAT_RATE_LIMIT": "0",
                "HINT_RATE_LIMIT": "0",
                "WS_MAX_SOCKETS_PER_USER": "0",
                "LOG_LEVEL": "INFO",
                "PYTHONUNBUFFERED": "1",
                "EMAIL_URL": f"filemail:///{self.workdir / 'mail'}",
            }
        )
        env.update(self.env_overrides)
        env.update(extra)
        return env

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self.web_port}"

    # -- processes -----------------------------------------------------------------------------------
    def manage(self, *args: str, **extra_env: str) -> subprocess.CompletedProcess:
        return subprocess.run(
            [PYTHON, "manage.py", *args],
            cwd=ROOT,
            env=self.env(**extra_env),
            capture_output=True,
            text=True,
            timeout=120,
            check=True,
        )

    def start_infra(self) -> Platform:
        self.broker.start()
        self.redis.start()
        if self.postgres:
            self.postgres.start()
            self.manage("migrate", "--noinput")
        else:
            self._copy_migrated_sqlite()
        return self

    def _copy_migrated_sqlite(self) -> None:
        """A copy of a database this test process migrated once: running every migration for each platform cost
        seconds of CPU apiece, the same result every time."""
        global _migrated_sqlite
        if _migrated_sqlite is None:
            template = Path(tempfile.mkdtemp(prefix="portal-migrated-")) / "db.sqlite3"
            self.manage("migrate", "--noinput", DATABASE_URL=f"sqlite:///{template}")
            atexit.register(shutil.rmtree, template.parent, ignore_errors=True)
            _migrated_sqlite = template
        for suffix in ("", "-wal"):  # the log is folded in when migrate closes; copied should it remain
            source = Path(f"{_migrated_sqlite}{suffix}")
            if source.exists():
                shutil.copyfile(source, f"{self.db_path}{suffix}")

    @property
    def web(self) -> Proc | None:
        return self.webs[0] if self.webs else None

    def start_web(self) -> Proc:
        """Start a daphne process; the first serves base_url, further ones get ports of their own."""
        if len(self.webs) >= len(self.web_ports):
            self.web_ports.append(free_port())
        port = self.web_ports[len(self.webs)]
        endpoint = f"tcp:port={port}:interface=127.0.0.1:backlog=2048"  # as deployed (deploy/systemd)
        web = Proc(
            f"daphne{len(self.webs) + 1}",
            [PYTHON, "-m", "portal.serve_web", "-e", endpoint, "portal.asgi:application"],
            env=self.env(),
            cwd=ROOT,
            log_dir=self.workdir,
        ).start()
        self.webs.append(web)
        wait_until(lambda: port_open(port) or not web.alive, 30, what="daphne")
        assert web.alive, web.log()
        return web

    def start_worker(self, *args: str, wait_connected: bool = True, **extra_env: str) -> Proc:
        name = f"worker{len(self.workers) + 1}"
        worker = Proc(
            name,
            [PYTHON, "manage.py", "run_mqtt_worker", *args],
            env=self.env(**extra_env),
            cwd=ROOT,
            log_dir=self.workdir,
        ).start()
        self.workers.append(worker)
        if wait_connected:
            wait_until(lambda: self.worker_connected(worker.pid) or not worker.alive, 20, what="worker to connect")
            assert worker.alive, worker.log()
        return worker

    def start_responder(self, **extra_env: str) -> Proc:
        self.responder = Proc(
            "responder", [PYTHON, "-m", "responder"], env=self.env(**extra_env), cwd=ROOT, log_dir=self.workdir
        ).start()
        wait_until(lambda: self.llm_online() or not self.responder.alive, 20, what="responder to announce itself")
        assert self.responder.alive, self.responder.log()
        return self.responder

    def start_all(self) -> Platform:
        self.start_infra()
        self.start_web()
        self.start_worker()
        self.start_responder()
        return self

    def stop_all(self) -> None:
        for proc in [*self.webs, *self.workers, self.responder]:
            if proc is not None:
                proc.stop()
        self.broker.stop()
        self.redis.stop()
        if self.postgres:
            self.postgres.stop()

    def logs(self) -> str:
        parts = []
        for proc in [*self.webs, *self.workers, self.responder]:
            if proc is not None:
                parts.append(f"===== {proc.name} =====\n{proc.log()[-6000:]}")
        return "\n".join(parts)

    # -- observations --------------------------------------------------------------------------------
    def health(self) -> dict:
        return requests.get(self.base_url + "/api/health/", timeout=5).json()

    def health_connected(self) -> bool:
        try:
            return self.health()["mqtt"]["connected"]
        except (requests.RequestException, ValueError, KeyError):
            return False

    def worker_states(self) -> list[dict]:
        import redis

        r = redis.Redis.from_url(self.redis.url)
        try:
            ids = sorted(m.decode() for m in r.smembers("portal:workers"))
            values = [r.get(f"portal:worker:{i}") for i in ids]
            return [json.loads(v) for v in values if v]
        finally:
            r.close()

    def worker_connected(self, pid: int) -> bool:
        """This very process (not a stale record of one before it) is connected to the broker."""
        return any(s["pid"] == pid and s["connected"] for s in self.worker_states())

    def llm_online(self) -> bool:
        return any(s.get("llm", {}).get("online") for s in self.worker_states())

    def pending(self) -> int:
        return sum(s.get("pending", 0) for s in self.worker_states())

    # -- users ---------------------------------------------------------------------------------------
    def create_user(self, username: str, password: str = "correct-horse-battery-9", staff: bool = False) -> None:
        self.create_users(username, password=password, staff=staff)

    def create_users(self, *usernames: str, password: str = "correct-horse-battery-9", staff: bool = False) -> None:
        """Users with one password, in one process (each `manage.py` start costs a Django setup)."""
        code = "from django.contrib.auth import get_user_model; U = get_user_model()\n" + "".join(
            f"u = U.objects.create_user({name!r}, password={password!r}); "
            f"u.is_staff = u.is_superuser = {staff!r}; u.save()\n"
            for name in usernames
        )
        self.manage("shell", "-c", code)

    def client(self, username: str, password: str = "correct-horse-battery-9") -> ApiClient:
        return ApiClient(self.base_url).login(username, password)


class ApiClient:
    """A logged-in browser-like HTTP session: cookies plus the CSRF header on unsafe methods."""

    def __init__(self, base_url: str):
        self.base_url = base_url
        self.http = requests.Session()

    def login(self, username: str, password: str) -> ApiClient:
        self.http.get(self.base_url + "/accounts/login/", timeout=10)
        response = self.http.post(
            self.base_url + "/accounts/login/",
            data={"username": username, "password": password, "csrfmiddlewaretoken": self.http.cookies["csrftoken"]},
            timeout=10,
            allow_redirects=False,
        )
        assert response.status_code == 302, f"login failed: {response.status_code}"
        return self

    @property
    def cookie_header(self) -> str:
        return "; ".join(f"{k}={v}" for k, v in self.http.cookies.items())

    def request(self, method: str, path: str, json_body=None, timeout: float = 30, **kwargs) -> requests.Response:
        headers = kwargs.pop("headers", {})
        if method not in ("GET", "HEAD"):
            headers["X-CSRFToken"] = self.http.cookies.get("csrftoken", "")
        return self.http.request(
            method, self.base_url + path, json=json_body, headers=headers, timeout=timeout, **kwargs
        )

    def get(self, path: str, **kw) -> requests.Response:
        return self.request("GET", path, **kw)

    def post(self, path: str, json_body=None, **kw) -> requests.Response:
        return self.request("POST", path, json_body, **kw)

    def new_session(self, preset: str = "general") -> dict:
        response = self.post("/api/chatbot/sessions", {"preset": preset})
        assert response.status_code == 201, response.text
        return response.json()

    def ws_url(self, path: str) -> str:
        return self.base_url.replace("http://", "ws://") + path
