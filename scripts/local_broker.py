"""The broker scripts/run starts: deploy/mosquitto/mosquitto.conf as shipped (passwords, the ACL in
deploy/mosquitto/acl, no anonymous clients), with a local data directory, port and password file.

The password file holds the two users of the ACL, made (salted and hashed, by mosquitto_passwd) from the credentials
scripts/run generated into .env on first start: MQTT_USERNAME/MQTT_PASSWORD for the portal's workers and
RESPONDER_MQTT_USERNAME/RESPONDER_MQTT_PASSWORD for the LLM service. tests/integration/test_mqtt_security.py runs a
broker made by this module.
"""

from __future__ import annotations

import os
import shutil
import subprocess
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
DEPLOY = ROOT / "deploy" / "mosquitto"


def render(*, host: str, port: int, data_dir: Path, passwd: Path, acl: Path) -> str:
    """The shipped configuration with this machine's port, paths and log target."""
    text = (DEPLOY / "mosquitto.conf").read_text()
    for old, new in {
        "listener 1883 127.0.0.1": f"listener {port} {host}",
        "/etc/mosquitto/passwd": str(passwd),
        "/etc/mosquitto/acl": str(acl),
        "/var/lib/mosquitto/": f"{data_dir}/",
        "log_dest syslog": "log_dest stdout",
    }.items():
        if old not in text:
            raise RuntimeError(
                f"{old!r} is no longer in deploy/mosquitto/mosquitto.conf: update scripts/local_broker.py"
            )
        text = text.replace(old, new)
    return text


def write_passwords(path: Path, users: dict[str, str]) -> None:
    """A mosquitto password file with these users (made anew each time: the credentials in .env are the truth)."""
    if shutil.which("mosquitto_passwd") is None:
        raise RuntimeError("mosquitto_passwd is missing (Debian package mosquitto): run scripts/bootstrap.sh")
    path.unlink(missing_ok=True)
    for n, (user, password) in enumerate(users.items()):
        if not user or not password:
            raise RuntimeError(
                "the broker needs a user name and password for the portal and for the LLM service "
                "(MQTT_USERNAME/MQTT_PASSWORD, RESPONDER_MQTT_USERNAME/RESPONDER_MQTT_PASSWORD)"
            )
        subprocess.run(
            ["mosquitto_passwd", *(["-c"] if n == 0 else []), "-b", str(path), user, password],
            check=True,
            capture_output=True,
        )
    path.chmod(0o600)


def prepare(data_dir: Path, *, host: str, port: int, users: dict[str, str]) -> Path:
    """Write the password file, the ACL and the configuration into `data_dir`; return the configuration's path."""
    data_dir.mkdir(parents=True, exist_ok=True)
    passwd, acl = data_dir / "passwd", data_dir / "acl"
    write_passwords(passwd, users)
    shutil.copyfile(DEPLOY / "acl", acl)
    conf = data_dir / "mosquitto.conf"
    text = render(host=host, port=port, data_dir=data_dir, passwd=passwd, acl=acl)
    if os.geteuid() == 0:
        # Started as root, mosquitto switches to the `mosquitto` user, who may not reach these files (a private
        # temporary or home directory). scripts/run's other processes run as the same user as this broker does
        # then; in production the system's mosquitto runs under its own user (deploy/mosquitto/).
        text += "\n# scripts/run was started as root: stay the user that owns these files.\nuser root\n"
    conf.write_text(text)
    return conf


def accepts_anonymous(host: str, port: int, timeout: float = 3.0) -> bool:
    """Does the broker at host:port let a client in without a user name? (The platform must never use one.)"""
    import threading

    import paho.mqtt.client as paho
    from paho.mqtt.enums import CallbackAPIVersion

    answered, verdict = threading.Event(), {}

    def on_connect(client, userdata, flags, reason_code, properties):
        verdict["ok"] = not reason_code.is_failure
        answered.set()

    client = paho.Client(CallbackAPIVersion.VERSION2)
    client.on_connect = on_connect
    try:
        client.connect(host, port, keepalive=5)
    except OSError:
        return False
    client.loop_start()
    try:
        answered.wait(timeout)
    finally:
        client.disconnect()
        client.loop_stop()
    return verdict.get("ok", False)
