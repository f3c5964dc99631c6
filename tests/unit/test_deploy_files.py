"""The deployment files stay consistent with the code and with each other (no Docker engine runs here)."""

import re
from pathlib import Path

from django.conf import settings

ROOT = Path(__file__).resolve().parents[2]
NGINX_CONFS = [ROOT / "deploy/nginx/prompt-portal.conf", ROOT / "deploy/docker/nginx.conf"]


def test_docker_broker_config_is_the_production_one_with_image_paths():
    production = (ROOT / "deploy/mosquitto/mosquitto.conf").read_text()
    docker = (ROOT / "deploy/docker/mosquitto.conf").read_text()
    body = "\n".join(line for line in docker.splitlines()[3:]) + "\n"
    for old, new in {
        "/var/lib/mosquitto/": "/mosquitto/data/",
        "log_dest syslog": "log_dest stdout",
        "listener 1883 127.0.0.1": "listener 1883",
        "/etc/mosquitto/passwd": "/mosquitto/data/passwd",
        "/etc/mosquitto/acl": "/mosquitto/config/acl",
    }.items():
        assert old in production
        production = production.replace(old, new)
    assert body == production
    assert "allow_anonymous false" in body and "password_file" in body and "acl_file" in body


def _location(conf: str, path: str) -> str:
    return re.search(r"location " + re.escape(path) + r" \{(.*?)\n    \}", conf, re.S).group(1)


def test_proxies_wait_longer_than_the_platform_so_its_own_504_arrives_first():
    for conf_path in NGINX_CONFS:
        api = _location(conf_path.read_text(), "/")
        read_timeout = int(re.search(r"proxy_read_timeout (\d+)s;", api).group(1))
        assert read_timeout > settings.CHAT_REPLY_TIMEOUT + 5, conf_path
        ws = _location(conf_path.read_text(), "/ws/")
        assert "proxy_set_header Upgrade $http_upgrade;" in ws, conf_path
        # A client-supplied X-Forwarded-For must never reach daphne (login throttling counts per address).
        assert "$proxy_add_x_forwarded_for" not in conf_path.read_text()


def test_compose_file_runs_every_part_of_the_platform():
    compose = (ROOT / "docker-compose.yml").read_text()
    services = set(
        re.findall(r"^  ([a-z][a-z0-9_-]*):\n", compose.split("\nservices:\n")[1].split("\nvolumes:")[0], re.M)
    )
    assert {"web", "worker", "responder", "mosquitto", "redis", "postgres", "nginx", "migrate"} <= services
    assert "run_mqtt_worker" in compose and 'python", "-m", "responder' in compose
    assert "deploy/docker/mosquitto.conf" in compose and "mosquitto-data:/mosquitto/data" in compose
    # The broker has passwords and the ACL; the portal and the LLM service each have their own user.
    assert "./deploy/mosquitto/acl:/mosquitto/config/acl" in compose and "mosquitto_passwd" in compose
    assert "MQTT_USERNAME: prompt_portal" in compose and "RESPONDER_MQTT_USERNAME: llm_service" in compose
    assert "\t" not in compose  # YAML forbids tabs for indentation


def test_systemd_units_start_the_three_processes():
    units = {p.name: p.read_text() for p in (ROOT / "deploy/systemd").glob("*.service")}
    commands = " ".join(re.findall(r"^ExecStart=(.*)$", "\n".join(units.values()), re.M))
    assert (
        "portal.serve_web --proxy-headers" in commands and "run_mqtt_worker" in commands and "-m responder" in commands
    )
    assert all("Restart=" in text for text in units.values())


def test_every_way_of_starting_daphne_sets_a_listen_backlog_for_bursts():
    """Twisted's default backlog of 50 drops SYNs in a burst of new users (tests/integration/test_connection_burst.py
    shows it on the harness, which starts daphne the same way)."""
    systemd = (ROOT / "deploy/systemd/prompt-portal-web@.service").read_text()
    starts = {
        "systemd": re.search(r"^ExecStart=(.*)$", systemd, re.M).group(1),
        "Dockerfile": re.search(r"^CMD (.*)$", (ROOT / "Dockerfile").read_text(), re.M).group(1),
        "scripts/run": (ROOT / "scripts/launch.py").read_text(),
        "test harness": (ROOT / "tests/harness/platform.py").read_text(),
    }
    for where, text in starts.items():
        assert "portal.serve_web" in text and "backlog=2048" in text, where
