"""Start every process of the platform under honcho and stop them all together (used by scripts/run).

A Redis that already answers at the configured address is used as it is, and so is a broker that refuses anonymous
clients; otherwise this starts one (the broker with passwords and the ACL: scripts/local_broker.py). The
processes are the same commands a Procfile or systemd would run (see deploy/).
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
sys.path.insert(0, str(ROOT / "scripts"))
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "portal.settings")

import local_broker  # noqa: E402 (scripts/, on the path above)


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
    if not answers(mqtt_host, mqtt_port) and mqtt_host in ("127.0.0.1", "localhost", "::1"):
        data = Path(os.environ.get("RUN_DATA_DIR") or ROOT / "var")
        conf = local_broker.prepare(
            data / "mosquitto",
            host=mqtt_host,
            port=mqtt_port,
            users={
                settings.MQTT["USERNAME"]: settings.MQTT["PASSWORD"],
                os.environ.get("RESPONDER_MQTT_USERNAME", ""): os.environ.get("RESPONDER_MQTT_PASSWORD", ""),
            },
        )
        manager.add_process("mosquitto", f"mosquitto -c {conf}", env=env)
    elif not answers(mqtt_host, mqtt_port):
        print(f"Waiting for the MQTT broker at {mqtt_host}:{mqtt_port} (the worker keeps trying)")
    elif local_broker.accepts_anonymous(mqtt_host, mqtt_port):
        # Whoever reaches an anonymous broker reads every chat and can forge answers: never run on one.
        print(
            f"An MQTT broker that lets anyone in answers at {mqtt_host}:{mqtt_port} (a system mosquitto?). "
            "Prompt Portal starts its own broker, with passwords: set MQTT_BROKER_PORT in .env to a free port "
            "(scripts/run writes 1884 on first start), or give that broker passwords and the ACL in "
            "deploy/mosquitto/.",
            file=sys.stderr,
        )
        return 2
    else:
        print(f"Using the MQTT broker already answering at {mqtt_host}:{mqtt_port} (it refuses anonymous clients)")

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
    manager.add_process(
        "web", f"{python} -m portal.serve_web -e '{endpoint}' portal.asgi:application", env=env, cwd=str(ROOT)
    )
    manager.add_process("worker", f"{python} manage.py run_mqtt_worker", env=env, cwd=str(ROOT))
    manager.add_process("responder", f"{python} -m responder", env=env, cwd=str(ROOT))
    print(f"Prompt Portal: http://{web_host}:{web_port}/  (Ctrl-C stops everything)")
    manager.loop()
    return manager.returncode or 0


if __name__ == "__main__":
    sys.exit(main())
