"""A local OpenAI-compatible `/chat/completions` endpoint for the responder's LLM-mode tests.

Each test queues what the next calls get (`Reply`s, in order; once the queue is empty the last one repeats) and
reads what the calls sent (`FakeModel.requests`). HTTP/1.1 with chunked streams, so that a stream cut off part-way
is told apart from one that ended.
"""

from __future__ import annotations

import json
import sys
import threading
from collections import deque
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer


@dataclass
class Reply:
    status: int = 200
    body: object = None  # a whole answer: JSON-encoded unless bytes
    events: list = field(default_factory=list)  # a streamed answer: SSE `data:` items (objects, or "[DONE]")
    headers: dict = field(default_factory=dict)
    hold: threading.Event | None = None  # wait for it before answering (or, with hold_after, part-way)
    hold_after: int = 0  # the number of events sent before waiting for `hold`
    cut: bool = False  # end the connection after the events, without finishing the HTTP response


def completion(text: str) -> Reply:
    return Reply(body={"choices": [{"index": 0, "message": {"role": "assistant", "content": text}}]})


def chunk(content: str | None = None, finish: str | None = None) -> dict:
    delta = {} if content is None else {"content": content}
    return {"object": "chat.completion.chunk", "choices": [{"index": 0, "delta": delta, "finish_reason": finish}]}


def streamed(*deltas: str, done: bool = True) -> Reply:
    """A streamed answer as llama.cpp sends one: a role-only chunk, the deltas, a finishing chunk, [DONE]."""
    events = [{"choices": [{"index": 0, "delta": {"role": "assistant"}, "finish_reason": None}]}]
    events += [chunk(delta) for delta in deltas]
    if done:
        events += [chunk(finish="stop"), "[DONE]"]
    return Reply(events=events)


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server: FakeModel

    def do_POST(self):
        body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
        reply = self.server.record(self.path, self.headers.get("Authorization"), body)
        if reply.hold is not None and not reply.events:
            reply.hold.wait(10)
        self.send_response(reply.status)
        for name, value in reply.headers.items():
            self.send_header(name, value)
        if reply.events:
            self._stream(reply)
            return
        payload = reply.body if isinstance(reply.body, bytes) else json.dumps(reply.body).encode()
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(payload)))
        self.end_headers()
        self.wfile.write(payload)

    def _stream(self, reply: Reply) -> None:
        self.send_header("Content-Type", "text/event-stream")
        self.send_header("Transfer-Encoding", "chunked")
        self.end_headers()
        try:
            for index, event in enumerate(reply.events):
                if reply.hold is not None and index == reply.hold_after:
                    reply.hold.wait(10)
                data = event if isinstance(event, str) else json.dumps(event)
                piece = f"data: {data}\n\n".encode()
                self.wfile.write(f"{len(piece):x}\r\n".encode() + piece + b"\r\n")
                self.wfile.flush()
            if reply.cut:
                self.close_connection = True
                return
            self.wfile.write(b"0\r\n\r\n")
        except OSError:  # the client closed the stream (a cancel): nothing more to send
            self.close_connection = True

    def log_message(self, *args):
        pass


class FakeModel(ThreadingHTTPServer):
    daemon_threads = True

    def __init__(self):
        super().__init__(("127.0.0.1", 0), _Handler)
        self.requests: list[dict] = []
        self._replies: deque[Reply] = deque([completion("ok")])
        self._lock = threading.Lock()
        self.releases: list[threading.Event] = []

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.server_port}/v1"

    def answer(self, *replies: Reply) -> None:
        with self._lock:
            self._replies = deque(replies)
        self.releases += [reply.hold for reply in replies if reply.hold is not None]

    def record(self, path: str, auth: str | None, body: dict) -> Reply:
        with self._lock:
            self.requests.append({"path": path, "auth": auth, "body": body})
            return self._replies.popleft() if len(self._replies) > 1 else self._replies[0]

    def handle_error(self, request, client_address) -> None:
        # A client that gave up (a timeout test) or closed its stream (a cancel) is expected, not worth a trace.
        if not isinstance(sys.exc_info()[1], OSError):
            super().handle_error(request, client_address)

    def start(self) -> FakeModel:
        threading.Thread(target=self.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True).start()
        return self

    def stop(self) -> None:
        for release in self.releases:  # a held answer would keep its handler thread waiting
            release.set()
        self.shutdown()
        self.server_close()
