"""Login throttling (django-axes), password change and password reset by e-mail."""

import re

import pytest
from django.test import Client

pytestmark = pytest.mark.django_db

PASSWORD = "pw-alice-123456"


@pytest.fixture
def alice(django_user_model):
    return django_user_model.objects.create_user("alice", email="alice@example.org", password=PASSWORD)


def login(client, username, password, address="10.0.0.1"):
    return client.post("/accounts/login/", {"username": username, "password": password}, REMOTE_ADDR=address)


def test_failed_logins_lock_out_the_username_from_that_address(alice, settings):
    client = Client()
    for _ in range(settings.AXES_FAILURE_LIMIT - 1):
        assert login(client, "alice", "wrong").status_code == 200  # the form again, with an error
    locked = login(client, "alice", "wrong")
    assert locked.status_code == 429 and "Too many failed" in locked.content.decode()
    # Now even the right password is refused from there…
    assert login(client, "alice", PASSWORD).status_code == 429
    # …but alice from another address, and another user from the same one, are unaffected.
    assert login(Client(), "alice", PASSWORD, address="10.0.0.2").status_code == 302


def test_the_lockout_answers_json_to_api_style_requests(alice, settings):
    client = Client()
    for _ in range(settings.AXES_FAILURE_LIMIT):
        login(client, "alice", "wrong")
    response = client.post(
        "/accounts/login/",
        {"username": "alice", "password": PASSWORD},
        REMOTE_ADDR="10.0.0.1",
        headers={"Accept": "application/json"},
        HTTP_X_REQUESTED_WITH="XMLHttpRequest",
    )
    assert response.status_code == 429


def test_a_successful_login_resets_the_failure_count(alice, settings):
    client = Client()
    for _ in range(settings.AXES_FAILURE_LIMIT - 1):
        login(client, "alice", "wrong")
    assert login(client, "alice", PASSWORD).status_code == 302
    client.post("/accounts/logout/")
    for _ in range(settings.AXES_FAILURE_LIMIT - 1):
        assert login(client, "alice", "wrong").status_code == 200
    assert login(client, "alice", PASSWORD).status_code == 302


def test_password_change_uses_the_validators(alice):
    client = Client()
    client.force_login(alice)
    assert client.get("/accounts/password_change/").status_code == 200
    weak = client.post(
        "/accounts/password_change/",
        {"old_password": PASSWORD, "new_password1": "12345678", "new_password2": "12345678"},
    )
    assert weak.status_code == 200 and "too common" in weak.content.decode()
    done = client.post(
        "/accounts/password_change/",
        {"old_password": PASSWORD, "new_password1": "New-phrase-4567", "new_password2": "New-phrase-4567"},
    )
    assert done.status_code == 302 and done["Location"] == "/accounts/password_change/done/"
    alice.refresh_from_db()
    assert alice.check_password("New-phrase-4567")
    assert client.get("/accounts/password_change/done/").status_code == 200


def test_password_reset_by_mail(alice, mailoutbox):
    client = Client()
    assert client.get("/accounts/password_reset/").status_code == 200
    response = client.post("/accounts/password_reset/", {"email": "alice@example.org"})
    assert response.status_code == 302 and len(mailoutbox) == 1
    link = re.search(r"https?://[^/]+(/accounts/reset/\S+/)", mailoutbox[0].body).group(1)
    form = client.get(link, follow=True)
    assert form.status_code == 200 and "Set password" in form.content.decode()
    done = client.post(
        form.redirect_chain[-1][0], {"new_password1": "Fresh-phrase-8910", "new_password2": "Fresh-phrase-8910"}
    )
    assert done.status_code == 302
    alice.refresh_from_db()
    assert alice.check_password("Fresh-phrase-8910")
    # The link works once.
    assert "invalid" in client.get(link, follow=True).content.decode()


def test_password_reset_does_not_reveal_whether_an_address_is_known(alice, mailoutbox):
    response = Client().post("/accounts/password_reset/", {"email": "nobody@example.org"})
    assert response.status_code == 302 and response["Location"] == "/accounts/password_reset/done/"
    assert mailoutbox == []


def test_signup_takes_an_optional_email(db, django_user_model):
    response = Client().post(
        "/accounts/signup/",
        {
            "username": "bea",
            "email": "bea@example.org",
            "password1": "Bea-phrase-12345",
            "password2": "Bea-phrase-12345",
        },
    )
    assert response.status_code == 302
    assert django_user_model.objects.get(username="bea").email == "bea@example.org"
