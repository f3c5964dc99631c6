"""The broker as it ships for production: deploy/mosquitto/mosquitto-tls.conf and deploy/mosquitto/acl themselves
(only paths and ports replaced), with TLS, passwords and no anonymous clients, and the whole platform on top.

The worker talks to a mutual-TLS listener (client certificate and password), the responder to the plain TLS
listener with its own user; test peers use the loopback listener, where the same passwords and ACL apply.
"""

import json
import shutil
import subprocess
import threading

import paho.mqtt.client as paho
import pytest
from paho.mqtt.enums import CallbackAPIVersion

from tests.harness.certs import CertificateAuthority
from tests.harness.mqtt import MqttPeer
from tests.harness.platform import ROOT, Platform
from tests.harness.procs import Mosquitto, free_port, port_open, wait_until

DEPLOY = ROOT / "deploy" / "mosquitto"
BASE = "prompt_portal/assistant_response"
PORTAL, LLM = "prompt_portal", "llm_service"  # the users deploy/mosquitto/acl names
PASSWORDS = {PORTAL: "portal-secret-1", LLM: "llm-secret-2"}


def _render_shipped_config(*, tls_port: int, mutual_port: int, passwd, certs) -> str:
    """mosquitto-tls.conf with test paths and ports, plus a copy of its TLS listener with require_certificate on."""
    text = (DEPLOY / "mosquitto-tls.conf").read_text()
    tls_block = text[text.index("listener 8883") : text.index("#use_identity_as_username")]
    mutual = tls_block.replace("listener 8883", f"listener {mutual_port} 127.0.0.1").replace(
        "#require_certificate true", "require_certificate true"
    )
    assert "\nrequire_certificate true" in mutual
    text = text.replace("listener 8883", f"listener {tls_port} 127.0.0.1") + "\n" + mutual
    for old, new in {
        "listener 1883 127.0.0.1": "listener {port} 127.0.0.1",  # the harness's plain port
        "/etc/mosquitto/passwd": str(passwd),
        "/etc/mosquitto/acl": str(DEPLOY / "acl"),
        "/etc/mosquitto/certs/ca.crt": str(certs["ca"]),
        "/etc/mosquitto/certs/server.crt": str(certs["server"].cert),
        "/etc/mosquitto/certs/server.key": str(certs["server"].key),
        "/var/lib/mosquitto/": "{dir}/",
        "log_dest syslog": "log_dest stdout",
    }.items():
        assert old in text, f"{old!r} is no longer in mosquitto-tls.conf: update this test"
        text = text.replace(old, new)
    return text


@pytest.fixture(scope="module")
def setup(tmp_path_factory):
    assert shutil.which("mosquitto_passwd"), "mosquitto_passwd (Debian package mosquitto) is missing"
    workdir = tmp_path_factory.mktemp("security")
    ca = CertificateAuthority(workdir / "certs")
    certs = {
        "ca": ca.files.cert,
        "server": ca.issue("server", server=True),
        "client": ca.issue(PORTAL, server=False),
        "wrong_ca": CertificateAuthority(workdir / "other", name="other-ca").files.cert,
    }
    passwd = workdir / "passwd"
    for n, (user, password) in enumerate(PASSWORDS.items()):
        subprocess.run(
            ["mosquitto_passwd", *(["-c"] if n == 0 else []), "-b", str(passwd), user, password],
            check=True,
            capture_output=True,
        )
    tls_port, mutual_port = free_port(), free_port()
    broker = Mosquitto(
        workdir, config=_render_shipped_config(tls_port=tls_port, mutual_port=mutual_port, passwd=passwd, certs=certs)
    )
    return {"workdir": workdir, "broker": broker, "certs": certs, "tls_port": tls_port, "mutual_port": mutual_port}


@pytest.fixture(scope="module")
def platform(setup):
    certs = setup["certs"]
    p = Platform(
        setup["workdir"],
        broker=setup["broker"],
        MQTT_BROKER_PORT=str(setup["mutual_port"]),
        MQTT_TLS="true",
        MQTT_TLS_CA_FILE=str(certs["ca"]),
        MQTT_TLS_CERT_FILE=str(certs["client"].cert),
        MQTT_TLS_KEY_FILE=str(certs["client"].key),
        MQTT_USERNAME=PORTAL,
        MQTT_PASSWORD=PASSWORDS[PORTAL],
        # The responder shares the worker's environment but logs in as the LLM service's user.
        RESPONDER_MQTT_USERNAME=LLM,
        RESPONDER_MQTT_PASSWORD=PASSWORDS[LLM],
        CHAT_REPLY_TIMEOUT="4",
    )
    try:
        p.start_infra()
        for port in (setup["tls_port"], setup["mutual_port"]):
            wait_until(lambda port=port: port_open(port), 10, what=f"TLS listener {port}")
        p.start_web()
        p.start_worker()
        p.start_responder(MQTT_BROKER_PORT=str(setup["tls_port"]), MQTT_TLS_CERT_FILE="", MQTT_TLS_KEY_FILE="")
        p.create_users("alice", "bob")
        yield p
    finally:
        p.stop_all()


