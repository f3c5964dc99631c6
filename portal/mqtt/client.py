"""The only module that imports paho: one MQTT connection that reconnects forever, run on the asyncio event loop.

paho is driven from the loop (its "external event loop" mode: loop_read when the socket is readable, loop_write when
it can take more, loop_misc every half second for keepalive), so a message from the broker is handled on the loop
the moment it arrives, with no hand-off from a thread of paho's own (a wake-up of the loop, then the interpreter
lock passing between threads, on every message; docs/benchmarks.md has the measurement).

Why not paho's loop_start() or loop_forever(): their reconnect has no jitter, cannot cap consecutive failures, and
waits for a CONNACK without a deadline, so a half-open link through a dead NAT stalls it. This module owns those
decisions. Only the TCP connect and TLS handshake (blocking in paho, bounded by connect_timeout) run on a thread.
"""

from __future__ import annotations

import asyncio
import logging
import socket
import ssl
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
    reconnect_interval: float = 0.5  # between attempts through the first reconnect_fast_period s of an outage
    reconnect_fast_period: float = 60.0
    reconnect_max_delay: float = 30.0  # then backing off up to this
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
    """A persistent-session MQTT 3.1.1 client; `on_message(topic, payload, retained)` and
    `on_state(connected, reason)` are called on the event loop and must not block. Use it from the loop that
    called start()."""

    MISC_INTERVAL = 0.5  # seconds between keepalive checks (and checks of the CONNACK deadline)

    def __init__(
        self,
        config: LinkConfig,
        *,
        on_message: Callable[[str, bytes, bool], None],
        on_state: Callable[[bool, str], None],
    ):
        self.config = config
        self._on_message_cb = on_message
        self._on_state_cb = on_state
        self._loop: asyncio.AbstractEventLoop | None = None
        self._task: asyncio.Task | None = None
        self._stop: asyncio.Event | None = None
        self._wake: asyncio.Event | None = None  # set when the connection was lost or must be dropped
        self._drop_reason = ""
        self._connected = False
        self._sock: socket.socket | None = None  # the socket registered with the loop
        self._watching_writes = False
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
            self._client.tls_set_context(tls_context(config.tls_ca_file, config.tls_cert_file, config.tls_key_file))
        self._client.on_connect = self._handle_connect
        self._client.on_disconnect = self._handle_disconnect
        self._client.on_message = self._handle_message
        # paho calls this just before it closes a socket (a lost connection, a keepalive timeout): the loop must
        # stop watching it first, or its file number, reused by the next socket, would still be registered.
        self._client.on_socket_close = self._handle_socket_close

    # -- public (event loop) ---------------------------------------------------------------------------
    @property
    def connected(self) -> bool:
        return self._connected

    def start(self) -> None:
        self._loop = asyncio.get_running_loop()
        self._stop, self._wake = asyncio.Event(), asyncio.Event()
        self._task = self._loop.create_task(self._run(), name="mqtt-link")

    async def stop(self, timeout: float = 3.0) -> None:
        """Disconnect cleanly (no will, session kept) and end the link's task."""
        if self._task is None:
            return
        self._stop.set()
        self._wake.set()
        try:
            await asyncio.wait_for(asyncio.shield(self._task), timeout)
        except TimeoutError:
            self._task.cancel()

    def publish(self, topic: str, payload: bytes, qos: int, retain: bool = False) -> bool:
        """Send a publish (written at once when the socket takes it); False when not connected (the caller
        answers 503 instead of queueing)."""
        if not self._connected:
            return False
        info = self._client.publish(topic, payload, qos=qos, retain=retain)
        self._watch_writes_if_needed()
        return info.rc == MQTTErrorCode.MQTT_ERR_SUCCESS

    def force_reconnect(self, reason: str) -> None:
        """Drop the current connection (e.g. the probe found it dead) and reconnect on the schedule."""
        log.warning("forcing reconnect: %s", reason)
        self._drop("connection dropped on purpose (probe or keepalive failed)")

    # -- the link's task ---------------------------------------------------------------------------------
    async def _run(self) -> None:
        delays = self._new_schedule()
        try:
            while not self._stop.is_set():
                try:
                    await self._connect_and_serve()
                except asyncio.CancelledError:
                    raise
                except Exception as exc:  # noqa: BLE001 - the link must survive anything paho or the OS throws
                    log.warning("connection to %s:%s failed: %s", self.config.host, self.config.port, exc)
                if self._stop.is_set():
                    break  # _close() says goodbye with a DISCONNECT if the link is still up
                self._drop_socket()
                if self._connected:
                    self._set_disconnected("connection lost")
                if self.reconnect_attempts == 0:
                    # The last connection was good: start the schedule again from its short first delay.
                    delays = self._new_schedule()
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
                try:
                    await asyncio.wait_for(self._stop.wait(), delay)
                except TimeoutError:
                    pass
        finally:
            self._close()

    def _new_schedule(self):
        c = self.config
        return reconnect_delays(c.reconnect_interval, c.reconnect_max_delay, c.reconnect_fast_period)

    async def _connect_and_serve(self) -> None:
        self._wake.clear()
        self._drop_reason = ""
        # The TCP connect and the TLS handshake block (each bounded by connect_timeout): on a thread. The loop
        # does not touch the client meanwhile (publish() refuses while not connected).
        await asyncio.to_thread(
            self._client.connect, self.config.host, self.config.port, keepalive=self.config.keepalive
        )
        sock = self._client.socket()
        if isinstance(sock, socket.socket):
            # Small request/reply packets otherwise wait for Nagle's delayed ACK: 40+ ms per round trip.
            # With TLS this is an ssl.SSLSocket, a socket.socket subclass: the option reaches the TCP socket.
            sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        self._sock = sock
        self._loop.add_reader(sock, self._readable)
        self._watch_writes_if_needed()
        connack_deadline = time.monotonic() + self.config.connect_timeout
        while not self._stop.is_set():
            try:
                await asyncio.wait_for(self._wake.wait(), self.MISC_INTERVAL)
            except TimeoutError:
                pass
            if self._stop.is_set():
                return
            if self._drop_reason:
                raise ConnectionError(self._drop_reason)
            if self._client.socket() is None:
                raise ConnectionError("connection lost")
            if not self._connected and time.monotonic() > connack_deadline:
                raise ConnectionError(f"no CONNACK within {self.config.connect_timeout:.1f} s")
            rc = self._client.loop_misc()  # keepalive: PINGREQ when due, and a dead link closed
            if rc != MQTTErrorCode.MQTT_ERR_SUCCESS:
                raise ConnectionError(paho.error_string(rc))
            self._watch_writes_if_needed()

    def _readable(self) -> None:
        while True:
            rc = self._client.loop_read()
            if rc != MQTTErrorCode.MQTT_ERR_SUCCESS:
                self._drop(paho.error_string(rc))  # paho closed the socket already
                return
            # With TLS, one record can carry several MQTT packets: what paho has not read yet is decrypted and
            # waiting inside the SSL object, and the socket will not turn readable for it (paho's own loop
            # checks pending() the same way).
            sock = self._client.socket()
            if not isinstance(sock, ssl.SSLSocket) or sock.pending() == 0:
                break
        self._watch_writes_if_needed()

    def _writable(self) -> None:
        rc = self._client.loop_write()
        if rc != MQTTErrorCode.MQTT_ERR_SUCCESS:
            self._drop(paho.error_string(rc))
            return
        if not self._client.want_write():
            self._stop_watching_writes()

    def _watch_writes_if_needed(self) -> None:
        """paho writes at once what the socket takes; the rest waits for the socket to take more."""
        if self._sock is not None and not self._watching_writes and self._client.want_write():
            self._loop.add_writer(self._sock, self._writable)
            self._watching_writes = True

    def _stop_watching_writes(self) -> None:
        if self._watching_writes and self._sock is not None:
            self._loop.remove_writer(self._sock)
        self._watching_writes = False

    def _drop(self, reason: str) -> None:
        if not self._drop_reason:
            self._drop_reason = reason
        if self._wake is not None:
            self._wake.set()

    def _forget_socket(self) -> None:
        if self._sock is not None:
            self._stop_watching_writes()
            self._loop.remove_reader(self._sock)
            self._sock = None

    def _drop_socket(self) -> None:
        """Close the connection's socket, if paho has not (paho then resets its state at the next connect)."""
        sock = self._client.socket()
        self._forget_socket()
        if sock is not None:
            try:
                sock.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass
            self._client.loop_read()  # paho reads the EOF, closes the socket and calls on_disconnect

    def _close(self) -> None:
        try:
            if self._connected:
                self._client.disconnect()  # a DISCONNECT, written at once: the broker drops no will
        except Exception:  # noqa: BLE001 - shutting down: nothing left to protect
            log.debug("error while disconnecting", exc_info=True)
        self._forget_socket()
        sock = self._client.socket()
        if sock is not None:
            try:
                sock.close()
            except OSError:
                pass
        self._set_disconnected("stopped")

    def _set_disconnected(self, reason: str) -> None:
        if self._connected:
            self._connected = False
            level = logging.INFO if self._stop.is_set() else logging.WARNING
            log.log(level, "disconnected from %s:%s: %s", self.config.host, self.config.port, reason)
            self._on_state_cb(False, reason)

    # -- paho callbacks (on the event loop, inside loop_read/loop_misc; never raise) ----------------------
    def _handle_connect(self, client, userdata, flags, reason_code, properties) -> None:
        try:
            if reason_code.is_failure:
                log.error("broker refused the connection: %s", reason_code)
                return
            # Subscribing on every CONNACK means every reconnect resubscribes, whatever the broker kept.
            if self.config.subscriptions:
                client.subscribe(list(self.config.subscriptions))
            self.reconnect_attempts = 0
            self._connected = True
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
            self._drop(str(reason_code))
        except Exception:  # noqa: BLE001
            log.exception("error in on_disconnect")

    def _handle_socket_close(self, client, userdata, sock) -> None:
        try:
            if sock is self._sock:
                self._forget_socket()
        except Exception:  # noqa: BLE001
            log.exception("error in on_socket_close")

    def _handle_message(self, client, userdata, message) -> None:
        try:
            self._on_message_cb(message.topic, message.payload, bool(message.retain))
        except Exception:  # noqa: BLE001
            log.exception("error handling a message on %r", getattr(message, "topic", "?"))
