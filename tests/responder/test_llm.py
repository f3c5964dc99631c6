import json
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest

from responder.llm import LLMClient, LLMError, hint_from_answer


class FakeModel(BaseHTTPRequestHandler):
    """An OpenAI-compatible endpoint whose answer the test picks: (status, body)."""

    answer: tuple[int, bytes] = (200, b"")
    requests: list = []

    def do_POST(self):
        body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
        type(self).requests.append({"path": self.path, "auth": self.headers.get("Authorization"), "body": body})
        status, payload = self.answer
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(payload)))
        self.end_headers()
        self.wfile.write(payload)

    def log_message(self, *args):
        pass


@pytest.fixture
def model():
    FakeModel.requests = []
    server = ThreadingHTTPServer(("127.0.0.1", 0), FakeModel)
    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)
    thread.start()
    try:
        yield server
    finally:
        server.shutdown()
        server.server_close()


def client(server, **kw):
    return LLMClient(f"http://127.0.0.1:{server.server_port}/v1", model="m1", **kw)


def completion(text):
    return json.dumps({"choices": [{"message": {"role": "assistant", "content": text}}]}).encode()


def test_completion_request_and_answer(model):
    FakeModel.answer = (200, completion(" Head east. "))
    messages = [{"role": "system", "content": "S"}, {"role": "user", "content": "U"}]
    text = client(model, api_key="k").complete(messages, temperature=0.5, top_p=0.9, max_tokens=64)
    assert text == "Head east."
    (request,) = FakeModel.requests
    assert request["path"] == "/v1/chat/completions" and request["auth"] == "Bearer k"
    assert request["body"] == {"model": "m1", "messages": messages, "temperature": 0.5, "top_p": 0.9, "max_tokens": 64}


def test_unset_sampling_settings_and_key_are_not_sent(model):
    FakeModel.answer = (200, completion("ok"))
    client(model).complete([{"role": "user", "content": "U"}])
    (request,) = FakeModel.requests
    assert request["auth"] is None and set(request["body"]) == {"model", "messages"}


@pytest.mark.parametrize(
    "answer, reason",
    [
        ((429, b'{"error": {"message": "slow down"}}'), "rate limited: slow down"),
        ((500, b"oops"), "HTTP 500"),
        ((200, b"not json"), "unexpected response"),
        ((200, completion("   ")), "empty answer"),
    ],
)
def test_failures_become_short_reasons(model, answer, reason):
    FakeModel.answer = answer
    with pytest.raises(LLMError, match=reason):
        client(model).complete([{"role": "user", "content": "U"}])


def test_unreachable_endpoint():
    with pytest.raises(LLMError, match="cannot reach"):
        LLMClient("http://127.0.0.1:1/v1", model="m").complete([{"role": "user", "content": "U"}])


def test_hint_is_found_in_prose_and_fences():
    assert hint_from_answer('{"hint": "Go east", "path": [[1, 0]]}') == {"hint": "Go east", "path": [[1, 0]]}
    assert hint_from_answer('Sure!\n```json\n{"hint": "Go north"}\n```') == {"hint": "Go north"}
    assert hint_from_answer('{"note": {"x": 1}} then {"hint": "Go west"}') == {"hint": "Go west"}
    assert hint_from_answer("Go east, then north.") is None
    assert hint_from_answer('{"hint": ""}') is None
