"""A real user in headless Chromium (Debian's package, driven by Playwright): log in, chat, see the reply."""

import pytest

pytestmark = pytest.mark.browser


def log_in(page, base_url, username):
    page.goto(base_url + "/accounts/login/?next=/chat/")
    page.fill("input[name=username]", username)
    page.fill("input[name=password]", "correct-horse-battery-9")
    page.click("form [type=submit]")
    page.wait_for_url(base_url + "/chat/")


def test_log_in_send_a_message_and_see_the_reply(platform, browser, tmp_path):
    page = browser.new_page()
    errors = []
    page.on("pageerror", lambda exc: errors.append(str(exc)))
    log_in(page, platform.base_url, "alice")
    page.wait_for_selector("#new-session-btn:not([disabled])")
    page.select_option("#new-session-preset", "general")
    page.click("#new-session-btn")
    page.wait_for_selector("#composer-input:not([disabled])")
    page.fill("#composer-input", "Which way to the exit?")
    page.click("#composer-send")
    page.wait_for_selector(".message-user:has-text('Which way to the exit?')")
    reply = page.wait_for_selector(".message-assistant:has-text('Which way to the exit?')", timeout=10000)
    assert "[offline]" in reply.inner_text()
    page.screenshot(path=str(tmp_path / "chat.png"))
    # The reply is in the history too, so it survives a reload.
    page.reload()
    page.wait_for_selector(".message-assistant:has-text('Which way to the exit?')", timeout=10000)
    assert errors == []


def test_phone_sized_screen_has_no_horizontal_overflow(platform, browser):
    context = browser.new_context(viewport={"width": 375, "height": 740}, is_mobile=True, has_touch=True)
    page = context.new_page()
    log_in(page, platform.base_url, "alice")
    page.wait_for_selector("#composer-input")
    overflow = page.evaluate("document.documentElement.scrollWidth - window.innerWidth")
    assert overflow <= 0
    assert page.locator("meta[name=mobile-web-app-capable]").count() == 1
    assert page.locator("meta[name=apple-mobile-web-app-capable]").count() == 1
    context.close()


def test_maze_game_with_a_template_gets_an_offline_hint_and_draws_its_path(platform, browser, tmp_path):
    template = (
        platform.client("alice")
        .post("/api/templates/", {"title": "Browser LAM", "content": "Lead me to the exit."})
        .json()
    )
    page = browser.new_page(viewport={"width": 1200, "height": 900})
    errors = []
    page.on("pageerror", lambda exc: errors.append(str(exc)))
    log_in(page, platform.base_url, "alice")
    page.goto(platform.base_url + "/maze/")
    page.select_option("#maze-template", str(template["id"]))
    page.click("#maze-start")
    page.wait_for_selector("#maze-canvas")
    page.click("#request-hint")
    # Selectors, not wait_for_function: the page's CSP forbids evaluating strings as scripts.
    page.wait_for_selector("#maze-canvas[data-path-length]:not([data-path-length='0'])", timeout=10000)
    assert page.inner_text("#hint-text").strip()
    assert page.locator("#hint-actions li.action-applied").count() >= 1
    assert "ms" in page.inner_text("#hint-latency")
    page.screenshot(path=str(tmp_path / "maze.png"))
    assert errors == []


def test_a_waiting_message_and_a_new_conversation_are_shown_as_such(platform, browser):
    alice = platform.client("alice")
    page = browser.new_page()
    errors = []
    page.on("pageerror", lambda exc: errors.append(str(exc)))
    log_in(page, platform.base_url, "alice")
    page.wait_for_selector("#new-session-btn:not([disabled])")
    page.click("#new-session-btn")
    page.wait_for_selector("#composer-input:not([disabled])")
    page.fill("#composer-input", "!sleep 1 first question")
    page.click("#composer-send")
    page.wait_for_selector(".message-user:has-text('first question')")
    page.fill("#composer-input", "second question")
    page.click("#composer-send")
    # Answered one at a time: the second waits, visibly, then gets its own answer after the first's.
    page.wait_for_selector(".message-queued:has-text('second question') >> text=answered first", timeout=5000)
    page.wait_for_selector(".message-assistant:has-text('second question')", timeout=10000)
    assert page.locator(".message-queued").count() == 0
    answers = page.locator(".message-assistant").all_inner_texts()
    assert "first question" in answers[0] and "second question" in answers[1]
    # A changed system prompt shows where the model's new conversation begins.
    session_id = alice.get("/api/chatbot/sessions").json()["sessions"][0]["id"]
    assert (
        alice.request("PATCH", f"/api/chatbot/sessions/{session_id}", {"system_prompt": "Answer briefly."}).status_code
        == 200
    )
    page.fill("#composer-input", "third question")
    page.click("#composer-send")
    page.wait_for_selector(".message-notice:has-text('New conversation with the model: system prompt changed')")
    page.wait_for_selector(".message-assistant:has-text('third question')", timeout=10000)
    assert errors == []


