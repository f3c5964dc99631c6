"""`python -m responder` against a mosquitto of the test's own, observed by a plain paho client."""

import json
import os
import queue
import shutil
import signal
import socket
import subprocess
import sys
import threading
import time
import uuid
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import paho.mqtt.client as mqtt
import pytest
from paho.mqtt.enums import CallbackAPIVersion

ROOT = Path(__file__).resolve().parents[2]

pytestmark = pytest.mark.skipif(shutil.which("mosquitto") is None, reason="mosquitto is not installed")


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def wait_for(predicate, timeout: float, what: str):
    deadline = time.monotonic() + timeout
    while not (value := predicate()):
        if time.monotonic() > deadline:
            raise TimeoutError(f"timed out waiting for {what}")
        time.sleep(0.02)
    return value


def port_open(port: int) -> bool:
    try:
        with socket.create_connection(("127.0.0.1", port), timeout=0.2):
            return True
    except OSError:
        return False


def stop(proc: subprocess.Popen) -> None:
    if proc.poll() is None:
        proc.kill()
    proc.wait(5)


@pytest.fixture(scope="module")
def broker_port(tmp_path_factory):
    port = free_port()
    conf = tmp_path_factory.mktemp("mosquitto") / "mosquitto.conf"
    # TCP_NODELAY on the broker too, or each delivery waits ~40 ms for a delayed ACK.
    conf.write_text(f"listener {port} 127.0.0.1\nallow_anonymous true\nset_tcp_nodelay true\n")
    proc = subprocess.Popen(["mosquitto", "-c", str(conf)], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        wait_for(lambda: port_open(port) or proc.poll() is not None, 10, "mosquitto")
        assert proc.poll() is None, "mosquitto did not start"
        yield port
    finally:
        stop(proc)


@pytest.fixture
def responder(broker_port, tmp_path):
    """Starts `python -m responder` with a fresh client id; yields (process, client id, log path)."""
    started = []

    def start(**extra_env: str):
        client_id = f"responder-test-{uuid.uuid4().hex[:8]}"
        env = {k: v for k, v in os.environ.items() if not k.startswith(("MQTT_", "LLM_", "RESPONDER_"))}
        env.update(
            MQTT_BROKER_PORT=str(broker_port),
            RESPONDER_CLIENT_ID=client_id,
            RESPONDER_STATUS_INTERVAL="1",
            LOG_LEVEL="DEBUG",
            PYTHONUNBUFFERED="1",
            **extra_env,
        )
        log_path = tmp_path / f"{client_id}.log"
        with open(log_path, "wb") as log:
            proc = subprocess.Popen(
                [sys.executable, "-m", "responder"],
                cwd=ROOT,
                env=env,
                stdout=log,
                stderr=subprocess.STDOUT,
                stdin=subprocess.DEVNULL,
            )
        started.append(proc)
        return proc, client_id, log_path

    try:
        yield start
    finally:
        for proc in started:
            stop(proc)


class Observer:
    def __init__(self, port: int, topics: list[str]):
        self.messages: queue.Queue = queue.Queue()
        self.client = mqtt.Client(CallbackAPIVersion.VERSION2, client_id=f"observer-{uuid.uuid4().hex[:8]}")
        self.client.on_message = lambda c, u, m: self.messages.put((m.topic, m.payload, m.retain))
        self.client.connect("127.0.0.1", port)
        self.client.loop_start()
        wait_for(self.client.is_connected, 5, "observer connection")
        info = self.client.subscribe([(t, 1) for t in topics])
        assert info[0] == mqtt.MQTT_ERR_SUCCESS

    def publish(self, topic: str, body: dict, qos: int = 1) -> None:
        self.client.publish(topic, json.dumps(body), qos=qos).wait_for_publish(5)

    def expect(self, predicate, timeout: float = 10.0):
        """The first message (topic, payload, retain) that satisfies predicate; others are skipped."""
        deadline = time.monotonic() + timeout
        while True:
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                raise TimeoutError("expected message did not arrive")
            try:
                message = self.messages.get(timeout=remaining)
            except queue.Empty:
                continue
            if predicate(*message):
                return message

    def close(self) -> None:
        self.client.disconnect()  # first: it wakes the network thread, which loop_stop then joins at once
        self.client.loop_stop()


def status_of(payload: bytes) -> dict:
    try:
        return json.loads(payload)
    except ValueError:
        return {}


def retained_status(port: int) -> dict | None:
    """What a newcomer finds on the status topic: the retained message, if any."""
    observer = Observer(port, ["maze/status"])
    try:
        _, payload, _ = observer.expect(lambda t, p, r: r, timeout=0.5)
        return status_of(payload)
    except TimeoutError:
        return None
    finally:
        observer.close()


def test_chat_hint_status_and_last_will(broker_port, responder):
    proc, client_id, log_path = responder()
    online = wait_for(lambda: retained_status(broker_port), 10, "the retained online status")
    assert online["service"] == client_id and online["status"] == "online" and isinstance(online["ts"], int)
    observer = Observer(broker_port, ["maze/status", "prompt_portal/assistant_response/#", "maze/hint/#"])
    try:
        reply_topic = "prompt_portal/assistant_response/chat-1/observer/req-1"
        observer.publish(
            "prompt_portal/user_input",
            {
                "sessionId": "chat-1",
                "message": "hello responder",
                "requestId": "req-1",
                "clientId": "observer",
                "replyTopic": reply_topic,
            },
        )
        topic, payload, _ = observer.expect(lambda t, p, r: t.startswith("prompt_portal/assistant_response/"))
        assert topic == reply_topic
        assert payload == b"[offline] You said: hello responder"  # raw text, not JSON

        observer.publish(
            "maze/state",
            {
                "sessionId": "game-1",
                "player_pos": [1, 1],
                "exit_pos": [3, 1],
                "visible_map": [[0, 0, 0, 0, 0], [0, 1, 1, 1, 0], [0, 0, 0, 0, 0]],
                "germs": [],
            },
            qos=0,
        )
        _, payload, _ = observer.expect(lambda t, p, r: t == "maze/hint/game-1")
        hint = json.loads(payload)
        assert hint["path"] == [[2, 1], [3, 1]] and hint["hint"] == "Head east 2." and hint["show_path"] is True

        proc.send_signal(signal.SIGKILL)  # no clean disconnect: the broker publishes the will
        proc.wait(5)
        _, payload, _ = observer.expect(lambda t, p, r: t == "maze/status" and status_of(p).get("status") == "offline")
        assert json.loads(payload) == {"service": client_id, "status": "offline"}
    finally:
        observer.close()

    assert retained_status(broker_port) == {"service": client_id, "status": "offline"}  # newcomers see it too


def test_sigterm_announces_offline_and_exits_cleanly(broker_port, responder):
    proc, client_id, log_path = responder()
    observer = Observer(broker_port, ["maze/status"])
    try:
        observer.expect(
            lambda t, p, r: status_of(p).get("service") == client_id and status_of(p).get("status") == "online"
        )
        proc.send_signal(signal.SIGTERM)
        assert proc.wait(10) == 0, log_path.read_text()
        observer.expect(lambda t, p, r: status_of(p) == {"service": client_id, "status": "offline"})
    finally:
        observer.close()
    log = log_path.read_text()
    assert log.count("connected to 127.0.0.1") == 1 and "disconnected from the broker" in log


class ScriptedModel(BaseHTTPRequestHandler):
    """An OpenAI-compatible endpoint that shows what it was sent: how many messages and which system prompt.
    "FAIL" makes it fail; a maze state gets a JSON hint only when the system prompt asks for JSON."""

    def do_POST(self):
        messages = json.loads(self.rfile.read(int(self.headers["Content-Length"])))["messages"]
        system = messages[0]["content"] if messages[0]["role"] == "system" else None
        user = messages[-1]["content"]
        if "FAIL" in user:
            status, text = 500, None
        elif user.startswith("{"):
            status, text = 200, 'Here:\n```json\n{"hint": "LLM says east"}\n```' if "json" in system else "Go east."
        else:
            status, text = 200, f"model saw {len(messages)} messages; system={system}"
        body = json.dumps({"choices": [{"message": {"content": text}}]} if text else {"error": "boom"}).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args):
        pass


