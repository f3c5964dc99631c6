"""Accounts: sign-up, login pages, createsuperuser from the environment, and the admin's chat lists."""

import pytest
from django.contrib.auth import get_user_model
from django.core.management import call_command
from django.http import HttpRequest

from chatbot import services

pytestmark = pytest.mark.django_db


def test_signup_creates_a_user_and_logs_in(client):
    response = client.post(
        "/accounts/signup/",
        {"username": "carol", "password1": "a-long-Passphrase-77", "password2": "a-long-Passphrase-77"},
    )
    assert response.status_code == 302 and response["Location"] == "/chat/"
    assert get_user_model().objects.filter(username="carol").exists()
    assert client.get("/api/chatbot/sessions").status_code == 200


def test_signup_rejects_weak_or_mismatched_passwords(client):
    response = client.post("/accounts/signup/", {"username": "dave", "password1": "123", "password2": "1234"})
    assert response.status_code == 400
    assert not get_user_model().objects.filter(username="dave").exists()


def test_login_and_chat_pages(client, django_user_model):
    assert client.get("/accounts/login/").status_code == 200
    assert client.get("/chat/")["Location"].startswith("/accounts/login/")
    django_user_model.objects.create_user("erin", password="pw-erin-123456")
    # django-axes needs the request to authenticate (it tracks failures per address).
    assert client.login(request=HttpRequest(), username="erin", password="pw-erin-123456")
    page = client.get("/chat/")
    assert page.status_code == 200
    html = page.content.decode()
    assert 'name="mobile-web-app-capable"' in html and 'name="apple-mobile-web-app-capable"' in html


def test_createsuperuser_noinput_reads_the_standard_variables(monkeypatch):
    monkeypatch.setenv("DJANGO_SUPERUSER_USERNAME", "root")
    monkeypatch.setenv("DJANGO_SUPERUSER_PASSWORD", "s3cret-enough-pass")
    monkeypatch.setenv("DJANGO_SUPERUSER_EMAIL", "root@example.org")
    call_command("createsuperuser", interactive=False, verbosity=0)
    user = get_user_model().objects.get(username="root")
    assert user.is_superuser and user.check_password("s3cret-enough-pass")


def test_admin_lists_chat_sessions_and_messages(admin_client, django_user_model):
    owner = django_user_model.objects.create_user("frank", password="x-123456789")
    session = services.session_create(owner=owner, title="Frank's chat")
    services.turn_begin(
        session_id=session.id,
        content="visible in admin",
        request_id="r1",
        overrides={},
        holder="test|token",
        hold_for=45,
    )
    sessions_page = admin_client.get("/admin/chatbot/chatsession/")
    assert sessions_page.status_code == 200 and "Frank&#x27;s chat" in sessions_page.content.decode()
    messages_page = admin_client.get("/admin/chatbot/chatmessage/")
    assert messages_page.status_code == 200 and "visible in admin" in messages_page.content.decode()


def test_admin_lists_templates_games_and_scores(admin_client, django_user_model):
    from maze import services as maze_services
    from prompts import services as prompt_services

    owner = django_user_model.objects.create_user("gina", password="x-123456789")
    template = prompt_services.template_create(owner=owner, title="Gina's LAM", content="Lead on.")
    game, maze = maze_services.game_create(owner=owner, width=21, height=15, germs=2, mode="manual", template=template)
    from maze.play import Play

    play, path = Play.new(maze), maze_services.engine.shortest_path(maze.walls, maze.start, maze.exit)
    for n, (a, b) in enumerate(zip(path, path[1:])):
        play.step(
            {(0, -1): "up", (0, 1): "down", (-1, 0): "left", (1, 0): "right"}[(b[0] - a[0], b[1] - a[1])],
            True,
            1000 + 250 * n,
        )
    maze_services.game_finish(
        game=game,
        play=play.to_json(),
        report_data={
            "won": True,
            "duration_ms": 60000,
            "steps": play.steps,
            "backtracks": 0,
            "collisions": 0,
            "oxygen_collected": play.oxygen_collected,
            "hint_count": 0,
            "avg_hint_latency_ms": None,
            "mode": "manual",
        },
    )
    for path, text in (
        ("/admin/prompts/prompttemplate/", "Gina&#x27;s LAM"),
        ("/admin/maze/mazegame/", game.session_key),
        ("/admin/maze/score/", "gina"),
    ):
        page = admin_client.get(path)
        assert page.status_code == 200 and text in page.content.decode()