def test_an_autopilot_game_is_won_and_scored_from_the_play_the_server_saw(platform, browser):
    page = browser.new_page(viewport={"width": 1200, "height": 900})
    errors = []
    page.on("pageerror", lambda exc: errors.append(str(exc)))
    log_in(page, platform.base_url, "alice")
    page.goto(platform.base_url + "/maze/")
    page.select_option("#maze-size", "21x15")
    page.fill("#maze-germs", "0")
    page.select_option("#maze-mode", "lam")
    page.click("#maze-start")
    # The autopilot follows the offline responder's paths (12 steps per hint) to the exit, every step reported.
    page.wait_for_selector("#maze-result[data-outcome='won']", timeout=60000)
    page.wait_for_selector("#maze-score:has-text('points')", timeout=10000)
    assert page.locator("#maze-result-error").is_hidden()
    board = platform.client("alice").get("/api/leaderboard/").json()
    assert any(row["user"] == "alice" and row["mode"] == "lam" and row["won"] for row in board["results"])
    assert errors == []


LONG_LINE = "x = " + "0123456789" * 11  # wider than a phone: the code block scrolls, the page does not
MARKDOWN = (
    "intro\n\n# Title\n\n- one\n- two\n\n| a | b |\n|---|---|\n| 1 | 2 |\n\n"
    f'```python\nprint("copy me")\n{LONG_LINE}\n```\n\n'
    "Some `inline` code, a [safe link](https://example.com/) and a [bad link](javascript:alert(1)).\n\n"
    '<img src=x onerror="window.pwned=1"> <script>window.pwned=2</script>\n\n'
    "![remote](https://example.com/pixel.png)"
)


def test_answers_render_markdown_safely_and_code_blocks_can_be_copied(platform, browser):
    # Phone-sized, so the same answer also shows that wide code and tables scroll inside their bubble.
    context = browser.new_context(
        viewport={"width": 375, "height": 740},
        is_mobile=True,
        has_touch=True,
        permissions=["clipboard-read", "clipboard-write"],
    )
    page = context.new_page()
    errors, console_errors = [], []
    page.on("pageerror", lambda exc: errors.append(str(exc)))
    page.on("console", lambda msg: console_errors.append(msg.text) if msg.type == "error" else None)
    # A chat of its own, opened by URL: on a phone the "New chat" button hides in the closed drawer.
    session = platform.client("alice").new_session()
    log_in(page, platform.base_url, "alice")
    page.goto(platform.base_url + f"/chat/?session={session['id']}")
    page.wait_for_selector("#composer-send:not([disabled])")
    page.fill("#composer-input", MARKDOWN)
    page.click("#composer-send")
    # The user's own words stay plain text, exactly as typed.
    user_body = page.wait_for_selector(".message-user .message-body")
    assert user_body.text_content() == MARKDOWN
    assert user_body.query_selector("table, h1, a, code") is None
    page.wait_for_selector(".message-assistant:not(.message-streaming) .message-body table", timeout=10000)
    answer = page.locator(".message-assistant").last.locator(".message-body")
    assert answer.locator("h1").inner_text() == "Title"
    assert answer.locator("ul > li").all_inner_texts() == ["one", "two"]
    assert answer.locator("table th").all_inner_texts() == ["a", "b"]
    assert answer.locator("table td").all_inner_texts() == ["1", "2"]
    assert answer.locator("p code").inner_text() == "inline"
    code = answer.locator("pre code")
    assert code.text_content() == f'print("copy me")\n{LONG_LINE}\n'
    safe = answer.locator("a[href='https://example.com/']")
    assert safe.get_attribute("rel") == "noopener noreferrer"
    # Raw HTML is shown as text and never becomes elements; no javascript: link, no remote image.
    assert "<img src=x" in answer.inner_text() and "<script>" in answer.inner_text()
    assert page.locator("#messages img, #messages script, #messages [onerror], #messages [style]").count() == 0
    hrefs = answer.locator("a").evaluate_all("links => links.map((a) => a.getAttribute('href'))")
    assert not any(href and "javascript" in href.lower() for href in hrefs)
    assert page.evaluate("typeof window.pwned") == "undefined"
    # Copy puts the code on the clipboard and says so for a moment.
    page.click(".message-assistant .code-copy")
    page.wait_for_selector(".message-assistant .code-copy:has-text('Copied')")
    assert page.evaluate("navigator.clipboard.readText()") == code.text_content()
    page.wait_for_selector(".message-assistant .code-copy:has-text('Copy'):not(:has-text('Copied'))", timeout=5000)
    # Nothing is wider than the phone: the code block scrolls inside the bubble.
    assert page.evaluate("document.documentElement.scrollWidth - window.innerWidth") <= 0
    assert page.locator("#messages").evaluate("m => m.scrollWidth - m.clientWidth") <= 0
    assert answer.locator("pre").evaluate("pre => pre.scrollWidth > pre.clientWidth")
    # The history renders it the same way after a reload.
    page.reload()
    page.wait_for_selector(".message-assistant .message-body table", timeout=10000)
    assert page.locator(".message-assistant pre code").text_content() == f'print("copy me")\n{LONG_LINE}\n'
    assert errors == [] and not [text for text in console_errors if "Content Security Policy" in text]
    context.close()
