"""In headless Chromium against the real platform, run as scripts/run runs it (DEBUG off): a user deletes her account
and her open sockets end; missing and refused pages are the styled 404/403 (the API keeps JSON); organisers'
announcements show as banners, stay dismissed, and a new one reaches an open page."""

import pytest
import requests

from tests.integration.test_browser import log_in
from tests.integration.test_ws_permissions import assert_usable, closed_with, open_socket

pytestmark = pytest.mark.browser

# Pages ask for announcements every second here (30 s by default), so a new one shows within the test's wait.
PLATFORM_ENV = {"ANNOUNCEMENT_POLL_INTERVAL": "1"}


def shell(platform, code: str) -> str:
    # The last line: Django's shell first says what it imported.
    return platform.manage("shell", "-c", code).stdout.strip().splitlines()[-1:]


def announce(platform, title: str, priority: int = 0) -> None:
    shell(
        platform,
        "from accounts.models import Announcement; "
        f"Announcement.objects.create(title={title!r}, body='Line one.\\nLine two.', priority={priority})",
    )


def watch_errors(page):
    errors = []
    page.on("pageerror", lambda exc: errors.append(str(exc)))
    page.on("console", lambda msg: errors.append(msg.text) if msg.type == "error" else None)
    return errors


def test_a_user_deletes_her_account_and_her_open_sockets_end(platform, browser):
    platform.create_user("carol")
    api = platform.client("carol")
    session = api.new_session()
    assert api.post("/api/templates/", {"title": "Carol's", "content": "Lead me out."}).status_code == 201
    alices_sessions = len(platform.client("alice").get("/api/chatbot/sessions").json()["sessions"])
    page = browser.new_page()
    log_in(page, platform.base_url, "carol")
    with open_socket(platform, "chat", session["id"], api) as ws:  # another login of hers, e.g. another device
        assert_usable(ws)
        page.goto(platform.base_url + "/accounts/profile/")
        page.click("#delete-account")
        page.wait_for_url(platform.base_url + "/accounts/profile/delete/")
        page.fill("input[name=password]", "not-her-password")
        page.click("#delete-account-confirm")
        page.wait_for_selector(".errorlist:has-text('That is not your password.')")
        page.fill("input[name=password]", "correct-horse-battery-9")
        page.click("#delete-account-confirm")
        page.wait_for_url(platform.base_url + "/accounts/login/")
        assert "Your account and all its data have been deleted." in page.inner_text(".flash-messages")
        assert closed_with(ws) == 4401
    assert api.get("/api/chatbot/sessions").status_code == 401
    counts = shell(
        platform,
        "from chatbot.models import ChatSession; from prompts.models import PromptTemplate; "
        "from django.contrib.auth import get_user_model; "
        "print(get_user_model().objects.filter(username='carol').count(), "
        f"ChatSession.objects.filter(id={session['id']}).count(), "
        'PromptTemplate.objects.filter(title="Carol\'s").count())',
    )
    assert counts == ["0 0 0"]
    assert len(platform.client("alice").get("/api/chatbot/sessions").json()["sessions"]) == alices_sessions


def assert_styled_error(page, response, code: int):
    assert response.status == code
    page.wait_for_selector(f".error-page .error-code:has-text('{code}')")
    # portal.css applied: the card is styled, not Django's bare or debug page.
    assert page.locator(".error-code").evaluate("e => getComputedStyle(e).fontWeight") == "700"
    assert page.locator(".site-nav").count() == 1
    assert "Traceback" not in page.content() and "URLconf" not in page.content()


def test_missing_and_refused_pages_are_styled_and_the_api_keeps_json(platform, browser, tmp_path):
    page = browser.new_page()
    errors = watch_errors(page)
    log_in(page, platform.base_url, "alice")
    assert_styled_error(page, page.goto(platform.base_url + "/status/nonexistent"), 404)
    assert "/status/nonexistent" in page.inner_text("main")
    page.screenshot(path=str(tmp_path / "404.png"))
    # /status/ is 404 to non-staff on purpose: its existence is not advertised (health/views.py).
    assert_styled_error(page, page.goto(platform.base_url + "/status/"), 404)
    assert page.locator(".nav-user").inner_text() == "alice"  # still logged in, the full navigation
    # Staff without the write permission are refused (403) on someone else's template: the page says why.
    template = platform.client("bob").post("/api/templates/", {"title": "Bob's", "content": "x"}).json()
    shell(
        platform,
        "from django.contrib.auth import get_user_model; "
        "get_user_model().objects.create_user('stan', password='correct-horse-battery-9', is_staff=True)",
    )
    staff = browser.new_page()
    errors += watch_errors(staff)
    log_in(staff, platform.base_url, "stan")
    assert_styled_error(staff, staff.goto(platform.base_url + f"/templates/{template['id']}/edit/"), 403)
    assert "prompts.write_others_templates" in staff.inner_text("main")
    missing = requests.get(platform.base_url + "/api/nonexistent", timeout=5)
    assert missing.status_code == 404 and missing.json()["detail"]
    refused = platform.client("stan").request("PATCH", f"/api/templates/{template['id']}", {"title": "y"})
    assert refused.status_code == 403 and refused.json()["detail"]
    # 404s log a console error for the document itself; nothing else (no CSP violation, no script error).
    assert [e for e in errors if "404" not in e and "403" not in e] == []


def test_announcements_show_stay_dismissed_and_a_new_one_reaches_an_open_page(platform, browser, tmp_path):
    announce(platform, "Lunch is served", priority=1)
    announce(platform, "Maze final at 15:00", priority=2)
    context = browser.new_context()
    page = context.new_page()
    errors = watch_errors(page)
    log_in(page, platform.base_url, "alice")
    urgent = page.wait_for_selector(".announcement-urgent:has-text('Maze final at 15:00')")
    assert "Line one.\nLine two." in urgent.inner_text()
    # The most pressing first.
    assert page.locator(".announcement .announcement-title").all_inner_texts() == [
        "Maze final at 15:00",
        "Lunch is served",
    ]
    page.screenshot(path=str(tmp_path / "announcements.png"))
    page.click(".announcement:has-text('Lunch is served') .announcement-dismiss")
    page.wait_for_selector(".announcement:has-text('Lunch is served')", state="detached")
    # Remembered in this browser: after a reload only the other one comes back.
    page.reload()
    page.wait_for_selector(".announcement:has-text('Maze final at 15:00')")
    assert page.locator(".announcement:has-text('Lunch is served')").count() == 0
    # A new one reaches the open page without a reload, on the login page too.
    anonymous = browser.new_page()
    anonymous.goto(platform.base_url + "/accounts/login/")
    anonymous.wait_for_selector(".announcement:has-text('Maze final at 15:00')")
    announce(platform, "Wi-Fi password changed")
    page.wait_for_selector(".announcement:has-text('Wi-Fi password changed')", timeout=15000)
    anonymous.wait_for_selector(".announcement:has-text('Wi-Fi password changed')", timeout=15000)
    assert errors == []
    context.close()
