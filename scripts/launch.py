"""Start every process of the platform under honcho and stop them all together (used by scripts/run).

A broker or Redis that already answers at the configured address is used as it is; otherwise this starts
one. The processes are the same commands a Procfile or systemd would run (see deploy/).
"""
import os
import socket
import sys
from pathlib import Path
from urllib.parse import urlparse

from honcho.manager import Manager
from honcho.printer import Printer

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "portal.settings")


def answers(host: str, port: int) -> bool:
    try:
        with socket.create_connection((host, port), timeout=0.5):
            return True
    except OSError:
        return False


def main() -> int:
    import django

    django.setup()
    from django.conf import settings

    python = sys.executable
    web_host = os.environ.get("WEB_HOST", "127.0.0.1")
    web_port = os.environ.get("WEB_PORT", "8000")
    manager = Manager(Printer(sys.stdout))
    env = dict(os.environ, PYTHONUNBUFFERED="1")

    mqtt_host, mqtt_port = settings.MQTT["BROKER_HOST"], settings.MQTT["BROKER_PORT"]
    if not answers(mqtt_host, mqtt_port):
        data = ROOT / "var" / "mosquitto"
        data.mkdir(parents=True, exist_ok=True)
        conf = data / "mosquitto.conf"
        conf.write_text(
            (ROOT / "deploy" / "mosquitto" / "mosquitto.conf").read_text()
            .replace("listener 1883", f"listener {mqtt_port} {mqtt_host}")
            .replace("/var/lib/mosquitto/", f"{data}/")
            .replace("log_dest syslog", "log_dest stdout")
        )
        manager.add_process("mosquitto", f"mosquitto -c {conf}", env=env)
    else:
        print(f"Using the MQTT broker already answering at {mqtt_host}:{mqtt_port}")

    redis = urlparse(settings.REDIS_URL)
    redis_host, redis_port = redis.hostname or "127.0.0.1", redis.port or 6379
    if not answers(redis_host, redis_port):
        manager.add_process(
            "redis", f"redis-server --bind {redis_host} --port {redis_port} --save '' --appendonly no", env=env
        )
    else:
        print(f"Using the Redis already answering at {redis_host}:{redis_port}")

    # An explicit endpoint for its listen backlog (see deploy/systemd/prompt-portal-web@.service); colons escaped.
    endpoint = f"tcp:port={web_port}:interface={web_host.replace(':', chr(92) + ':')}:backlog=2048"
    manager.add_process("web", f"{python} -m portal.serve_web -e '{endpoint}' portal.asgi:application",
                        env=env, cwd=str(ROOT))
    manager.add_process("worker", f"{python} manage.py run_mqtt_worker", env=env, cwd=str(ROOT))
    manager.add_process("responder", f"{python} -m responder", env=env, cwd=str(ROOT))
    print(f"Prompt Portal: http://{web_host}:{web_port}/  (Ctrl-C stops everything)")
    manager.loop()
    return manager.returncode or 0


if __name__ == "__main__":
    sys.exit(main())
