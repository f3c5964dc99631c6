"""The MQTT link over TLS reads every packet of a TLS record (portal/mqtt/client.py): paho is driven from the event
loop, which wakes when the socket is readable; packets already decrypted inside the SSL object do not make it so.

A minimal broker written here sends CONNACK and a PUBLISH in one TLS record and then nothing: the PUBLISH must
still reach the link's on_message at once, not whenever the broker happens to send something else."""

import asyncio
import socket
import ssl
import threading

from portal.mqtt.client import LinkConfig, MqttLink
from tests.harness.certs import CertificateAuthority

CONNACK = b"\x20\x02\x00\x00"
PUBLISH_T_A_HELLO = b"\x30\x0a\x00\x03t/ahello"  # QoS 0, topic "t/a", payload "hello"


def serve_one_client(listener: socket.socket, context: ssl.SSLContext, done: threading.Event) -> None:
    conn, _ = listener.accept()
    with context.wrap_socket(conn, server_side=True) as tls:
        tls.recv(4096)  # the CONNECT
        tls.sendall(CONNACK + PUBLISH_T_A_HELLO)  # one write: one TLS record with both packets
        tls.settimeout(0.2)
        while not done.is_set():  # then silence (whatever the client sends is read and ignored)
            try:
                if not tls.recv(4096):
                    return
            except (TimeoutError, ssl.SSLError, OSError):
                continue


def test_two_packets_in_one_tls_record_are_both_handled(tmp_path):
    ca = CertificateAuthority(tmp_path / "ca")
    server_cert = ca.issue("localhost", server=True)
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    context.load_cert_chain(server_cert.cert, server_cert.key)
    listener = socket.create_server(("127.0.0.1", 0))
    done = threading.Event()
    broker = threading.Thread(target=serve_one_client, args=(listener, context, done), daemon=True)
    broker.start()
    received = []

    async def main():
        got = asyncio.Event()

        def on_message(topic, payload, retained):
            received.append((topic, payload))
            got.set()

        link = MqttLink(
            LinkConfig(
                host="127.0.0.1",
                port=listener.getsockname()[1],
                client_id="tls-test",
                keepalive=60,
                tls=True,
                tls_ca_file=str(ca.files.cert),
                subscriptions=(("t/#", 0),),
            ),
            on_message=on_message,
            on_state=lambda connected, reason: None,
        )
        link.start()
        try:
            await asyncio.wait_for(got.wait(), 3)
            assert link.connected
        finally:
            await link.stop()

    try:
        asyncio.run(main())
    finally:
        done.set()
        broker.join(5)
        listener.close()
    assert received == [("t/a", b"hello")]
