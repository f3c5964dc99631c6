"""A plain paho client for tests that play the LLM service's part on the wire."""

from __future__ import annotations

import queue

import paho.mqtt.client as paho
from paho.mqtt.enums import CallbackAPIVersion

from .procs import wait_until


class MqttPeer:
    def __init__(
        self, port: int, client_id: str = "", subscribe: tuple[str, ...] = (), *, username: str = "", password: str = ""
    ):
        self.messages: queue.Queue = queue.Queue()
        self.client = paho.Client(CallbackAPIVersion.VERSION2, client_id=client_id)
        if username:
            self.client.username_pw_set(username, password)
        self.client.on_message = lambda c, u, m: self.messages.put((m.topic, m.payload, m.qos, m.retain))
        acknowledged: set[int] = set()
        self.client.on_subscribe = lambda c, u, mid, reason_codes, props: acknowledged.add(mid)
        self.client.connect("127.0.0.1", port)
        self.client.loop_start()
        wait_until(self.client.is_connected, 5, what="test MQTT client")
        mids = [self.client.subscribe(topic, qos=1)[1] for topic in subscribe]
        # Subscribed once the broker acknowledged (SUBACK): what is published after this reaches the peer.
        wait_until(lambda: set(mids) <= acknowledged, 5, what="the broker to acknowledge the subscriptions")

    def publish(self, topic: str, payload: bytes | str, qos: int = 1) -> None:
        self.client.publish(topic, payload, qos=qos).wait_for_publish(5)

    def next_message(self, timeout: float = 5.0):
        return self.messages.get(timeout=timeout)

    def close(self) -> None:
        self.client.loop_stop()
        self.client.disconnect()
