"""Deployment defaults: DEBUG off unless set, SECRET_KEY required then, and `check --deploy` clean with the
production settings the README documents (deploy/production.env)."""

import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def manage(*args, **env_vars):
    # A clean environment: only what the test gives, plus what Python needs to start.
    # ENV_FILE="" keeps a developer's .env out of it.
    env = {"PATH": os.environ["PATH"], "HOME": os.environ.get("HOME", "/tmp"), "ENV_FILE": "", **env_vars}
    return subprocess.run(
        [sys.executable, "manage.py", *args], cwd=ROOT, env=env, capture_output=True, text=True, timeout=60
    )


def production_env() -> dict:
    values = {}
    for line in (ROOT / "deploy/production.env").read_text().splitlines():
        if line.strip() and not line.lstrip().startswith("#"):
            name, _, value = line.partition("=")
            values[name.strip()] = value.strip()
    return values


def test_check_deploy_is_clean_with_the_documented_production_settings(tmp_path):
    env = {
        **production_env(),
        "SECRET_KEY": "x" * 20 + "-a-long-random-production-key-" + "y" * 20,
        # The check needs no database server; settings are what is checked.
        "DATABASE_URL": f"sqlite:///{tmp_path / 'db.sqlite3'}",
    }
    result = manage("check", "--deploy", "--fail-level", "WARNING", **env)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "no issues" in result.stdout


def test_debug_is_off_and_a_secret_key_is_required_by_default():
    result = manage("check")
    assert result.returncode != 0
    assert "SECRET_KEY must be set when DEBUG is off" in result.stderr


def test_development_settings_are_flagged_by_check_deploy():
    result = manage("check", "--deploy", "--fail-level", "WARNING", DEBUG="true")
    assert result.returncode != 0 and "security.W018" in result.stderr + result.stdout


def test_django_flags_weak_security_settings(tmp_path):
    # Django's own security middleware and checks: no HSTS and no HTTPS redirect are flagged.
    env = {
        **production_env(),
        "SECRET_KEY": "x" * 20 + "-a-long-random-production-key-" + "y" * 20,
        "DATABASE_URL": f"sqlite:///{tmp_path / 'db.sqlite3'}",
        "SECURE_HSTS_SECONDS": "0",
        "SECURE_SSL_REDIRECT": "false",
    }
    result = manage("check", "--deploy", "--fail-level", "WARNING", **env)
    output = result.stdout + result.stderr
    assert result.returncode != 0
    assert "security.W004" in output and "security.W008" in output, output
    assert "security.W001" not in output and "security.W002" not in output


def test_check_deploy_warns_about_an_anonymous_broker_and_one_reached_without_tls(tmp_path):
    env = {
        **production_env(),
        "SECRET_KEY": "x" * 20 + "-a-long-random-production-key-" + "y" * 20,
        "DATABASE_URL": f"sqlite:///{tmp_path / 'db.sqlite3'}",
        "MQTT_USERNAME": "",
        "MQTT_TLS": "false",
    }
    result = manage("check", "--deploy", "--fail-level", "WARNING", **env)
    assert result.returncode != 0
    assert "portal.W010" in result.stderr + result.stdout and "portal.W011" in result.stderr + result.stdout
