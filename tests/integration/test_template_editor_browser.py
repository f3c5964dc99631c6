"""The template form's reference panel and a template's history, in headless Chromium on a desktop and a phone:
expand the reference, "Start from example", save twice, open the history, restore the first version."""

import re

import pytest

from tests.integration.test_browser import log_in

pytestmark = pytest.mark.browser

SCREENS = {
    "desktop": {"viewport": {"width": 1280, "height": 900}},
    "phone": {"viewport": {"width": 375, "height": 740}, "is_mobile": True, "has_touch": True},
}
# Playwright reads a textarea's value with the browser's line breaks; the server may store CRLF from the form.
lines = str.splitlines


def no_overflow(page) -> bool:
    return page.evaluate("document.documentElement.scrollWidth - window.innerWidth") <= 0


@pytest.mark.parametrize("screen", SCREENS)
def test_start_from_example_save_twice_and_restore_from_the_history(platform, browser, screen, tmp_path):
    context = browser.new_context(**SCREENS[screen])
    page = context.new_page()
    errors, csp = [], []
    page.on("pageerror", lambda exc: errors.append(str(exc)))
    page.on("console", lambda msg: csp.append(msg.text) if "Content Security Policy" in msg.text else None)
    log_in(page, platform.base_url, "alice")
    base = platform.base_url

    page.goto(base + "/templates/new/")
    # The reference starts folded; each section opens on its own.
    assert not page.is_visible("#reference-state pre")
    page.click("#reference-state summary")
    assert "visible_map" in page.inner_text("#reference-state pre")
    page.click("#reference-hint summary")
    assert page.locator("#reference-hint tbody tr").count() == 15
    page.click("#reference-example summary")
    page.click("#template-use-example")
    example = page.text_content("#template-example")
    assert "visible_map" in example and page.input_value("#id_content") == example
    assert no_overflow(page)
    page.screenshot(path=str(tmp_path / f"form-{screen}.png"), full_page=True)
    page.locator("#reference-hint").screenshot(path=str(tmp_path / f"actions-{screen}.png"))

    title = f"Example guide ({screen})"
    page.fill("#id_title", title)
    page.click("form.template-form [type=submit]")
    page.wait_for_url(re.compile(r".*/templates/\d+/$"))
    template_url = page.url
    page.goto(template_url + "edit/")
    page.fill("#id_content", "Second version: always go east.")
    page.click("form.template-form [type=submit]")
    page.wait_for_url(template_url)
    assert page.inner_text(".template-content") == "Second version: always go east."

    page.click("a:has-text('History')")
    page.wait_for_url(template_url + "history/")
    assert page.locator(".version-item").count() == 2
    assert "Current" in page.inner_text("#version-2") and "Current" not in page.inner_text("#version-1")
    assert no_overflow(page)
    page.click("#version-1 .version-link")
    assert lines(page.text_content("#version-content")) == lines(example.strip())
    page.click("button:has-text('Restore this version')")
    page.wait_for_url(template_url + "history/")
    assert "Version 1 restored as version 3." in page.inner_text(".flash-messages")
    assert "Restored from v1" in page.inner_text("#version-3") and "Current" in page.inner_text("#version-3")
    page.goto(template_url)
    assert lines(page.text_content(".template-content")) == lines(example.strip())
    assert errors == [] and csp == []
    context.close()
