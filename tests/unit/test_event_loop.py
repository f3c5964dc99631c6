"""portal/event_loop.py and portal/serve_web.py: daphne and the worker run on the loop EVENT_LOOP names."""

import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]


def run_python(code: str, **env: str) -> subprocess.CompletedProcess:
    full_env = {
        **os.environ,
        "SECRET_KEY": "x" * 50,
        "DEBUG": "false",
        "ENV_FILE": "",
        "DJANGO_SETTINGS_MODULE": "portal.settings",
        **env,
    }
    return subprocess.run(
        [sys.executable, "-c", code], cwd=ROOT, env=full_env, capture_output=True, text=True, timeout=60
    )


DAPHNES_LOOP = (
    "from portal import event_loop; event_loop.use_configured_policy(); import daphne.server; "
    "print(type(daphne.server.twisted_loop).__module__)"
)
WORKERS_LOOP = (
    "import asyncio; from portal import event_loop\n"
    "async def main(): return type(asyncio.get_running_loop()).__module__\n"
    "print(event_loop.run(main()))"
)


@pytest.mark.parametrize("code", [DAPHNES_LOOP, WORKERS_LOOP], ids=["daphne", "worker"])
@pytest.mark.parametrize(("setting", "module"), [("uvloop", "uvloop"), ("asyncio", "asyncio.unix_events")])
def test_the_configured_loop_is_the_one_that_runs(code, setting, module):
    out = run_python(code, EVENT_LOOP=setting)
    assert out.returncode == 0, out.stderr
    assert out.stdout.strip() == module


def test_uvloop_is_the_default():
    env = {k: v for k, v in os.environ.items() if k != "EVENT_LOOP"}
    out = subprocess.run(
        [sys.executable, "-c", DAPHNES_LOOP],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=60,
        env={
            **env,
            "SECRET_KEY": "x" * 50,
            "DEBUG": "false",
            "ENV_FILE": "",
            "DJANGO_SETTINGS_MODULE": "portal.settings",
        },
    )
    assert out.returncode == 0, out.stderr
    assert out.stdout.strip() == "uvloop"


def test_an_unknown_loop_is_refused_at_startup():
    out = run_python("from django.conf import settings; settings.EVENT_LOOP", EVENT_LOOP="tokio")
    assert out.returncode != 0
    assert "EVENT_LOOP must be uvloop or asyncio, not 'tokio'" in out.stderr