@pytest.fixture
def model_url():
    server = ThreadingHTTPServer(("127.0.0.1", 0), ScriptedModel)
    threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True).start()
    try:
        yield f"http://127.0.0.1:{server.server_port}/v1"
    finally:
        server.shutdown()
        server.server_close()


def test_llm_mode_memory_errors_and_hint_fallback(broker_port, responder, model_url):
    proc, client_id, log_path = responder(LLM_BASE_URL=model_url, LLM_MAX_RETRIES="0")
    wait_for(lambda: (retained_status(broker_port) or {}).get("service") == client_id, 10, "the responder")
    observer = Observer(broker_port, ["prompt_portal/assistant_response/#", "maze/hint/#"])

    def ask(message: str, system_prompt: str) -> bytes:
        observer.publish(
            "prompt_portal/user_input", {"sessionId": "chat-7", "message": message, "systemPrompt": system_prompt}
        )
        return observer.expect(lambda t, p, r: t == "prompt_portal/assistant_response/chat-7")[1]

    try:
        assert ask("one", "SP1") == b"model saw 2 messages; system=SP1"
        # The earlier turn is remembered; the system prompt is the one of the session's first request.
        assert ask("two", "SP2") == b"model saw 4 messages; system=SP1"
        assert ask("FAIL now", "SP1").startswith(b"Error: model endpoint answered HTTP 500")

        observer.publish("maze/template/game-7", {"template": "Reply in json."})
        assert json.loads(observer.expect(lambda t, p, r: t == "maze/hint/game-7")[1]) == {"hint": "Template updated"}
        state = {"player_pos": [0, 0], "exit_pos": [2, 0], "visible_map": [[1, 1, 1]]}
        observer.publish("maze/state", {"sessionId": "game-7", **state})
        assert json.loads(observer.expect(lambda t, p, r: t == "maze/hint/game-7")[1]) == {"hint": "LLM says east"}
        # A prose answer is no hint object: the offline hint stands in.
        observer.publish("maze/state", {"sessionId": "game-8", "prompt_template": {"content": "Be terse."}, **state})
        hint = json.loads(observer.expect(lambda t, p, r: t == "maze/hint/game-8")[1])
        assert hint["path"] == [[1, 0], [2, 0]]
    finally:
        observer.close()


