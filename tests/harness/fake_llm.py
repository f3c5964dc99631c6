"""A fake of the deployed LLM service, quirks included, run as its own process (`python -m tests.harness.fake_llm`).

It reproduces what PROTOCOL.md and the issues say the real service does, so tests show the portal defends
against it:
- one dialog per chat sessionId; the system prompt is taken only when it first sees the sessionId;
- not safe when two requests of one session overlap: it keeps ONE reply topic per session, overwritten by each
  request, and answers to whatever it holds when the answer is ready (so overlapping answers get crossed);
- a template update (even one sent to maze/template/<sessionId>) applies to its whole maze project; a state
  message's own `prompt_template` wins;
- answers a message that starts with "json" in JSON, with no `response`/`content`/`hint` field (as a template
  asking for JSON answers makes a real model do);
- announces itself `online` (retained, on connect and every --status-interval s) with an `offline` last will;
  SIGTERM disconnects cleanly WITHOUT saying offline (a silent stop), SIGKILL makes the broker send its will.

Every request it receives is appended as one JSON line to --record, for the tests to read.
"""

from __future__ import annotations

import argparse
import json
import signal
import threading
import time

import paho.mqtt.client as paho
from paho.mqtt.enums import CallbackAPIVersion


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--client-id", default="fake_llm")
    parser.add_argument("--status-topic", default="maze/status")
    parser.add_argument("--status-interval", type=float, default=30.0)
    parser.add_argument("--delay", type=float, default=0.0)
    parser.add_argument("--record", required=True)
    args = parser.parse_args()

    lock = threading.Lock()
    dialogs: dict[str, dict] = {}  # sessionId -> {"prompt", "turns", "reply_topic"}
    project_prompt = {"maze": None}
    stop = threading.Event()
    record = open(args.record, "a", buffering=1)

    client = paho.Client(CallbackAPIVersion.VERSION2, client_id=args.client_id, clean_session=False)

    def status(state: str) -> str:
        return json.dumps({"service": args.client_id, "status": state, "ts": int(time.time())})

    client.will_set(args.status_topic, json.dumps({"service": args.client_id, "status": "offline"}), qos=1, retain=True)

    def answer_chat(session_id: str, message: str) -> None:
        time.sleep(args.delay)
        with lock:
            dialog = dialogs[session_id]
            topic = dialog["reply_topic"]  # the quirk: whichever request of this session came last
            dialog["turns"].append(message)
            prompt = dialog["prompt"]
        if message.startswith("json"):
            text = json.dumps({"action": "answer", "reason": f"to: {message}", "prompt": prompt})
        else:
            text = f"answer to: {message} | prompt: {prompt}"
        client.publish(topic, text.encode(), qos=1)

    def on_message(c, userdata, msg) -> None:
        try:
            data = json.loads(msg.payload)
        except ValueError:
            return
        record.write(json.dumps({"topic": msg.topic, "payload": data, "at": time.time()}) + "\n")
        if msg.topic == "prompt_portal/user_input":
            session_id = data["sessionId"]
            with lock:
                dialog = dialogs.setdefault(session_id, {"prompt": data.get("systemPrompt"), "turns": []})
                dialog["reply_topic"] = data.get("replyTopic") or f"prompt_portal/assistant_response/{session_id}"
            threading.Thread(target=answer_chat, args=(session_id, data["message"]), daemon=True).start()
        elif msg.topic.startswith("maze/template"):
            project_prompt["maze"] = data.get("template")  # the quirk: the whole project, whatever the topic
            session_id = msg.topic.rpartition("/")[2]
            c.publish(f"maze/hint/{session_id}", json.dumps({"hint": "Template updated"}), qos=0)
        elif msg.topic == "maze/state":
            own = data.get("prompt_template")
            prompt = own.get("content") if isinstance(own, dict) else None
            prompt = prompt or project_prompt["maze"]
            c.publish(f"maze/hint/{data['sessionId']}", json.dumps({"hint": f"prompt: {prompt}"}), qos=1)

    def on_connect(c, userdata, flags, reason_code, properties) -> None:
        c.subscribe([("prompt_portal/user_input", 1), ("maze/state", 1), ("maze/template/#", 1), ("maze/template", 1)])
        c.publish(args.status_topic, status("online"), qos=1, retain=True)

    client.on_message = on_message
    client.on_connect = on_connect
    signal.signal(signal.SIGTERM, lambda *_: stop.set())
    client.reconnect_delay_set(0.5, 0.5)
    client.connect("127.0.0.1", args.port, keepalive=10)
    client.loop_start()
    while not stop.wait(args.status_interval):
        if client.is_connected():
            client.publish(args.status_topic, status("online"), qos=0, retain=True)
    client.disconnect()  # clean: the broker drops the will, and it says nothing (a silent stop)
    client.loop_stop()


if __name__ == "__main__":
    main()
