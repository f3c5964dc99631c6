"""The template evaluation pages in headless Chromium on the real platform (broker, Redis, daphne, the worker that
plays evaluations, the offline responder, which answers a maze state with a shortest-path hint). On a desktop: start
an evaluation from the form, watch its progress until the results, evaluate a second version on the same mazes and
compare the two. On a phone: the pages fit the screen, a long evaluation is cancelled from its page, and with the
LLM service gone the form says so."""

import re

import pytest

from tests.harness.procs import wait_until
from tests.integration.test_browser import log_in
from tests.integration.test_maze import new_template
from tests.integration.test_template_editor_browser import SCREENS, no_overflow

pytestmark = pytest.mark.browser

PLATFORM_ENV = {"EVALUATION_POLL_INTERVAL": "0.2", "EVALUATION_HINT_INTERVAL": "0.2"}
SMALL = {"games": "2", "width": "11", "height": "11", "germs": "0"}
LONG = {"games": "20", "width": "21", "height": "15", "germs": "0"}  # long enough to be cancelled midway
RESULT_TIMEOUT = 60_000  # ms: two small games with the live (offline reference) LLM, on a busy machine


@pytest.fixture(scope="module")
def alice(platform):
    return platform.client("alice")


@pytest.fixture(scope="module")
def template(alice):
    return new_template(alice, title="Pathfinder", content="Answer with the path to the exit.")


@pytest.fixture(scope="module")
def shared():
    return {}  # what the desktop test made, for the phone test: evaluation ids


def watch(page):
    errors = []
    page.on("pageerror", lambda exc: errors.append(str(exc)))
    page.on("console", lambda msg: errors.append(msg.text) if "Content Security Policy" in msg.text else None)
    return errors


def fill_form(page, fields):
    page.fill("#evaluation-games", fields["games"])
    page.click(".evaluation-advanced summary")
    for name in ("width", "height", "germs"):
        page.fill(f"#evaluation-{name}", fields[name])


def start_from_form(page, base, template_id, fields) -> int:
    page.goto(f"{base}/maze/evaluations/?template={template_id}")
    assert page.input_value("#evaluation-template") == str(template_id)
    fill_form(page, fields)
    page.click("#evaluation-start")
    page.wait_for_url(re.compile(r".*/maze/evaluations/\d+/$"))
    return int(page.url.rstrip("/").rsplit("/", 1)[1])


