"""The chat page as a prompt bench (issue 20): edit a chat's settings, start from and switch prompt templates, copy
the conversation as Markdown and export it as JSON — in headless Chromium on desktop and phone, against the real
platform (daphne, worker, offline responder)."""

import json
from pathlib import Path
from urllib.parse import parse_qs, urlparse

import pytest

from tests.integration.test_browser import log_in

NEW_CONVERSATION = "New conversation with the model: system prompt changed."
PHONE = {"viewport": {"width": 375, "height": 740}, "is_mobile": True, "has_touch": True}
CLIPBOARD = ["clipboard-read", "clipboard-write"]


@pytest.fixture(scope="module")
def alice(platform):
    return platform.client("alice")


def new_template(client, title, content):
    response = client.post("/api/templates/", {"title": title, "content": content})
    assert response.status_code == 201, response.text
    return response.json()


def watch_errors(page):
    errors = []
    page.on("pageerror", lambda exc: errors.append(str(exc)))
    # Not every console error: the refused PATCH of a bad setting is logged by Chromium, as it should be.
    page.on("console", lambda msg: errors.append(msg.text) if "Content Security Policy" in msg.text else None)
    return errors


def open_session_id(page) -> int:
    return int(parse_qs(urlparse(page.url).query)["session"][0])


def send_and_wait_for_answer(page, text):
    page.wait_for_selector("#composer-send:not([disabled])")
    page.fill("#composer-input", text)
    page.click("#composer-send")
    page.wait_for_selector(f".message-assistant:not(.message-streaming):has-text('{text}')", timeout=10000)


def no_horizontal_overflow(page) -> bool:
    return page.evaluate("document.documentElement.scrollWidth - window.innerWidth") <= 0


def shown_in_the_panel(page, selector) -> bool:
    """Inside the visible part of the settings form, which scrolls on its own."""
    return page.locator(selector).evaluate(
        """node => {
            const box = node.getBoundingClientRect();
            const form = document.getElementById("settings-form").getBoundingClientRect();
            return box.height > 0 && box.top >= form.top - 1 && box.bottom <= form.bottom + 1;
        }"""
    )


def chat_with_a_new_conversation(client, title) -> dict:
    """A chat whose history holds a question, its answer, the notice of a changed prompt and one more turn."""
    session = client.post("/api/chatbot/sessions", {"preset": "general", "title": title}).json()
    ask = {"session_id": session["id"]}
    assert client.post("/api/chatbot/messages", {**ask, "content": "first question"}).status_code == 200
    assert client.request("PATCH", f"/api/chatbot/sessions/{session['id']}", {"system_prompt": "Be brief."}).ok
    assert client.post("/api/chatbot/messages", {**ask, "content": "second question"}).status_code == 200
    return session


# ---- API ----------------------------------------------------------------------------------------------------
def test_export_is_the_owners_download_and_someone_elses_404(platform, alice):
    session = chat_with_a_new_conversation(alice, "Exported bench")
    response = alice.get(f"/api/chatbot/sessions/{session['id']}/export")
    assert response.status_code == 200
    assert response.headers["Content-Type"] == "application/json"
    assert response.headers["Content-Disposition"] == f'attachment; filename="chat-{session["id"]}-exported-bench.json"'
    body = response.json()
    assert body["session"]["system_prompt"] == "Be brief."
    assert [m["role"] for m in body["messages"]] == ["user", "assistant", "notice", "user", "assistant"]
    assert body["messages"][2]["content"] == NEW_CONVERSATION
    other = platform.client("bob").get(f"/api/chatbot/sessions/{session['id']}/export")
    assert other.status_code == 404 and other.json()["detail"]
    assert "Content-Disposition" not in other.headers