@pytest.fixture(scope="module")
def alice(platform):
    return platform.client("alice")


def peer(platform, user: str, client_id: str = "", subscribe: tuple[str, ...] = ()) -> MqttPeer:
    return MqttPeer(platform.broker.port, client_id, subscribe, username=user, password=PASSWORDS[user])


def connack(port: int, username: str = "", password: str = "") -> str:
    """The broker's answer to a CONNECT on the loopback listener."""
    box: dict = {}
    client = paho.Client(CallbackAPIVersion.VERSION2)
    if username:
        client.username_pw_set(username, password)
    client.on_connect = lambda c, u, flags, rc, props: box.setdefault("rc", str(rc))
    client.connect("127.0.0.1", port)
    client.loop_start()
    try:
        return wait_until(lambda: box.get("rc"), 5, what="CONNACK")
    finally:
        client.loop_stop()
        client.disconnect()


def post_message(client, session_id, content):
    return client.post("/api/chatbot/messages", {"session_id": session_id, "content": content})


def ask_silently(client, content):
    """Send a chat message the offline responder never answers; return (session, request id, thread, box)."""
    session = client.new_session()
    box: dict = {}
    thread = threading.Thread(target=lambda: box.update(response=post_message(client, session["id"], content)))
    thread.start()

    def request_id():
        for m in client.get(f"/api/chatbot/sessions/{session['id']}/messages").json()["messages"]:
            if m["role"] == "user" and m["content"] == content:
                return m["request_id"]
        return None

    rid = wait_until(request_id, 5, what="the user message to be stored")  # stored right before it is published
    return session, rid, thread, box


def worker_state(platform, pid: int) -> dict | None:
    return next((s for s in platform.worker_states() if s["pid"] == pid), None)


# -- the shipped files ----------------------------------------------------------------------------------------
def test_tls_config_keeps_every_production_setting_of_mosquitto_conf():
    def directives(name):
        return {
            line.strip()
            for line in (DEPLOY / name).read_text().splitlines()
            if line.strip() and not line.startswith("#")
        }

    # The plain configuration is the TLS one without the TLS listener: the same passwords, ACL and bounds.
    assert directives("mosquitto.conf") <= directives("mosquitto-tls.conf")
    assert "allow_anonymous false" in directives("mosquitto.conf")


# -- TLS, passwords, ACL ----------------------------------------------------------------------------------------
def test_chat_round_trip_over_mutual_tls_with_the_shipped_acl(platform, alice):
    session = alice.new_session()
    response = post_message(alice, session["id"], "Hello over TLS")
    assert response.status_code == 200, response.text
    assert response.json()["assistant_message"]["content"].startswith("[offline] You said: Hello over TLS")
    # The probe comes back: the ACL's %c pattern lets each worker use its own probe topic.
    state = wait_until(
        lambda: (s := worker_state(platform, platform.workers[0].pid)) and s["probe"]["last_rtt_ms"] and s,
        10,
        what="a probe round trip",
    )
    assert state["connected"] and state["llm"]["online"]


def test_anonymous_clients_and_wrong_passwords_are_refused(platform):
    assert connack(platform.broker.port) == "Not authorized"
    assert connack(platform.broker.port, PORTAL, "wrong") == "Not authorized"
    assert connack(platform.broker.port, PORTAL, PASSWORDS[PORTAL]) == "Success"


