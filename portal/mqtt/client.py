"""The only module that imports paho: one MQTT connection that reconnects forever on its own thread.

Why not paho's loop_start(): its reconnect has no jitter, cannot cap consecutive failures, and waits for
a CONNACK without a deadline, so a half-open link through a dead NAT stalls it. This thread runs
`client.loop()` itself and owns those decisions; everything else talks to it through thread-safe calls
and two callbacks that must return quickly (they only hand work to the asyncio side).
"""
from __future__ import annotations

import logging
import socket
import ssl
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass

import paho.mqtt.client as paho
from paho.mqtt.enums import CallbackAPIVersion, MQTTErrorCode

from .reconnect import reconnect_delays

log = logging.getLogger("portal.mqtt.client")


@dataclass(frozen=True)
class LinkConfig:
    host: str
    port: int
    client_id: str
    keepalive: int
    username: str = ""
    password: str = ""
    subscriptions: tuple[tuple[str, int], ...] = ()
    reconnect_min_delay: float = 0.2
    reconnect_max_delay: float = 30.0
    max_reconnect_attempts: int = 0  # 0 = never give up
    connect_timeout: float = 5.0  # TCP connect, TLS handshake and CONNACK each
    tls: bool = False
    tls_ca_file: str = ""  # empty: the system's CA bundle
    tls_cert_file: str = ""  # client certificate, for brokers that require one
    tls_key_file: str = ""  # its key; empty when it is inside the certificate file


class ReconnectLimitReached(RuntimeError):
    pass


def tls_context(ca_file: str = "", cert_file: str = "", key_file: str = "") -> ssl.SSLContext:
    """A client context that always verifies the broker's certificate and host name (there is deliberately no
    switch to turn that off: an unverified TLS link only hides who is listening).

    Built here, before the first connection, so a missing or unreadable file stops the worker at start with a
    clear error instead of failing every reconnect attempt quietly.
    """
    context = ssl.create_default_context(ssl.Purpose.SERVER_AUTH, cafile=ca_file or None)
    context.minimum_version = ssl.TLSVersion.TLSv1_2
    if cert_file:
        context.load_cert_chain(cert_file, key_file or None)
    return context


