"""In headless Chromium against the real platform, at desktop and phone size: the leaderboard's mode tabs, template
filter, totals, pages and score formula; the staff status page's latency charts with no, one and several points."""

import time

import pytest
import redis

from tests.integration.test_browser import log_in

pytestmark = pytest.mark.browser

DESKTOP = {"viewport": {"width": 1200, "height": 900}}
PHONE = {"viewport": {"width": 375, "height": 740}, "is_mobile": True, "has_touch": True}
LAM_PLAYERS = 21  # one more than a page
CHAT_SAMPLES = "portal:latency:chat"  # portal/mqtt/shared_state.LATENCY_SAMPLES for "chat"

# Scores straight through the ORM: playing 25 games in a browser would test the maze, not the board.
SCORES = f"""
from django.contrib.auth import get_user_model
from maze import services
from maze.models import Score
from prompts.models import PromptTemplate
U = get_user_model()
alice = U.objects.get(username="alice")
guide = PromptTemplate.objects.create(owner=alice, title="Board Guide", content="Lead on.")
def add(user, points, mode, template=None):
    game, _ = services.game_create(owner=user, width=11, height=9, germs=0, mode=mode, template=template)
    Score.objects.create(user=user, template=template, game=game, points=points, won=True, duration_ms=5000,
        steps=10, shortest_path=10, path_efficiency=1.0, backtracks=0, collisions=0, oxygen_collected=0,
        hint_count=0, germ_count=0, mode=mode)
for i in range({LAM_PLAYERS}):
    add(U.objects.create(username=f"lam{{i:02}}"), 2000 - i, "lam")
add(alice, 50, "lam", guide)
add(alice, 700, "manual", guide)
add(U.objects.get(username="bob"), 800, "manual")
add(U.objects.get(username="bob"), 600, "manual")
"""


@pytest.fixture(scope="module")
def scores(platform):
    platform.manage("shell", "-c", SCORES)


@pytest.fixture(scope="module")
def staff(platform):
    platform.create_user("staff", staff=True)
    return "staff"


def open_page(browser, platform, username, path, size):
    context = browser.new_context(**size)
    page = context.new_page()
    errors = []
    page.on("pageerror", lambda exc: errors.append(str(exc)))
    page.on("console", lambda msg: errors.append(msg.text) if msg.type == "error" else None)
    log_in(page, platform.base_url, username)
    page.goto(platform.base_url + path)
    return context, page, errors


def no_page_overflow(page) -> bool:
    return page.evaluate("document.documentElement.scrollWidth - window.innerWidth") <= 0


def rows(page) -> list[str]:
    return page.locator("#leaderboard-body tr td:nth-child(2)").all_inner_texts()


@pytest.mark.parametrize("size", [DESKTOP, PHONE], ids=["desktop", "phone"])
def test_leaderboard_tabs_filter_pages_and_formula(platform, browser, scores, size, tmp_path):
    context, page, errors = open_page(browser, platform, "alice", "/leaderboard/", size)
    # LAM first and chosen; its totals count every LAM game of the 22 players.
    page.wait_for_selector("#leaderboard-body[aria-busy='false']")
    assert page.locator("[role=tab]").all_inner_texts() == ["LAM", "Manual"]
    assert page.get_attribute("#leaderboard-tab-lam", "aria-selected") == "true"
    assert page.inner_text("#leaderboard-participants") == f"{LAM_PLAYERS + 1} participants"
    assert page.inner_text("#leaderboard-games") == f"{LAM_PLAYERS + 1} games"
    assert page.inner_text("#leaderboard-page") == "Page 1 of 2" and len(rows(page)) == 20
    assert page.is_disabled("#leaderboard-prev") and page.is_enabled("#leaderboard-next")

    page.click("#leaderboard-next")
    page.wait_for_selector("#leaderboard-page:has-text('Page 2 of 2')")
    page.wait_for_selector("#leaderboard-body[aria-busy='false']")
    assert rows(page) == ["lam20", "alice"] and page.is_disabled("#leaderboard-next")
    assert "page=2" in page.url
    page.click("#leaderboard-prev")
    page.wait_for_selector("#leaderboard-page:has-text('Page 1 of 2')")

    # Manual: its own board and totals (bob's two games, one row), from page 1.
    page.click("#leaderboard-tab-manual")
    page.wait_for_selector("#leaderboard-tab-manual[aria-selected='true']")
    page.wait_for_selector("#leaderboard-games[data-count='3']")
    page.wait_for_selector("#leaderboard-body[aria-busy='false']")
    assert rows(page) == ["bob", "alice"] and page.inner_text("#leaderboard-participants") == "2 participants"
    assert page.inner_text("#leaderboard-page") == "Page 1 of 1" and "mode=manual" in page.url

    # The template filter works within the chosen tab and is kept when the tab changes.
    page.select_option("#leaderboard-filter", label="Board Guide")
    page.wait_for_selector("#leaderboard-games[data-count='1']")
    page.wait_for_selector("#leaderboard-body[aria-busy='false']")
    assert rows(page) == ["alice"] and page.locator("#leaderboard-body td:nth-child(4)").all_inner_texts() == ["700"]
    page.click("#leaderboard-tab-lam")
    page.wait_for_selector("#leaderboard-body td:nth-child(4):text-is('50')")
    assert rows(page) == ["alice"] and page.get_attribute("#leaderboard-tab-lam", "aria-selected") == "true"

    # The formula is on the page, built from the engine's numbers.
    formula = page.locator("#leaderboard-formula")
    formula.scroll_into_view_if_needed()
    assert formula.is_visible()
    assert formula.locator("tr[data-part='win'] td").inner_text() == "1000 on a win, 0 on a loss"
    assert formula.locator("tbody tr").count() == 8
    assert no_page_overflow(page)
    page.screenshot(path=str(tmp_path / "leaderboard.png"), full_page=True)
    assert errors == []
    context.close()


