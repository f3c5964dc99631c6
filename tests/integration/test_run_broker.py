"""The broker scripts/run starts (scripts/local_broker.py from deploy/mosquitto/mosquitto.conf and acl, with the
credentials scripts/run generates): no anonymous clients, and each of the two users only its own rights."""

import sys

import pytest

from tests.harness.mqtt import MqttPeer
from tests.harness.platform import ROOT, Platform
from tests.harness.procs import Mosquitto

sys.path.insert(0, str(ROOT / "scripts"))
import local_broker  # noqa: E402

USERS = {"prompt_portal": "portal-generated-secret", "llm_service": "llm-generated-secret"}
BASE = "prompt_portal/assistant_response"


@pytest.fixture(scope="module")
def platform(tmp_path_factory):
    workdir = tmp_path_factory.mktemp("run-broker")
    passwd = workdir / "passwd"
    local_broker.write_passwords(passwd, USERS)
    config = local_broker.render(
        host="127.0.0.1", port="{port}", data_dir="{dir}", passwd=passwd, acl=local_broker.DEPLOY / "acl"
    )
    p = Platform(
        workdir,
        broker=Mosquitto(workdir, config=config),
        MQTT_USERNAME="prompt_portal",
        MQTT_PASSWORD=USERS["prompt_portal"],
        RESPONDER_MQTT_USERNAME="llm_service",
        RESPONDER_MQTT_PASSWORD=USERS["llm_service"],
    )
    try:
        p.start_all()
        p.create_user("alice")
        yield p
    finally:
        p.stop_all()


def peer(platform, user, subscribe=(), client_id=""):
    return MqttPeer(platform.broker.port, client_id, subscribe, username=user, password=USERS[user])


def test_the_platform_works_with_its_own_users_and_anonymous_clients_are_refused(platform):
    alice = platform.client("alice")
    session = alice.new_session()
    response = alice.post("/api/chatbot/messages", {"session_id": session["id"], "content": "hello"})
    assert response.status_code == 200, response.text
    assert local_broker.accepts_anonymous("127.0.0.1", platform.broker.port) is False
    with pytest.raises(TimeoutError):  # refused: never connected
        MqttPeer(platform.broker.port, "intruder")


def test_an_anonymous_broker_is_recognised_so_scripts_run_never_uses_one(tmp_path):
    anonymous = Mosquitto(tmp_path).start()  # the harness's default broker lets anyone in
    try:
        assert local_broker.accepts_anonymous("127.0.0.1", anonymous.port) is True
    finally:
        anonymous.stop()


def test_the_llm_service_reads_requests_but_cannot_forge_them_nor_see_the_workers_topics(platform):
    # It may read what the portal sends...
    llm = peer(platform, "llm_service", ("prompt_portal/user_input", "#"))
    portal = peer(platform, "prompt_portal")
    try:
        llm.publish("prompt_portal/user_input", "forged request")  # dropped by the broker (no write right)
        llm.publish("prompt_portal/probe/prompt_portal_backend_w1", "fake echo")  # not its probe topic
        portal.publish("prompt_portal/user_input", "canary")  # sent after both: it must be the first to arrive
        topic, payload, _, _ = llm.next_message()
        assert (topic, payload) == ("prompt_portal/user_input", b"canary")
    finally:
        llm.close()
        portal.close()


def test_the_portal_cannot_publish_replies_or_status(platform):
    reader = peer(platform, "prompt_portal", (f"{BASE}/#", "maze/status"))
    llm = peer(platform, "llm_service")
    try:
        reader.publish(f"{BASE}/s1", "forged answer")  # the portal's own user may not write replies...
        reader.publish("maze/status", '{"service": "x", "status": "offline"}')  # ...nor the LLM's status
        llm.publish(f"{BASE}/canary", "canary")
        topic, payload, _, _ = reader.next_message()
        while topic == "maze/status":  # the retained status of the running responder, from before
            assert b'"online"' in payload
            topic, payload, _, _ = reader.next_message()
        assert (topic, payload) == (f"{BASE}/canary", b"canary")
    finally:
        reader.close()
        llm.close()
