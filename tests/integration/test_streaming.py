"""Streamed answers end to end (docs/protocol.md "Streamed answers", "Cancel"): the reference responder streams
word by word through the real broker, the worker relays, daphne serves the socket and Server-Sent Events."""

import json
import time

import pytest
import requests
from websockets.sync.client import connect

from tests.harness.procs import wait_until
from tests.integration.test_browser import log_in

RATE = 25  # words per second: slow enough that a 100-word answer outlasts CHAT_REPLY_TIMEOUT
PLATFORM_ENV = {"RESPONDER_STREAM_RATE": str(RATE), "CHAT_REPLY_TIMEOUT": "3", "CHAT_STREAM_IDLE_TIMEOUT": "1.5"}
ECHO = "[offline] You said: "


@pytest.fixture(scope="module")
def alice(platform):
    return platform.client("alice")


def open_socket(platform, client, session_id):
    return connect(
        client.ws_url(f"/ws/chat/{session_id}/"),
        origin=platform.base_url,
        additional_headers={"Cookie": client.cookie_header},
        open_timeout=5,
    )


def frames_until_end(ws, timeout=15.0) -> list[dict]:
    """Every frame up to and including the request's chat.reply or chat.error."""
    frames, deadline = [], time.monotonic() + timeout
    while True:
        frame = json.loads(ws.recv(timeout=max(0.1, deadline - time.monotonic())))
        frames.append(frame)
        if frame["type"] in ("chat.reply", "chat.error"):
            return frames


def shown(frames) -> str:
    """What the chat page shows from the deltas (append where the text ends; skip repeats; stop at a gap)."""
    text = ""
    for frame in frames:
        if frame["type"] == "chat.delta" and frame["offset"] == len(text):
            text += frame["delta"]
    return text


def words(n: int) -> str:
    return " ".join(f"w{i}" for i in range(n))


def test_an_answer_streams_over_the_socket_and_the_final_reply_is_stored_once(platform, alice):
    session = alice.new_session()
    question = f"stream me {words(20)}"
    with open_socket(platform, alice, session["id"]) as ws:
        ws.send(json.dumps({"type": "chat.message", "content": question}))
        frames = frames_until_end(ws)
    kinds = [f["type"] for f in frames]
    assert kinds[0] == "chat.accepted" and kinds[-1] == "chat.reply", kinds
    deltas = [f for f in frames if f["type"] == "chat.delta"]
    assert len(deltas) >= 2, kinds  # the text grew on screen before the answer was complete
    final = frames[-1]["assistant_message"]["content"]
    # The final reply replaces the preview: what was streamed is its beginning (the last words may come with it).
    assert final == ECHO + question and final.startswith(shown(frames)) and len(shown(frames)) > len(ECHO)
    history = alice.get(f"/api/chatbot/sessions/{session['id']}/messages").json()["messages"]
    assert [(m["role"], m["content"]) for m in history] == [("user", question), ("assistant", final)]


@pytest.mark.parametrize("hook", ["!dupchunks", "!shufflechunks", "!dropchunks"])
def test_lost_duplicated_and_reordered_chunks_never_garble_what_the_user_ends_up_with(platform, alice, hook):
    session = alice.new_session()
    question = f"{hook} {words(16)}"
    with open_socket(platform, alice, session["id"]) as ws:
        ws.send(json.dumps({"type": "chat.message", "content": question}))
        frames = frames_until_end(ws)
    final = frames[-1]["assistant_message"]["content"]
    assert frames[-1]["type"] == "chat.reply" and final == ECHO + question
    assert final.startswith(shown(frames))  # the preview is always a true beginning of the answer


def test_a_second_tab_sees_the_same_stream(platform, alice):
    session = alice.new_session()
    question = f"both tabs {words(12)}"
    with open_socket(platform, alice, session["id"]) as tab1, open_socket(platform, alice, session["id"]) as tab2:
        tab1.send(json.dumps({"type": "chat.message", "content": question}))
        mine, theirs = frames_until_end(tab1), frames_until_end(tab2)
    assert [f for f in theirs if f["type"] == "chat.delta"], theirs
    assert (ECHO + question).startswith(shown(theirs)) and len(shown(theirs)) > len(ECHO)
    assert theirs[-1]["assistant_message"]["id"] == mine[-1]["assistant_message"]["id"]


def test_a_long_answer_that_keeps_streaming_is_not_cut_at_the_reply_timeout(platform, alice):
    session = alice.new_session()
    question = words(95)  # about 4 s of streaming against CHAT_REPLY_TIMEOUT=3
    started = time.monotonic()
    response = alice.post("/api/chatbot/messages", {"session_id": session["id"], "content": question}, timeout=20)
    assert response.status_code == 200, response.text
    assert response.json()["assistant_message"]["content"] == ECHO + question
    assert time.monotonic() - started > 3.0  # it really did outlast the timeout