# ---- desktop --------------------------------------------------------------------------------------------------
@pytest.mark.browser
def test_edit_settings_then_the_next_message_starts_a_new_conversation_and_templates_switch(
    platform, browser, alice, tmp_path
):
    first = new_template(alice, "Bench terse", "You are terse.")
    second = new_template(alice, "Bench verbose", "You are verbose.")
    page = browser.new_page(viewport={"width": 1200, "height": 900})
    errors = watch_errors(page)
    log_in(page, platform.base_url, "alice")
    # Start a chat from a template: its title and content become the chat's.
    page.wait_for_selector("#new-template-session-btn:not([disabled])")
    page.select_option("#new-session-template", str(first["id"]))
    page.click("#new-template-session-btn")
    page.wait_for_selector("#conversation-title:has-text('Bench terse')")
    send_and_wait_for_answer(page, "first question")
    session_id = open_session_id(page)
    page.click("#session-settings > summary")
    assert page.input_value("#settings-system-prompt") == "You are terse."
    assert page.input_value("#settings-title") == "Bench terse"
    assert "starts a new conversation with the model" in page.inner_text("#settings-prompt-note")

    # Bad input: the API's detail is shown and its field marked; nothing is stored.
    page.fill("#settings-temperature", "5")
    page.click("#settings-save")
    page.wait_for_selector("#settings-error:not([hidden])")
    assert "temperature" in page.inner_text("#settings-error")
    assert page.get_attribute("#settings-temperature", "aria-invalid") == "true"
    assert alice.get(f"/api/chatbot/sessions/{session_id}").json()["temperature"] != 5

    # A new prompt is announced before saving, and after it the next message starts a new conversation.
    page.fill("#settings-temperature", "0.3")
    page.fill("#settings-system-prompt", "Answer in one line.")
    page.wait_for_selector("#settings-prompt-note[data-pending='true']")
    page.click("#settings-save")
    page.wait_for_selector("#settings-status:has-text('next message starts a new conversation')")
    assert page.get_attribute("#settings-temperature", "aria-invalid") is None
    stored = alice.get(f"/api/chatbot/sessions/{session_id}").json()
    assert (stored["temperature"], stored["system_prompt"]) == (0.3, "Answer in one line.")
    assert page.locator(".message-notice").count() == 0
    send_and_wait_for_answer(page, "second question")
    notice = page.locator(f".message-notice:has-text('{NEW_CONVERSATION}')")
    assert notice.count() == 1
    # Between the first answer and the second question: where the model's new conversation began.
    order = page.locator("#messages > .message").all_inner_texts()
    at = next(i for i, text in enumerate(order) if NEW_CONVERSATION in text)
    assert "first question" in order[at - 1] and "second question" in order[at + 1]

    # A title alone changes no conversation.
    page.fill("#settings-title", "Renamed bench")
    page.click("#settings-save")
    page.wait_for_selector("#settings-status:text-is('Saved.')")
    page.wait_for_selector("#conversation-title:has-text('Renamed bench')")
    page.wait_for_selector(".session-item[aria-current='true']:has-text('Renamed bench')")

    # Switch template: its content becomes the system prompt at once (a PATCH), and the next turn says so.
    page.select_option("#settings-template", str(second["id"]))
    page.click("#settings-template-btn")
    page.wait_for_selector("#settings-status:has-text('Bench verbose')")
    assert shown_in_the_panel(page, "#settings-status")
    assert page.input_value("#settings-system-prompt") == "You are verbose."
    assert page.get_attribute("#settings-prompt-note", "data-pending") == "false"  # saved: nothing pending
    assert alice.get(f"/api/chatbot/sessions/{session_id}").json()["system_prompt"] == "You are verbose."
    send_and_wait_for_answer(page, "third question")
    assert page.locator(f".message-notice:has-text('{NEW_CONVERSATION}')").count() == 2
    page.screenshot(path=str(tmp_path / "bench-desktop.png"))
    assert errors == []


