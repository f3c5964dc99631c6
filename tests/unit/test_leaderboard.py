"""The leaderboard: one board per game mode, its totals, its pages, and the score formula it shows."""

import re
from pathlib import Path

import pytest

from maze import engine, services
from maze.models import Score
from maze.score_formula import formula_parts
from prompts.models import PromptTemplate

pytestmark = pytest.mark.django_db
DOCS_API = Path(__file__).resolve().parents[2] / "docs" / "api.md"


@pytest.fixture
def players(django_user_model):
    return [django_user_model.objects.create_user(name, password="pw-123456789") for name in ("ann", "ben", "cat")]


def add_score(user, points, mode, template=None):
    game, _ = services.game_create(owner=user, width=11, height=9, germs=0, mode=mode, template=template)
    metrics = dict.fromkeys(("duration_ms", "steps", "shortest_path", "backtracks", "collisions"), 1)
    return Score.objects.create(
        user=user,
        template=template,
        game=game,
        points=points,
        won=True,
        path_efficiency=1.0,
        oxygen_collected=0,
        hint_count=0,
        germ_count=0,
        mode=mode,
        **metrics,
    )


def test_each_mode_has_its_own_board_and_totals(players):
    ann, ben, cat = players
    add_score(ann, 100, "lam")
    add_score(ann, 300, "lam")  # ann's better LAM game: one row, two games
    add_score(ben, 200, "lam")
    add_score(cat, 900, "manual")

    lam = services.leaderboard(template_id=None, page=1, mode="lam")
    assert [(r["user"], r["points"], r["mode"]) for r in lam["results"]] == [("ann", 300, "lam"), ("ben", 200, "lam")]
    assert (lam["total"], lam["participants"], lam["games"]) == (2, 2, 3)

    manual = services.leaderboard(template_id=None, page=1, mode="manual")
    assert [(r["user"], r["points"]) for r in manual["results"]] == [("cat", 900)]
    assert (manual["participants"], manual["games"]) == (1, 1)

    every = services.leaderboard(template_id=None, page=1)  # no mode: both, as before the tabs
    assert (every["total"], every["participants"], every["games"]) == (3, 3, 4)


def test_a_players_best_is_kept_per_mode(players):
    ann = players[0]
    add_score(ann, 900, "manual")
    add_score(ann, 50, "lam")
    [row] = services.leaderboard(template_id=None, page=1, mode="lam")["results"]
    assert row["points"] == 50  # the better manual game does not hide the LAM one


def test_the_template_filter_works_within_a_mode(players):
    ann, ben, _ = players
    guide = PromptTemplate.objects.create(owner=ann, title="Guide", content="Lead on.")
    add_score(ann, 400, "lam", template=guide)
    add_score(ben, 500, "lam")
    add_score(ben, 600, "manual", template=guide)
    board = services.leaderboard(template_id=guide.id, page=1, mode="lam")
    assert [(r["user"], r["template"]["title"]) for r in board["results"]] == [("ann", "Guide")]
    assert (board["participants"], board["games"]) == (1, 1)


def test_pages_of_twenty_and_an_out_of_range_page_is_the_last(players, django_user_model):
    many = [django_user_model.objects.create_user(f"p{i}", password="pw-123456789") for i in range(21)]
    for i, user in enumerate(many):
        add_score(user, 1000 - i, "lam")
    first = services.leaderboard(template_id=None, page=1, mode="lam")
    assert (first["page"], first["pages"], len(first["results"])) == (1, 2, services.LEADERBOARD_PAGE_SIZE)
    last = services.leaderboard(template_id=None, page=99, mode="lam")
    assert (last["page"], [r["rank"] for r in last["results"]]) == (2, [21])
    assert last["participants"] == 21 and last["games"] == 21  # totals are the filter's, not the page's


def test_the_api_takes_a_mode_and_refuses_a_bad_one(client, players):
    ann, ben, _ = players
    add_score(ann, 100, "lam")
    add_score(ben, 200, "manual")
    client.force_login(ann)
    body = client.get("/api/leaderboard/?mode=manual&page=1").json()
    assert [r["user"] for r in body["results"]] == ["ben"]
    assert (body["participants"], body["games"], body["page"], body["pages"]) == (1, 1, 1, 1)
    assert len(client.get("/api/leaderboard/?mode=").json()["results"]) == 2  # blank: every mode
    for bad in ("LAM", "auto", "lam%00"):
        response = client.get(f"/api/leaderboard/?mode={bad}")
        assert response.status_code == 400
        assert response.json()["field"] == "mode" and "lam" in response.json()["detail"]


def test_the_formula_has_every_part_the_engine_scores():
    maze = engine.generate(11, 9, germ_count=0, pellet_count=0, seed=1)
    report = engine.GameReport(
        won=True,
        duration_ms=1000,
        steps=10,
        backtracks=0,
        collisions=0,
        oxygen_collected=0,
        hint_count=0,
        avg_hint_latency_ms=None,
        mode="lam",
    )
    assert [row["key"] for row in formula_parts()] == list(engine.score(report, maze).parts)


def test_the_formula_is_the_one_docs_api_shows():
    # The docs' table and the page's come from one source of numbers: the engine's constants.
    table = DOCS_API.read_text().split("| part | points |", 1)[1].split("\n\n", 1)[0]
    rows = re.findall(r"^ *\| ([^|]+?) \| (.+?) \|$", table, flags=re.M)
    assert rows == [(row["part"], row["points"]) for row in formula_parts()]


def test_the_page_shows_the_tabs_and_the_formula(client, players):
    client.force_login(players[0])
    html = client.get("/leaderboard/").content.decode()
    assert html.index('data-mode="lam"') < html.index('data-mode="manual"')  # LAM first
    assert f"{engine.WIN_BONUS} on a win" in html and f"−{-engine.COLLISION_POINTS} each" in html