@pytest.mark.parametrize(
    "publisher, topic, reader, reader_topics, canary_from, canary_topic",
    [
        # The LLM service cannot forge a chat request...
        (LLM, "prompt_portal/user_input", LLM, ("prompt_portal/user_input",), PORTAL, "prompt_portal/user_input"),
        # ...nor can the portal send a template to every session at once (only maze/template/<sessionId>)...
        (PORTAL, "maze/template", LLM, ("maze/template", "maze/template/+"), PORTAL, "maze/template/g1"),
        # ...and no other client can answer a worker's probe (the echo would hide a dead link); only its own client
        # may write a probe topic, so that one sends the canary.
        (
            LLM,
            "prompt_portal/probe/probe-peer",
            PORTAL,
            ("prompt_portal/probe/probe-peer",),
            "reader",
            "prompt_portal/probe/probe-peer",
        ),
    ],
    ids=["llm-forges-request", "portal-resets-all-templates", "llm-fakes-probe-echo"],
)
def test_the_acl_drops_publishes_outside_a_users_rights(
    platform, publisher, topic, reader, reader_topics, canary_from, canary_topic
):
    reading = peer(platform, reader, "probe-peer", reader_topics)
    sender = peer(platform, publisher)
    canary = reading if canary_from == "reader" else peer(platform, canary_from)
    try:
        sender.publish(topic, "must never arrive")  # acknowledged by the broker, then dropped
        # Sent once the broker has handled the denied publish: had that one been delivered, it would come first.
        canary.publish(canary_topic, "canary")
        assert reading.next_message()[:2] == (canary_topic, b"canary")
    finally:
        for client in {reading, sender, canary}:
            client.close()


def test_a_reply_forged_with_the_portals_credentials_never_reaches_the_waiter(platform, alice):
    session, request_id, thread, box = ask_silently(alice, "!noreply forged reply test")
    topic = f"{BASE}/{session['llm_session_key']}/{platform.worker_states()[0]['client_id']}/{request_id}"
    forger, llm = peer(platform, PORTAL), peer(platform, LLM)
    try:
        forger.publish(topic, "forged answer")
        llm.publish(topic, "genuine answer")
        thread.join(10)
    finally:
        forger.close()
        llm.close()
    assert box["response"].status_code == 200, box["response"].text
    assert box["response"].json()["assistant_message"]["content"] == "genuine answer"
    history = alice.get(f"/api/chatbot/sessions/{session['id']}/messages").json()["messages"]
    assert [m["content"] for m in history if m["role"] == "assistant"] == ["genuine answer"]


def test_a_reply_naming_another_session_is_dropped_not_delivered(platform, alice):
    """The LLM service may write replies, but one on another session's topic must not reach either user."""
    bob = platform.client("bob")
    other = bob.new_session()
    session, request_id, thread, box = ask_silently(alice, "!noreply cross-session test")
    worker_id = platform.worker_states()[0]["client_id"]
    before = platform.worker_states()[0]["counters"]["replies_mismatched"]
    llm = peer(platform, LLM)
    try:
        llm.publish(f"{BASE}/{other['llm_session_key']}/{worker_id}/{request_id}", "answer on the wrong session")
        llm.publish(
            f"{BASE}/{session['llm_session_key']}/{worker_id}/{request_id}",
            json.dumps({"response": "claims the wrong session", "sessionId": other["llm_session_key"]}),
        )
        llm.publish(f"{BASE}/{session['llm_session_key']}/{worker_id}/{request_id}", "the right answer")
        thread.join(10)
    finally:
        llm.close()
    assert box["response"].json()["assistant_message"]["content"] == "the right answer"
    assert bob.get(f"/api/chatbot/sessions/{other['id']}/messages").json()["messages"] == []
    wait_until(
        lambda: platform.worker_states()[0]["counters"]["replies_mismatched"] == before + 2,
        5,
        what="both mismatched replies to be counted",
    )


# -- workers that cannot connect: they keep trying, report it, and stop cleanly ---------------------------------
# These run last: a disconnected worker also takes chat requests off the shared channel (and answers 503).
# (The broker's own log lines are not checked: mosquitto block-buffers its stdout, so they arrive late.)
@pytest.mark.parametrize(
    "env, worker_says",
    [
        ({"MQTT_TLS_CA_FILE": "wrong_ca"}, "certificate verify failed"),
        ({"MQTT_TLS_CERT_FILE": "", "MQTT_TLS_KEY_FILE": ""}, "connection to 127.0.0.1"),
    ],
    ids=["wrong-ca", "no-client-certificate"],
)
def test_a_worker_that_fails_tls_stays_disconnected_and_alive(platform, setup, env, worker_says):
    env = {k: str(setup["certs"][v]) if v in setup["certs"] else v for k, v in env.items()}
    worker = platform.start_worker(wait_connected=False, **env)
    try:
        state = wait_until(
            lambda: (s := worker_state(platform, worker.pid)) and s["reconnect_attempts"] >= 2 and s,
            20,
            what="the worker to retry",
        )
        assert worker.alive and not state["connected"]
        assert worker_says in worker.log()
    finally:
        assert worker.stop() == 0, worker.log()
