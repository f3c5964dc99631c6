"""Deleting one's own account (/accounts/profile/delete/): the password again, then the user and everything she owns
go, nobody else's data; she is logged out, told so, and her open sockets end."""

import pytest
from asgiref.sync import async_to_sync
from channels.layers import get_channel_layer
from django.contrib.auth import get_user_model
from django.core.management import call_command

from accounts import tokens
from accounts.models import ApiToken
from chatbot import services as chat_services
from chatbot.models import ChatMessage, ChatSession
from maze import services as maze_services
from maze.models import MazeGame
from portal.consumers import AUTH_CHANGED, user_group
from prompts import services as prompt_services
from prompts.models import PromptTemplate

pytestmark = pytest.mark.django_db

PASSWORD = "pw-delete-123456"


def make_user_with_data(username):
    user = get_user_model().objects.create_user(username, password=PASSWORD)
    session = chat_services.session_create(owner=user, preset="general")
    ChatMessage.objects.create(session=session, role="user", content=f"hello from {username}")
    template = prompt_services.template_create(owner=user, title=f"{username}'s", content="Lead me out.")
    maze_services.game_create(owner=user, width=11, height=11, germs=0, mode="manual", template=template)
    tokens.token_create(owner=user, name="script")
    return user


def counts(user_id):
    return {
        "sessions": ChatSession.objects.filter(owner_id=user_id).count(),
        "messages": ChatMessage.objects.filter(session__owner_id=user_id).count(),
        "templates": PromptTemplate.objects.filter(owner_id=user_id).count(),
        "games": MazeGame.objects.filter(owner_id=user_id).count(),
        "tokens": ApiToken.objects.filter(owner_id=user_id).count(),
    }


def logged_in_client(client, user):
    client.force_login(user, backend="django.contrib.auth.backends.ModelBackend")
    return client


def test_the_account_page_links_to_the_confirmation_which_asks_for_the_password(client):
    user = make_user_with_data("alice")
    logged_in_client(client, user)
    assert 'href="/accounts/profile/delete/"' in client.get("/accounts/profile/").content.decode()
    page = client.get("/accounts/profile/delete/")
    assert page.status_code == 200
    assert 'type="password"' in page.content.decode() and "csrfmiddlewaretoken" in page.content.decode()


def test_deleting_removes_the_users_data_and_not_others_and_logs_out(client, django_capture_on_commit_callbacks):
    alice, bob = make_user_with_data("alice"), make_user_with_data("bob")
    alice_id, bob_before = alice.pk, counts(bob.pk)
    # Bob's game uses Alice's template: it stays, without the template.
    bobs_game, _ = maze_services.game_create(
        owner=bob, width=11, height=11, germs=0, mode="manual", template=PromptTemplate.objects.get(owner=alice)
    )
    logged_in_client(client, alice)
    with django_capture_on_commit_callbacks(execute=True):
        response = client.post("/accounts/profile/delete/", {"password": PASSWORD}, follow=True)
    assert response.redirect_chain[-1][0] == "/accounts/login/"
    assert "Your account and all its data have been deleted." in response.content.decode()
    assert not get_user_model().objects.filter(pk=alice_id).exists()
    assert counts(alice_id) == dict.fromkeys(bob_before, 0)
    assert counts(bob.pk) == {**bob_before, "games": bob_before["games"] + 1}
    bobs_game.refresh_from_db()
    assert bobs_game.template is None
    assert client.get("/accounts/profile/").status_code == 302  # logged out


def test_a_wrong_password_is_refused_and_deletes_nothing(client):
    alice = make_user_with_data("alice")
    logged_in_client(client, alice)
    before = counts(alice.pk)
    response = client.post("/accounts/profile/delete/", {"password": "not-my-password"})
    assert response.status_code == 400
    assert "That is not your password." in response.content.decode()
    assert get_user_model().objects.filter(pk=alice.pk).exists() and counts(alice.pk) == before
    assert client.post("/accounts/profile/delete/", {}).status_code == 400  # no password at all


def test_deleting_needs_a_login_and_a_post_with_csrf(client):
    assert client.get("/accounts/profile/delete/")["Location"].startswith("/accounts/login/")
    alice = make_user_with_data("alice")
    from django.test import Client

    strict = Client(enforce_csrf_checks=True)
    logged_in_client(strict, alice)
    assert strict.post("/accounts/profile/delete/", {"password": PASSWORD}).status_code == 403
    assert get_user_model().objects.filter(pk=alice.pk).exists()


def test_a_deleted_user_has_every_socket_told_to_close(django_capture_on_commit_callbacks):
    alice = make_user_with_data("alice")
    layer = get_channel_layer()
    channel = async_to_sync(layer.new_channel)()
    async_to_sync(layer.group_add)(user_group(alice.pk), channel)
    from accounts.deletion import delete_account

    with django_capture_on_commit_callbacks(execute=True):
        delete_account(user=alice)
    event = async_to_sync(layer.receive)(channel)
    # No socket's session carries an empty password hash: portal/consumers.py closes every one (4401).
    assert event == {"type": AUTH_CHANGED, "auth_hash": ""}


def test_first_start_prints_how_to_create_an_admin_until_there_is_one(monkeypatch, capsys):
    monkeypatch.setenv("DEMO_USERNAME", "demo")
    monkeypatch.setenv("DEMO_PASSWORD", "demo-pw-123456")
    call_command("ensure_demo_user")
    out = capsys.readouterr().out
    assert "Log in as demo / demo-pw-123456" in out
    assert "manage.py createsuperuser" in out and "/admin/" in out
    get_user_model().objects.create_superuser("root", password="root-pw-123456")
    call_command("ensure_demo_user")
    assert "createsuperuser" not in capsys.readouterr().out


def test_guessing_the_password_locks_out_like_failed_logins(client, settings):
    settings.AXES_FAILURE_LIMIT = 2
    alice = make_user_with_data("alice")
    logged_in_client(client, alice)
    statuses = [client.post("/accounts/profile/delete/", {"password": f"guess-{n}"}).status_code for n in range(3)]
    assert statuses[0] == 400 and statuses[-1] == 429
    # Locked out, even the right password deletes nothing.
    assert client.post("/accounts/profile/delete/", {"password": PASSWORD}).status_code == 429
    assert get_user_model().objects.filter(pk=alice.pk).exists()
