"""The maze page's game panel in headless Chromium, desktop and phone sized: the hint counter is the server's count
of the hints that arrived, the status says when a requested hint arrived, the hint history lists every hint
(declared, applied and ignored actions with reasons, the raw reply) as text, and the template selects show their
whole text."""

import json

import pytest

from tests.harness.mqtt import MqttPeer
from tests.harness.procs import wait_until

pytestmark = pytest.mark.browser

DESKTOP = {"width": 1280, "height": 900}
PHONE = {"width": 375, "height": 740}
LONG_TITLE = "Shortest safe path guide"  # cut off beside the Switch button before


def open_page(platform, browser, viewport, *, phone=False):
    context = browser.new_context(viewport=viewport, is_mobile=phone, has_touch=phone)
    page = context.new_page()
    errors = []
    page.on("pageerror", lambda exc: errors.append(str(exc)))
    page.goto(platform.base_url + "/accounts/login/?next=/maze/")
    page.fill("input[name=username]", "alice")
    page.fill("input[name=password]", "correct-horse-battery-9")
    page.click("form [type=submit]")
    page.wait_for_url(platform.base_url + "/maze/")
    return context, page, errors


def start_game(page, template_id=None):
    """A small manual game without germs; the API's answer (the game's id and session key)."""
    page.select_option("#maze-size", "21x15")
    page.fill("#maze-germs", "0")
    if template_id is not None:
        page.select_option("#maze-template", str(template_id))
    with page.expect_response(lambda r: r.url.endswith("/api/maze/games") and r.request.method == "POST") as info:
        page.click("#maze-start")
    page.wait_for_selector("#maze-status[data-state='ok']", timeout=10000)  # the game's socket is open
    return info.value.json()


def counter(page):
    return int(page.inner_text("#count-hints"))


def history_count(page):
    return page.locator("#hint-history > li").count()


def request_hint_and_check_the_status(page):
    before = counter(page)
    page.click("#request-hint")
    page.wait_for_selector("#maze-status:has-text('Hint arrived')", timeout=10000)
    status = page.inner_text("#maze-status")
    assert "Hint requested" not in status
    assert page.inner_text("#hint-text").strip() in status  # the offline responder's short hint, in full
    assert counter(page) > before  # the counter changes with the status, not a tick later


def test_counter_status_and_history_on_a_desktop(platform, browser):
    context, page, errors = open_page(platform, browser, DESKTOP)
    data = start_game(page)
    # The game's state goes out when its socket opens and after moves, and the LLM answers every state with a
    # hint: those hints arrive and count, each one once, as the server counts them (its hint ids), and each is in
    # the history.
    for key in ("ArrowRight", "ArrowDown", "ArrowLeft", "ArrowUp", "ArrowRight", "ArrowDown"):
        page.keyboard.press(key)
    wait_until(lambda: history_count(page) >= 2, 10, what="a hint after moving")
    wait_until(lambda: counter(page) == history_count(page), 5, what="the counter to match the history")
    newest = "#hint-history > li:first-child .history-head"
    wait_until(lambda: page.inner_text(newest).startswith(f"Hint {counter(page)} ·"), 5, what="the server's count")
    assert "ms ·" in page.inner_text(newest)

    request_hint_and_check_the_status(page)
    wait_until(lambda: counter(page) == history_count(page), 5, what="the counter to match the history")
    first = page.locator("#hint-history > li").first
    assert "path" in first.locator(".history-declared").inner_text()
    assert "path (" in first.locator(".history-applied").inner_text()
    # The raw reply, on demand.
    assert not first.locator(".history-raw pre").is_visible()
    first.locator(".history-raw summary").click()
    raw = json.loads(first.locator(".history-raw pre").inner_text())
    assert raw["hint"] == page.inner_text("#hint-text").strip() and "path" in raw

    # A reply written for the earlier platform: its aliases are applied, what the game cannot use says why, and
    # the model's words stay text.
    peer = MqttPeer(platform.broker.port)
    try:
        hostile = '<img src=x onerror="window.pwned=1">Freeze!'
        peer.publish(
            f"maze/hint/{data['game']['session_key']}",
            json.dumps({"hint": hostile, "freeze": 2000, "tp": [999, 1], "dance": True}),
        )
        # Not necessarily the newest for long: the board changed, so a fresh state (and its hint) follows.
        first = page.locator("#hint-history > li", has_text="Freeze!")
        first.wait_for()
    finally:
        peer.close()
    assert first.locator(".history-text").inner_text() == hostile
    declared = first.locator(".history-declared").inner_text()
    assert "freeze → freeze_germs_ms" in declared and "tp → teleport_player" in declared and "dance" in declared
    assert "freeze_germs_ms (2.0 s)" in first.locator(".history-applied").inner_text()
    ignored = first.locator(".history-ignored").inner_text()
    assert "dance: unknown action 'dance'" in ignored
    assert "tp: as teleport_player: (999, 1) is off the 21×15 board" in ignored
    assert page.locator("#hint-history img, #hint-history [onerror]").count() == 0
    assert page.evaluate("typeof window.pwned") == "undefined"
    assert counter(page) == history_count(page)
    assert errors == []
    context.close()


def test_counter_status_and_history_on_a_phone(platform, browser):
    context, page, errors = open_page(platform, browser, PHONE, phone=True)
    start_game(page)
    request_hint_and_check_the_status(page)
    assert counter(page) == history_count(page) >= 1
    page.locator("#hint-history > li").first.scroll_into_view_if_needed()
    assert page.locator("#hint-history > li").first.is_visible()
    assert page.evaluate("document.documentElement.scrollWidth - window.innerWidth") <= 0
    assert errors == []
    context.close()


def shown_text_fits(page, selector):
    """Whether the select's chosen option fits inside it (text width plus room for the arrow)."""
    return page.locator(selector).evaluate(
        """(select) => {
            const style = getComputedStyle(select);
            const context = document.createElement("canvas").getContext("2d");
            context.font = `${style.fontWeight} ${style.fontSize} ${style.fontFamily}`;
            const text = select.options[select.selectedIndex].text;
            const room = select.clientWidth - parseFloat(style.paddingLeft) - parseFloat(style.paddingRight) - 20;
            return context.measureText(text).width <= room;
        }"""
    )


def test_the_template_selects_show_the_whole_title_on_a_desktop(platform, browser):
    template = platform.client("alice").post("/api/templates/", {"title": LONG_TITLE, "content": "Guide me."}).json()
    context, page, errors = open_page(platform, browser, DESKTOP)
    page.select_option("#maze-template", str(template["id"]))
    assert shown_text_fits(page, "#maze-template")
    start_game(page, template_id=template["id"])
    assert page.locator("#template-switch-select").input_value() == str(template["id"])
    assert shown_text_fits(page, "#template-switch-select")
    assert errors == []
    context.close()
