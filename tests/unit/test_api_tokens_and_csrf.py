"""Personal API tokens (Bearer, no CSRF, revocable) and CSRF enforcement for session requests."""

import json

import pytest
from django.test import Client

from accounts.models import ApiToken

pytestmark = pytest.mark.django_db(transaction=True)


@pytest.fixture
def browser(alice):
    """A session client that enforces CSRF like a real browser session does."""
    client = Client(enforce_csrf_checks=True)
    client.force_login(alice)
    client.get("/accounts/profile/")  # sets the csrftoken cookie
    return client


def csrf_headers(client):
    return {"X-CSRFToken": client.cookies["csrftoken"].value}


def create_token(browser, name="script") -> dict:
    response = browser.post(
        "/api/tokens/", json.dumps({"name": name}), content_type="application/json", headers=csrf_headers(browser)
    )
    assert response.status_code == 201, response.content
    return response.json()


def bearer(secret):
    return Client(enforce_csrf_checks=True, headers={"Authorization": f"Bearer {secret}"})


def test_session_post_without_csrf_token_is_refused_with_json(browser):
    response = browser.post("/api/chatbot/sessions", "{}", content_type="application/json")
    assert response.status_code == 403
    assert "CSRF" in response.json()["detail"]
    assert browser.get("/api/chatbot/sessions").json() == {"sessions": []}  # nothing was created


def test_session_post_with_csrf_token_works(browser):
    response = browser.post(
        "/api/chatbot/sessions", "{}", content_type="application/json", headers=csrf_headers(browser)
    )
    assert response.status_code == 201


def test_page_form_without_csrf_token_is_refused(browser):
    response = browser.post("/accounts/profile/", {"name": "x"})
    assert response.status_code == 403 and not ApiToken.objects.exists()
    # The site's own styled page, with its navigation, not Django's bare one.
    page = response.content.decode()
    assert "This form has expired" in page and 'class="site-nav"' in page and "alice" in page


def test_token_is_shown_once_and_stored_only_as_a_digest(browser, alice):
    created = create_token(browser)
    secret = created["token"]
    assert secret.startswith("pp_") and len(secret) > 40
    stored = ApiToken.objects.get(id=created["id"])
    assert secret not in (stored.digest, stored.prefix) and stored.owner == alice
    listed = browser.get("/api/tokens/").json()["tokens"]
    assert [t["id"] for t in listed] == [created["id"]] and "token" not in listed[0]


def test_bearer_token_calls_the_api_without_csrf(browser):
    client = bearer(create_token(browser)["token"])
    response = client.post(
        "/api/chatbot/sessions", json.dumps({"title": "from a script"}), content_type="application/json"
    )
    assert response.status_code == 201
    assert [s["title"] for s in client.get("/api/chatbot/sessions").json()["sessions"]] == ["from a script"]
    token = ApiToken.objects.get()
    assert token.last_used_at is not None


def test_revoked_token_fails_and_does_not_fall_back_to_the_session(browser):
    created = create_token(browser)
    response = browser.delete(f"/api/tokens/{created['id']}", headers=csrf_headers(browser))
    assert response.status_code == 204
    client = bearer(created["token"])
    client.force_login(ApiToken.objects.get().owner)  # a session cookie alongside must not rescue it
    response = client.get("/api/chatbot/sessions")
    assert response.status_code == 401 and "revoked" in response.json()["detail"]
    assert response["WWW-Authenticate"].startswith("Bearer")


def test_unknown_token_is_401(db):
    response = bearer("pp_not-a-real-token").get("/api/chatbot/sessions")
    assert response.status_code == 401 and response.json()["detail"]


def test_token_of_an_inactive_user_fails(browser, alice):
    secret = create_token(browser)["token"]
    alice.is_active = False
    alice.save()
    assert bearer(secret).get("/api/chatbot/sessions").status_code == 401


def test_a_token_cannot_mint_or_revoke_tokens(browser):
    created = create_token(browser)
    client = bearer(created["token"])
    assert client.post("/api/tokens/", json.dumps({"name": "more"}), content_type="application/json").status_code == 403
    assert client.delete(f"/api/tokens/{created['id']}").status_code == 403
    assert ApiToken.objects.filter(revoked_at__isnull=True).count() == 1


def test_someone_elses_token_cannot_be_revoked(browser, django_user_model):
    created = create_token(browser)
    mallory = Client()
    mallory.force_login(django_user_model.objects.create_user("mallory", password="pw-mallory-123456"))
    assert mallory.delete(f"/api/tokens/{created['id']}").status_code == 404
    assert bearer(created["token"]).get("/api/chatbot/sessions").status_code == 200


def test_token_name_is_validated(browser):
    for body in ({}, {"name": ""}, {"name": 7}, {"name": "x" * 101}):
        response = browser.post(
            "/api/tokens/", json.dumps(body), content_type="application/json", headers=csrf_headers(browser)
        )
        assert response.status_code == 400 and response.json()["field"] == "name"


def test_account_page_creates_shows_once_and_revokes(browser):
    page = browser.post(
        "/accounts/profile/", {"name": "grader", "csrfmiddlewaretoken": browser.cookies["csrftoken"].value}
    )
    html = page.content.decode()
    token = ApiToken.objects.get()
    secret = html.split('id="new-token">')[1].split("<")[0]
    assert page.status_code == 200 and secret.startswith(token.prefix)
    assert secret not in browser.get("/accounts/profile/").content.decode()  # shown once
    browser.post(
        f"/accounts/profile/tokens/{token.id}/revoke/", {"csrfmiddlewaretoken": browser.cookies["csrftoken"].value}
    )
    assert bearer(secret).get("/api/chatbot/sessions").status_code == 401


def test_health_token_bearer_still_reaches_health_detail(settings, db):
    settings.HEALTH = {**settings.HEALTH, "TOKEN": "monitoring-secret"}
    response = Client(headers={"Authorization": "Bearer monitoring-secret"}).get("/api/health/mqtt")
    assert response.status_code == 200 and "connected" in response.json()
    assert Client().get("/api/health/mqtt").status_code == 401