def test_a_stream_that_stalls_ends_with_a_clear_504(platform, alice):
    session = alice.new_session()
    started = time.monotonic()
    # Streams for about 2 s, then stops for 3 s: past the 1.5-s idle window after the reply timeout.
    response = alice.post(
        "/api/chatbot/messages", {"session_id": session["id"], "content": f"!stall 3 {words(95)}"}, timeout=20
    )
    assert response.status_code == 504 and response.json()["code"] == "timeout", response.text
    assert time.monotonic() - started < 4.5


def test_server_sent_events_give_the_deltas_then_the_reply(platform, alice):
    session = alice.new_session()
    question = f"sse please {words(12)}"
    response = alice.post(
        "/api/chatbot/messages",
        {"session_id": session["id"], "content": question},
        headers={"Accept": "text/event-stream"},
        stream=True,
        timeout=15,
    )
    assert response.status_code == 200 and response.headers["Content-Type"].startswith("text/event-stream")
    events = []
    for block in response.iter_lines(delimiter="\n\n", decode_unicode=True):
        if block.strip():
            name, data = (line.split(": ", 1)[1] for line in block.strip().split("\n"))
            events.append((name, json.loads(data)))
    names = [name for name, _ in events]
    assert names[0] == "accepted" and names[-1] == "reply" and names.count("delta") >= 2, names
    final = events[-1][1]
    assert final["status"] == 200 and final["assistant_message"]["content"] == ECHO + question
    streamed = shown([{"type": "chat.delta", **data} for name, data in events if name == "delta"])
    assert (ECHO + question).startswith(streamed) and len(streamed) > len(ECHO)


def test_errors_come_as_an_sse_event_with_todays_codes(platform, alice):
    response = alice.post(
        "/api/chatbot/messages",
        {"session_id": alice.new_session()["id"], "content": "!error please"},
        headers={"Accept": "text/event-stream"},
        timeout=15,
    )
    last = response.text.strip().split("\n\n")[-1].split("\n")
    assert last[0] == "event: error"
    body = json.loads(last[1].split(": ", 1)[1])
    assert body["status"] == 503 and body["code"] == "llm_error"


def test_stop_keeps_what_was_written_and_the_next_message_starts_a_new_conversation(platform, alice):
    session = alice.new_session()
    question = words(95)
    with open_socket(platform, alice, session["id"]) as ws:
        ws.send(json.dumps({"type": "chat.message", "content": question}))
        frames = [json.loads(ws.recv(timeout=10))]
        while frames[-1]["type"] != "chat.delta":
            frames.append(json.loads(ws.recv(timeout=10)))
        ws.send(json.dumps({"type": "chat.stop", "request_id": frames[-1]["request_id"]}))
        frames += frames_until_end(ws)
        final = frames[-1]
        assert final["type"] == "chat.reply" and final["stopped"] is True, frames[-3:]
        kept = final["assistant_message"]["content"]
        assert (ECHO + question).startswith(kept) and len(kept) < len(ECHO + question)
        assert final["assistant_message"]["metadata"] == {"stopped": True}
        ws.send(json.dumps({"type": "chat.message", "content": "and now?"}))
        after = frames_until_end(ws)
    assert "the previous answer was stopped" in after[0]["notice"]["content"]
    assert after[-1]["assistant_message"]["content"] == ECHO + "and now?"


def test_a_broker_restart_mid_stream_still_ends_the_request(platform, alice):
    session = alice.new_session()
    with open_socket(platform, alice, session["id"]) as ws:
        ws.send(json.dumps({"type": "chat.message", "content": words(60)}))
        while json.loads(ws.recv(timeout=10))["type"] != "chat.delta":
            pass
        platform.broker.restart()
        frames = frames_until_end(ws, timeout=20)
    end = frames[-1]
    # The final reply (QoS 1, kept for the worker's persistent session) or a clear error; never a hang.
    assert end["type"] == "chat.reply" or end["code"] in ("timeout", "unavailable"), end
    if end["type"] == "chat.reply":
        assert end["assistant_message"]["content"] == ECHO + words(60)
    # Chat works again once the worker is back on the broker.
    wait_until(
        lambda: (
            alice.post(
                "/api/chatbot/messages", {"session_id": session["id"], "content": "after"}, timeout=20
            ).status_code
            == 200
        ),
        20,
        interval=0.3,
        what="chat after the broker restart",
    )