@pytest.mark.browser
def test_copy_as_markdown_and_export_as_json(platform, browser, alice):
    session = chat_with_a_new_conversation(alice, "Bench copy")
    context = browser.new_context(viewport={"width": 1200, "height": 900}, permissions=CLIPBOARD)
    page = context.new_page()
    errors = watch_errors(page)
    log_in(page, platform.base_url, "alice")
    page.goto(platform.base_url + f"/chat/?session={session['id']}")
    page.wait_for_selector(".message-assistant:has-text('second question')")
    page.click("#copy-markdown-btn")
    page.wait_for_selector("#copy-markdown-btn:has-text('Copied')")
    markdown = page.evaluate("navigator.clipboard.readText()")
    assert markdown.startswith("# Bench copy\n\n**System prompt:**\n\n> Be brief.\n")
    assert "\n### You\n\nfirst question\n" in markdown
    assert "\n### Assistant\n\n" in markdown
    assert f"\n> {NEW_CONVERSATION}\n" in markdown
    assert markdown.index("first question") < markdown.index(NEW_CONVERSATION) < markdown.index("### You\n\nsecond")

    with page.expect_download() as download_info:
        page.click("#export-json-link")
    download = download_info.value
    assert download.suggested_filename == f"chat-{session['id']}-bench-copy.json"
    exported = json.loads(Path(download.path()).read_text(encoding="utf-8"))
    assert exported["session"]["title"] == "Bench copy"
    assert [m["content"] for m in exported["messages"] if m["role"] == "user"] == ["first question", "second question"]
    assert errors == []
    context.close()


# ---- phone ----------------------------------------------------------------------------------------------------
@pytest.mark.browser
def test_on_a_phone_the_settings_copy_and_export_fit_and_work(platform, browser, alice, tmp_path):
    template = new_template(alice, "Phone bench", "You help on small screens.")
    session = alice.post("/api/chatbot/sessions", {"template_id": template["id"]}).json()
    context = browser.new_context(**PHONE, permissions=CLIPBOARD)
    page = context.new_page()
    errors = watch_errors(page)
    log_in(page, platform.base_url, "alice")
    page.goto(platform.base_url + f"/chat/?session={session['id']}")
    send_and_wait_for_answer(page, "phone question")
    assert page.locator("#copy-markdown-btn").is_visible() and page.locator("#export-json-link").is_visible()
    assert no_horizontal_overflow(page)

    page.click("#session-settings > summary")
    page.wait_for_selector("#settings-save:visible")
    assert page.input_value("#settings-system-prompt") == "You help on small screens."
    assert no_horizontal_overflow(page)
    page.fill("#settings-temperature", "1.1")
    page.fill("#settings-system-prompt", "Short answers for phones.")
    page.wait_for_selector("#settings-prompt-note[data-pending='true']")
    page.screenshot(path=str(tmp_path / "bench-phone-settings.png"))
    assert no_horizontal_overflow(page)
    page.click("#settings-save")
    page.wait_for_selector("#settings-status:has-text('next message starts a new conversation')")
    assert shown_in_the_panel(page, "#settings-status")
    stored = alice.get(f"/api/chatbot/sessions/{session['id']}").json()
    assert (stored["temperature"], stored["system_prompt"]) == (1.1, "Short answers for phones.")
    page.click("#session-settings > summary")  # closed again: the conversation gets the room back
    send_and_wait_for_answer(page, "after the change")
    assert page.locator(f".message-notice:has-text('{NEW_CONVERSATION}')").count() == 1

    page.click("#copy-markdown-btn")
    page.wait_for_selector("#copy-markdown-btn:has-text('Copied')")
    markdown = page.evaluate("navigator.clipboard.readText()")
    assert "> Short answers for phones." in markdown and f"> {NEW_CONVERSATION}" in markdown
    with page.expect_download() as download_info:
        page.click("#export-json-link")
    exported = json.loads(Path(download_info.value.path()).read_text(encoding="utf-8"))
    assert exported["session"]["temperature"] == 1.1
    assert no_horizontal_overflow(page)
    assert errors == []
    context.close()