def test_evaluate_watch_the_results_then_compare_two_versions(platform, browser, alice, template, shared, tmp_path):
    context = browser.new_context(**SCREENS["desktop"])
    page = context.new_page()
    errors = watch(page)
    base = platform.base_url
    log_in(page, base, "alice")

    # The template's page leads to the form with the template chosen.
    page.goto(f"{base}/templates/{template['id']}/")
    page.click("#template-evaluate")
    page.wait_for_url(f"{base}/maze/evaluations/?template={template['id']}")
    assert page.get_attribute(".nav-links a[href='/maze/evaluations/']", "aria-current") == "page"
    assert page.get_attribute(".nav-links a[href='/maze/']", "aria-current") is None
    assert "same mazes" in page.inner_text(".notice")

    first = start_from_form(page, base, template["id"], SMALL)
    if page.get_attribute("#evaluation-app", "data-status") in ("queued", "running"):
        assert page.is_visible("#evaluation-progress") and page.is_visible("#evaluation-cancel")
    # The page reloads itself once the evaluation has ended.
    page.wait_for_selector("#evaluation-results", timeout=RESULT_TIMEOUT)
    assert page.inner_text("#evaluation-status") == "Done"
    assert page.query_selector("#evaluation-progress") is None
    assert re.fullmatch(r"\d+%", page.inner_text("#evaluation-win-rate"))
    assert "±" in page.inner_text("#evaluation-score")
    assert page.locator("#evaluation-games tbody tr").count() == 2
    assert "path" in page.locator("#evaluation-actions-used tbody td:first-child").all_inner_texts()
    page.click("#game-1 summary")
    assert page.locator("#game-1 .history-item").count() >= 1
    page.click("#evaluation-games tbody tr:nth-child(2) a")  # a game's number opens its hints
    page.wait_for_selector("#game-2[open] .history-item")
    page.screenshot(path=str(tmp_path / "results-desktop.png"), full_page=True)
    assert page.get_attribute("h1 + a.badge", "href") == f"/templates/{template['id']}/history/1/"

    # A second version of the template, on the same mazes (started by the API: the form is covered above).
    response = alice.request("PATCH", f"/api/templates/{template['id']}", {"content": "Show me the path out."})
    assert response.status_code == 200, response.text
    body = {"template_id": template["id"], **{k: int(v) for k, v in SMALL.items()}}
    response = alice.post("/api/maze/evaluations", body)
    assert response.status_code == 201, response.text
    second = response.json()["evaluation"]["id"]
    page.goto(f"{base}/maze/evaluations/{second}/")
    page.wait_for_selector("#evaluation-results", timeout=RESULT_TIMEOUT)

    page.goto(f"{base}/maze/evaluations/")
    assert page.locator("#evaluation-list tbody tr").count() == 2
    assert page.is_disabled("#evaluation-compare")
    page.check(f".evaluation-pick[value='{second}']")
    page.check(f".evaluation-pick[value='{first}']")
    page.click("#evaluation-compare")
    page.wait_for_url(f"{base}/maze/evaluations/compare/?a={first}&b={second}")
    assert "v1" in page.inner_text("#compare-a") and "v2" in page.inner_text("#compare-b")
    assert "Pathfinder" in page.inner_text("#compare-a") and "Pathfinder" in page.inner_text("#compare-b")
    assert page.query_selector("#compare-warning") is None  # same settings, same seed: the same mazes
    assert page.locator("#compare-rows tbody tr").count() >= 5
    assert page.locator("#compare-pairs tbody tr").count() == 2
    page.screenshot(path=str(tmp_path / "compare-desktop.png"), full_page=True)
    assert errors == []
    context.close()
    shared.update(first=first, second=second)


def test_on_a_phone_the_pages_fit_a_long_evaluation_is_cancelled_and_an_offline_llm_is_told(
    platform, browser, template, shared, tmp_path
):
    assert shared, "the desktop test made the evaluations this one looks at"
    context = browser.new_context(**SCREENS["phone"])
    page = context.new_page()
    errors = watch(page)
    base = platform.base_url
    log_in(page, base, "alice")
    for path in (
        f"/maze/evaluations/{shared['first']}/",
        f"/maze/evaluations/compare/?a={shared['first']}&b={shared['second']}",
        "/maze/evaluations/",
    ):
        page.goto(base + path)
        assert no_overflow(page), path
        page.screenshot(path=str(tmp_path / f"phone-{len(list(tmp_path.iterdir()))}.png"), full_page=True)

    evaluation = start_from_form(page, base, template["id"], LONG)
    page.wait_for_selector("#evaluation-progress-text:has-text('hint')", timeout=RESULT_TIMEOUT)
    assert page.is_visible("#evaluation-progress")
    assert no_overflow(page)
    page.screenshot(path=str(tmp_path / "progress-phone.png"), full_page=True)
    page.click("#evaluation-cancel")
    page.wait_for_selector("#evaluation-detail", timeout=RESULT_TIMEOUT)
    assert page.inner_text("#evaluation-status") == "Cancelled"
    assert "cancelled" in page.inner_text("#evaluation-detail").lower()
    assert page.query_selector("#evaluation-cancel") is None
    assert no_overflow(page)
    assert str(evaluation) in page.url

    # The LLM service gone: the form says so in its alert, and stays usable.
    platform.responder.stop()
    wait_until(lambda: not platform.llm_online(), 20, what="the LLM service to be offline")
    page.goto(f"{base}/maze/evaluations/?template={template['id']}")
    page.click("#evaluation-start")
    page.wait_for_selector("#evaluation-form-error:has-text('offline')")
    assert page.is_enabled("#evaluation-start") and "/maze/evaluations/?" in page.url
    page.screenshot(path=str(tmp_path / "offline-phone.png"), full_page=True)
    assert errors == []
    context.close()