def test_the_reply_of_a_peer_that_does_not_stream_is_delivered_as_before(platform, alice):
    # The portal asks every request to stream; a request the responder answers without streaming ("!error",
    # or any request when it runs without streaming, as every other integration module does) works as before.
    session = alice.new_session()
    with open_socket(platform, alice, session["id"]) as ws:
        ws.send(json.dumps({"type": "chat.message", "content": "!error no stream for this one"}))
        frames = frames_until_end(ws)
    assert [f["type"] for f in frames] == ["chat.accepted", "chat.reply"] and frames[-1]["is_error"]


def test_sse_client_that_goes_away_leaves_the_platform_serving(platform, alice):
    session = alice.new_session()
    with requests.post(
        alice.base_url + "/api/chatbot/messages",
        json={"session_id": session["id"], "content": words(60)},
        headers={"Accept": "text/event-stream", "X-CSRFToken": alice.http.cookies.get("csrftoken", "")},
        cookies=alice.http.cookies,
        stream=True,
        timeout=10,
    ) as response:
        assert next(response.iter_lines())  # the first event came; then the client hangs up
    reply = alice.post("/api/chatbot/messages", {"session_id": alice.new_session()["id"], "content": "ok"}, timeout=20)
    assert reply.status_code == 200


@pytest.mark.browser
def test_the_chat_page_shows_the_text_as_it_grows_and_stop_keeps_it(platform, browser):
    page = browser.new_page()
    errors = []
    page.on("pageerror", lambda exc: errors.append(str(exc)))
    log_in(page, platform.base_url, "alice")
    page.wait_for_selector("#new-session-btn:not([disabled])")
    page.click("#new-session-btn")
    page.wait_for_selector("#composer-input:not([disabled])")
    # Time from the click to the first streamed words painted (a MutationObserver set up before the click).
    page.evaluate(
        """() => {
          window.firstDelta = null;
          new MutationObserver(() => {
            const body = document.querySelector('.message-streaming .message-body');
            if (body && body.textContent && window.firstDelta === null) window.firstDelta = performance.now();
          }).observe(document.getElementById('messages'), {childList: true, subtree: true, characterData: true});
          const send = document.getElementById('composer-send');
          send.addEventListener('click', () => { window.sentAt = performance.now(); });
        }"""
    )
    page.fill("#composer-input", words(95))
    page.click("#composer-send")
    body = page.wait_for_selector(".message-streaming .message-body:not(:empty)", timeout=10000)
    first = len(body.inner_text())
    wait_until(lambda: len(body.inner_text()) > first + 20, 10, what="the streamed text to grow")
    to_first_words_ms = page.evaluate("window.firstDelta - window.sentAt")
    print(f"first streamed words painted {to_first_words_ms:.0f} ms after the click")
    assert 0 < to_first_words_ms < 3000
    page.click(".message-streaming .stop-btn")
    stopped = page.wait_for_selector(".message-stopped", timeout=10000)
    kept = stopped.query_selector(".message-body").inner_text()
    assert "Stopped." in stopped.inner_text() and len(kept) > first
    assert (ECHO + words(95)).startswith(kept.strip())
    assert page.locator(".message-streaming").count() == 0
    assert errors == []


@pytest.mark.browser
def test_a_streaming_answer_is_rendered_as_markdown_as_it_grows(platform, browser):
    page = browser.new_page()
    errors = []
    page.on("pageerror", lambda exc: errors.append(str(exc)))
    log_in(page, platform.base_url, "alice")
    page.wait_for_selector("#new-session-btn:not([disabled])")
    page.click("#new-session-btn")
    page.wait_for_selector("#composer-input:not([disabled])")
    page.fill("#composer-input", f"intro\n\n```\n{words(60)}\n```\n\n| a | b |\n|---|---|\n| 1 | 2 |")
    page.click("#composer-send")
    # Before its closing fence arrives the code is already a code block (with its Copy button), not raw backticks.
    page.wait_for_selector(".message-streaming .message-body pre code", timeout=10000)
    streaming_code = """() => {
      const body = document.querySelector('.message-streaming .message-body');
      return body ? [body.querySelector('pre code')?.textContent ?? '', body.innerText] : null;
    }"""
    code, text = page.evaluate(streaming_code)
    assert "```" not in text and page.locator(".message-streaming .code-copy").count() == 1
    wait_until(
        lambda: (now := page.evaluate(streaming_code)) and len(now[0]) > len(code), 10, what="the code block to grow"
    )
    # The stored answer replaces the streamed one, rendered the same way.
    page.wait_for_selector(".message-assistant:not(.message-streaming) .message-body table", timeout=15000)
    assert page.locator(".message-assistant pre code").text_content() == words(60) + "\n"
    assert page.locator(".message-streaming").count() == 0
    assert errors == []