class MqttLink:
    """A persistent-session MQTT 3.1.1 client; `on_message(topic, payload)` and `on_state(connected, reason)`
    are called on the link's thread and must not block."""

    def __init__(
        self,
        config: LinkConfig,
        *,
        on_message: Callable[[str, bytes], None],
        on_state: Callable[[bool, str], None],
    ):
        self.config = config
        self._on_message_cb = on_message
        self._on_state_cb = on_state
        self._stop = threading.Event()
        self._force_reconnect = threading.Event()
        self._connected = threading.Event()
        self._thread: threading.Thread | None = None
        self.reconnect_attempts = 0  # consecutive failed attempts since the last good connection
        self.fatal_error: BaseException | None = None

        # clean_session=False: the broker keeps our subscriptions and queues QoS 1 replies while we are away.
        self._client = paho.Client(
            CallbackAPIVersion.VERSION2,
            client_id=config.client_id,
            clean_session=False,
            protocol=paho.MQTTv311,
        )
        # An exception in a callback must never end the network loop (the earlier platform died of this).
        self._client.suppress_exceptions = True
        self._client.connect_timeout = config.connect_timeout
        if config.username:
            self._client.username_pw_set(config.username, config.password or None)
        if config.tls:
            # paho wraps the socket and runs the handshake inside connect(), bounded by connect_timeout; a
            # certificate that does not verify raises there and is retried on the reconnect schedule.
            self._client.tls_set_context(
                tls_context(config.tls_ca_file, config.tls_cert_file, config.tls_key_file)
            )
        self._client.on_connect = self._handle_connect
        self._client.on_disconnect = self._handle_disconnect
        self._client.on_message = self._handle_message

    # -- public, thread-safe ---------------------------------------------------------------------------
    @property
    def connected(self) -> bool:
        return self._connected.is_set()

    def start(self) -> None:
        self._thread = threading.Thread(target=self._run, name="mqtt-link", daemon=True)
        self._thread.start()

    def stop(self, timeout: float = 3.0) -> None:
        """Disconnect cleanly (no will, session kept) and end the thread."""
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout)

    def publish(self, topic: str, payload: bytes, qos: int, retain: bool = False) -> bool:
        """Queue a publish; False when not connected (the caller answers 503 instead of queueing)."""
        if not self.connected:
            return False
        info = self._client.publish(topic, payload, qos=qos, retain=retain)
        return info.rc == MQTTErrorCode.MQTT_ERR_SUCCESS

    def force_reconnect(self, reason: str) -> None:
        """Drop the current connection (e.g. the probe found it dead) and reconnect on the schedule."""
        log.warning("forcing reconnect: %s", reason)
        self._force_reconnect.set()

    # -- the link thread --------------------------------------------------------------------------------
    def _run(self) -> None:
        delays = reconnect_delays(self.config.reconnect_min_delay, self.config.reconnect_max_delay)
        while not self._stop.is_set():
            try:
                self._connect_and_serve()
            except Exception as exc:  # noqa: BLE001 - the loop must survive anything paho or the OS throws
                log.warning("connection to %s:%s failed: %s", self.config.host, self.config.port, exc)
            if self._stop.is_set():
                break  # _close() says goodbye with a DISCONNECT if the link is still up
            if self._connected.is_set():
                self._set_disconnected("connection lost")
            if self.reconnect_attempts == 0:
                # The last connection was good: start the schedule again from its short first delay.
                delays = reconnect_delays(self.config.reconnect_min_delay, self.config.reconnect_max_delay)
            self.reconnect_attempts += 1
            limit = self.config.max_reconnect_attempts
            if limit and self.reconnect_attempts > limit:
                self.fatal_error = ReconnectLimitReached(f"gave up after {limit} consecutive failed attempts")
                log.error("%s", self.fatal_error)
                self._on_state_cb(False, str(self.fatal_error))
                return
            delay = next(delays)
            log.info("reconnect attempt %d in %.2f s", self.reconnect_attempts, delay)
            self._on_state_cb(False, f"reconnecting (attempt {self.reconnect_attempts})")
            self._stop.wait(delay)
        self._close()

    def _connect_and_serve(self) -> None:
        self._force_reconnect.clear()
        self._client.connect(self.config.host, self.config.port, keepalive=self.config.keepalive)
        sock = self._client.socket()
        if isinstance(sock, socket.socket):
            # Small request/reply packets otherwise wait for Nagle's delayed ACK: 40+ ms per round trip.
            # With TLS this is an ssl.SSLSocket, a socket.socket subclass: the option reaches the TCP socket.
            sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        connack_deadline = time.monotonic() + self.config.connect_timeout
        while not self._stop.is_set():
            rc = self._client.loop(timeout=0.05)
            if rc != MQTTErrorCode.MQTT_ERR_SUCCESS:
                raise ConnectionError(paho.error_string(rc))
            if not self._connected.is_set() and time.monotonic() > connack_deadline:
                self._drop_socket()
                raise ConnectionError("no CONNACK within %.1f s" % self.config.connect_timeout)
            if self._force_reconnect.is_set():
                self._drop_socket()
                raise ConnectionError("connection dropped on purpose (probe or keepalive failed)")

    def _drop_socket(self) -> None:
        sock = self._client.socket()
        if sock is not None:
            try:
                sock.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass
        # Let paho notice the dead socket and reset its own state.
        self._client.loop(timeout=0)

    def _close(self) -> None:
        try:
            if self._connected.is_set():
                self._client.disconnect()
                self._client.loop(timeout=0.2)
        except Exception:  # noqa: BLE001 - shutting down: nothing left to protect
            log.debug("error while disconnecting", exc_info=True)
        self._set_disconnected("stopped")

    def _set_disconnected(self, reason: str) -> None:
        if self._connected.is_set():
            self._connected.clear()
            level = logging.INFO if self._stop.is_set() else logging.WARNING
            log.log(level, "disconnected from %s:%s: %s", self.config.host, self.config.port, reason)
            self._on_state_cb(False, reason)

    # -- paho callbacks (run on the link thread; never raise) -------------------------------------------
    def _handle_connect(self, client, userdata, flags, reason_code, properties) -> None:
        try:
            if reason_code.is_failure:
                log.error("broker refused the connection: %s", reason_code)
                return
            # Subscribing on every CONNACK means every reconnect resubscribes, whatever the broker kept.
            if self.config.subscriptions:
                client.subscribe(list(self.config.subscriptions))
            self.reconnect_attempts = 0
            self._connected.set()
            log.info(
                "connected to %s:%s as %s (session present: %s)",
                self.config.host,
                self.config.port,
                self.config.client_id,
                flags.session_present,
            )
            self._on_state_cb(True, "connected")
        except Exception:  # noqa: BLE001
            log.exception("error in on_connect")

    def _handle_disconnect(self, client, userdata, disconnect_flags, reason_code, properties) -> None:
        try:
            self._set_disconnected("stopped" if self._stop.is_set() else str(reason_code))
        except Exception:  # noqa: BLE001
            log.exception("error in on_disconnect")

    def _handle_message(self, client, userdata, message) -> None:
        try:
            self._on_message_cb(message.topic, message.payload)
        except Exception:  # noqa: BLE001
            log.exception("error handling a message on %r", getattr(message, "topic", "?"))