def test_streamed_answer_and_cancel_through_the_broker(broker_port, responder):
    proc, client_id, log_path = responder(RESPONDER_STREAM_RATE="50")
    wait_for(lambda: (retained_status(broker_port) or {}).get("service") == client_id, 10, "the responder")
    observer = Observer(broker_port, ["prompt_portal/assistant_response/#"])

    def ask(request_id: str, message: str) -> str:
        topic = f"prompt_portal/assistant_response/chat-s/observer/{request_id}"
        body = {"sessionId": "chat-s", "message": message, "requestId": request_id, "clientId": "observer"}
        observer.publish("prompt_portal/user_input", {**body, "replyTopic": topic, "stream": True})
        return topic

    try:
        topic = ask("req-s1", "stream this answer please")
        deltas = []
        while True:
            got, payload, _ = observer.expect(lambda t, p, r: t.startswith(topic))
            if got == topic:
                break
            chunk = json.loads(payload)
            assert got == topic + "/stream" and chunk["requestId"] == "req-s1" and chunk["seq"] == len(deltas)
            deltas.append(chunk["delta"])
        assert payload == b"[offline] You said: stream this answer please" == "".join(deltas).encode()

        # Cancelled during a 1 s stall: nothing more of it comes, while a request due later still does.
        stalled = ask("req-s2", "!stall 1 stop me half way please")
        observer.expect(lambda t, p, r: t == stalled + "/stream" and json.loads(p)["seq"] == 3)
        observer.publish("prompt_portal/cancel", {"requestId": "req-s2", "sessionId": "chat-s", "clientId": "observer"})
        later = ask("req-s3", "!sleep 1.5 after the stall")
        # (Chunks up to seq 4, the half before the stall, may have been on their way when the cancel came.)
        got, _, _ = observer.expect(
            lambda t, p, r: t in (stalled, later) or (t == stalled + "/stream" and json.loads(p)["seq"] > 4)
        )
        assert got == later, "the cancelled answer went on"
    finally:
        observer.close()