def set_chat_samples(platform, minutes_ago_and_ms):
    r = redis.Redis.from_url(platform.redis.url)
    now = time.time()
    r.delete(CHAT_SAMPLES)
    for minutes_ago, ms in sorted(minutes_ago_and_ms, reverse=True):  # newest first, as the web process writes
        r.lpush(CHAT_SAMPLES, f"{now - minutes_ago * 60 - 5:.0f}:{ms:.2f}")


def chat_chart_texts(page) -> dict:
    chart = page.locator("#chat-chart svg")
    return {
        "x": chart.locator(".chart-axis-x text").all_text_contents(),
        "y": chart.locator(".chart-axis-y text").all_text_contents(),
        "dots": chart.locator("circle.chart-dot").count(),
        "lines": chart.locator("polyline.chart-line").count(),
        "value": chart.locator(".chart-value").all_text_contents(),
        "empty": chart.locator(".chart-empty").count(),
    }


@pytest.mark.parametrize("size", [DESKTOP, PHONE], ids=["desktop", "phone"])
def test_status_charts_have_axes_and_show_one_point_or_several(platform, browser, staff, size, tmp_path):
    set_chat_samples(platform, [])
    context, page, errors = open_page(browser, platform, staff, "/status/", size)
    empty = chat_chart_texts(page)
    assert empty["empty"] == 1 and empty["dots"] == 0 and len(empty["x"]) == 5
    assert empty["y"] == ["0 ms", "0.5 ms", "1 ms"]

    set_chat_samples(platform, [(0, 42.0)])
    page.reload()
    page.locator("#chat-chart").screenshot(path=str(tmp_path / "one-point.png"))
    one = chat_chart_texts(page)
    assert (one["empty"], one["dots"], one["lines"], one["value"]) == (0, 1, 0, ["42 ms"])
    assert one["y"] == ["0 ms", "25 ms", "50 ms"] and len(one["x"]) == 5
    assert page.locator("#chat-chart figcaption").inner_text() == "Chat round trip: median 42.0 ms over 1 request"

    set_chat_samples(platform, [(40, 80.0), (20, 120.0), (0, 60.0)])
    page.reload()
    several = chat_chart_texts(page)
    assert (several["dots"], several["lines"], several["value"]) == (3, 1, ["60 ms"])
    assert several["y"] == ["0 ms", "100 ms", "200 ms"]
    # Readable and whole at this size: the chart fits the screen and its labels are not squashed to nothing.
    box = page.locator("#chat-chart svg").bounding_box()
    assert box["width"] <= size["viewport"]["width"] and box["height"] > 100
    label = page.locator("#chat-chart .chart-axis-x text").first.bounding_box()
    assert label["height"] >= 8
    assert page.locator("#probe-chart .chart-axis-y text").count() == 3  # the probe chart is drawn the same way
    assert no_page_overflow(page)
    page.locator(".status-charts").screenshot(path=str(tmp_path / "charts.png"))
    assert errors == []
    context.close()
