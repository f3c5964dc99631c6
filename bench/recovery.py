"""Recovery after a broker outage: how long from the broker accepting connections again to the first chat reply.

    .venv/bin/python bench/recovery.py --outages 5 30 60

The whole platform (mosquitto, Redis, daphne, worker, offline responder) with the production reconnect schedule
(MQTT_RECONNECT_INTERVAL=0.5, MQTT_RECONNECT_FAST_PERIOD=60, MQTT_RECONNECT_MAX_DELAY=30). For each outage length:
the broker is stopped, the worker's reconnect attempts during the outage are read from its shared state, the broker
is started, and a chat request is sent every 50 ms until one is answered 200. Printed per outage: attempts per
second while the broker was down, and the time to the first reply.
"""

from __future__ import annotations

import argparse
import time

from common import machine_line, start_platform

from tests.harness.procs import wait_until


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--outages", type=float, nargs="+", default=[5, 30, 60], help="outage lengths in seconds")
    args = parser.parse_args()
    print(machine_line("offline responder, WORKER_HEARTBEAT_INTERVAL=0.5"), flush=True)
    p = start_platform(
        "bench-recovery-",
        MQTT_RECONNECT_INTERVAL="0.5",
        MQTT_RECONNECT_FAST_PERIOD="60",
        MQTT_RECONNECT_MAX_DELAY="30",
        WORKER_HEARTBEAT_INTERVAL="0.5",
    )
    try:
        p.create_user("bench")
        client = p.client("bench")
        session = client.new_session()

        def answered(timeout: float = 5) -> bool:
            response = client.post(
                "/api/chatbot/messages", {"session_id": session["id"], "content": "back?"}, timeout=timeout
            )
            return response.status_code == 200

        assert answered()
        for outage in args.outages:
            p.broker.stop()
            up_again_at = time.monotonic() + outage
            wait_until(lambda at=up_again_at: time.monotonic() >= at, outage + 5, interval=0.05)
            attempts = p.worker_states()[0]["reconnect_attempts"]
            p.broker.start()
            back_at = time.monotonic()
            wait_until(answered, 120, interval=0.05, what="the first reply")
            recovered = time.monotonic() - back_at
            print(
                f"outage {outage:5.1f} s: {attempts} reconnect attempts ({attempts / outage:.2f}/s), "
                f"first reply {recovered:.2f} s after the broker was back",
                flush=True,
            )
            wait_until(lambda: p.pending() == 0, 30, what="pending to drain")
    finally:
        p.stop_all()


if __name__ == "__main__":
    main()
