"""What `scripts/run` starts (scripts/launch.py, after scripts/run wrote the credentials into .env): its own broker
with passwords and the ACL, Redis, the worker, the responder and daphne; a user chats; anonymous MQTT is refused;
Ctrl-C stops everything."""

import signal
import subprocess
import sys

import requests

from tests.harness.platform import ROOT, ApiClient
from tests.harness.procs import free_port, port_open, wait_until

sys.path.insert(0, str(ROOT / "scripts"))
import local_broker  # noqa: E402


def test_the_run_command_starts_a_platform_whose_broker_refuses_anonymous_clients(tmp_path):
    web_port, mqtt_port, redis_port = free_port(), free_port(), free_port()
    env_file = tmp_path / ".env"
    env_file.write_text(
        "\n".join(
            [
                "SECRET_KEY=run-command-test-secret-key",
                "DEBUG=false",
                "ALLOWED_HOSTS=127.0.0.1",
                f"DATABASE_URL=sqlite:///{tmp_path / 'db.sqlite3'}",
                f"REDIS_URL=redis://127.0.0.1:{redis_port}/0",
                f"MQTT_BROKER_PORT={mqtt_port}",
                "MQTT_USERNAME=prompt_portal",
                "MQTT_PASSWORD=generated-portal-secret",
                "RESPONDER_MQTT_USERNAME=llm_service",
                "RESPONDER_MQTT_PASSWORD=generated-llm-secret",
                f"WEB_PORT={web_port}",
                f"RUN_DATA_DIR={tmp_path / 'var'}",
                "DEMO_USERNAME=demo",
                "DEMO_PASSWORD=correct-horse-battery-9",
                "LOG_LEVEL=WARNING",
                "",
            ]
        )
    )
    env = {"PATH": "/usr/local/bin:/usr/bin:/bin:/usr/sbin:/sbin", "HOME": str(tmp_path), "ENV_FILE": str(env_file)}
    for command in (["manage.py", "migrate", "--noinput"], ["manage.py", "ensure_demo_user"]):
        subprocess.run([sys.executable, *command], cwd=ROOT, env=env, check=True, capture_output=True, timeout=120)
    run = subprocess.Popen(
        [sys.executable, "scripts/launch.py"],
        cwd=ROOT,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        start_new_session=True,
    )
    base = f"http://127.0.0.1:{web_port}"
    try:

        def llm_online():
            try:
                return requests.get(base + "/api/health/", timeout=2).json()["status"] == "healthy"
            except (requests.RequestException, ValueError):
                return False

        try:
            wait_until(llm_online, 60, interval=0.2, what="the platform to be healthy")
        except TimeoutError:
            run.send_signal(signal.SIGINT)
            raise AssertionError(run.communicate(timeout=20)[0].decode(errors="replace")) from None
        assert local_broker.accepts_anonymous("127.0.0.1", mqtt_port) is False
        demo = ApiClient(base).login("demo", "correct-horse-battery-9")
        session = demo.new_session()
        response = demo.post("/api/chatbot/messages", {"session_id": session["id"], "content": "hello"})
        assert response.status_code == 200, response.text
    finally:
        run.send_signal(signal.SIGINT)
        try:
            output = run.communicate(timeout=20)[0].decode(errors="replace")
        except subprocess.TimeoutExpired:
            run.kill()
            output = run.communicate()[0].decode(errors="replace")
    assert not port_open(web_port) and not port_open(mqtt_port), output
