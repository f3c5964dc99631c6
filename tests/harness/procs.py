"""Real processes for integration tests: mosquitto, redis-server, and any command, each on its own free port."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import time
from pathlib import Path


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def port_open(port: int, host: str = "127.0.0.1") -> bool:
    try:
        with socket.create_connection((host, port), timeout=0.2):
            return True
    except OSError:
        return False


def wait_until(predicate, timeout: float, interval: float = 0.05, what: str = "condition"):
    deadline = time.monotonic() + timeout
    while True:
        value = predicate()
        if value:
            return value
        if time.monotonic() > deadline:
            raise TimeoutError(f"timed out after {timeout} s waiting for {what}")
        time.sleep(interval)


class Proc:
    """A subprocess with its output in a log file; stopped with SIGTERM, then SIGKILL."""

    def __init__(self, name: str, argv: list[str], *, env: dict | None = None, cwd: Path | None = None, log_dir: Path):
        self.name, self.argv, self.env, self.cwd = name, argv, env, cwd
        self.log_path = log_dir / f"{name}.log"
        self.popen: subprocess.Popen | None = None

    def start(self) -> Proc:
        log = open(self.log_path, "ab")
        self.popen = subprocess.Popen(
            self.argv,
            env=self.env,
            cwd=self.cwd,
            stdout=log,
            stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL,
            start_new_session=True,
        )
        log.close()
        return self

    @property
    def alive(self) -> bool:
        return self.popen is not None and self.popen.poll() is None

    @property
    def pid(self) -> int:
        return self.popen.pid

    def signal(self, sig: int) -> None:
        if self.alive:
            self.popen.send_signal(sig)

    def stop(self, timeout: float = 5.0) -> int | None:
        if self.popen is None:
            return None
        if self.alive:
            self.popen.send_signal(signal.SIGTERM)
            try:
                self.popen.wait(timeout)
            except subprocess.TimeoutExpired:
                self.kill()
        return self.popen.returncode

    def kill(self) -> None:
        if self.alive:
            os.killpg(self.popen.pid, signal.SIGKILL)
            self.popen.wait(5)

    def log(self) -> str:
        try:
            return self.log_path.read_text(errors="replace")
        except FileNotFoundError:
            return ""


class Mosquitto:
    """A broker of the test's own; persistence on so that restarts keep sessions as in production.

    `config` replaces the default configuration (e.g. a file from deploy/mosquitto, so tests run what ships);
    `{port}` and `{dir}` in it become this broker's plain port (the one start() waits for) and its directory.
    """

    def __init__(self, workdir: Path, port: int | None = None, *, config: str | None = None):
        self.port = port or free_port()
        self.dir = workdir / f"mosquitto-{self.port}"
        self.dir.mkdir(parents=True, exist_ok=True)
        self.conf = self.dir / "mosquitto.conf"
        if config is None:
            config = (
                "listener {port} 127.0.0.1\n"
                "allow_anonymous true\n"
                "persistence true\n"
                "persistence_location {dir}/\n"
                "autosave_interval 1\n"
                "set_tcp_nodelay true\n"
                "max_queued_messages 10000\n"
            )
        elif os.geteuid() == 0:
            # As root, mosquitto drops to the `mosquitto` user, which cannot read the test's private temp dir
            # (password file, keys). ("user root" is the documented way to keep root.)
            config += "\nuser root\n"
        self.conf.write_text(config.replace("{port}", str(self.port)).replace("{dir}", str(self.dir)))
        self.proc: Proc | None = None

    def start(self) -> Mosquitto:
        self.proc = Proc("mosquitto", ["mosquitto", "-c", str(self.conf)], log_dir=self.dir).start()
        wait_until(lambda: port_open(self.port) or not self.proc.alive, 10, what=f"mosquitto on {self.port}")
        assert self.proc.alive, self.proc.log()  # e.g. a configuration error: say so at once
        return self

    def stop(self) -> None:
        if self.proc:
            self.proc.stop()
            wait_until(lambda: not port_open(self.port), 10, what="mosquitto to stop")

    def restart(self) -> None:
        self.stop()
        self.start()


class RedisServer:
    def __init__(self, workdir: Path, port: int | None = None):
        self.port = port or free_port()
        self.dir = workdir / f"redis-{self.port}"
        self.dir.mkdir(parents=True, exist_ok=True)
        self.proc: Proc | None = None

    @property
    def url(self) -> str:
        return f"redis://127.0.0.1:{self.port}/0"

    def start(self) -> RedisServer:
        argv = [
            "redis-server",
            "--port",
            str(self.port),
            "--bind",
            "127.0.0.1",
            "--save",
            "",
            "--appendonly",
            "no",
            "--dir",
            str(self.dir),
        ]
        self.proc = Proc("redis", argv, log_dir=self.dir).start()
        wait_until(lambda: port_open(self.port), 10, what=f"redis on {self.port}")
        return self

    def stop(self) -> None:
        if self.proc:
            self.proc.stop()
            wait_until(lambda: not port_open(self.port), 10, what="redis to stop")

    def restart(self) -> None:
        self.stop()
        self.start()
