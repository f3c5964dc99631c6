"""Announcements: the active window, the order, the admin's check, and GET /api/announcements (public, ETag)."""

from datetime import timedelta

import pytest
from django.core.exceptions import ValidationError
from django.utils import timezone

from accounts.announcements import MAX_SHOWN, active_announcements
from accounts.models import Announcement

pytestmark = pytest.mark.django_db


def announce(title, *, starts=-60, ends=None, priority=Announcement.Priority.INFO, body=""):
    now = timezone.now()
    return Announcement.objects.create(
        title=title,
        body=body,
        priority=priority,
        active_from=now + timedelta(seconds=starts),
        active_until=None if ends is None else now + timedelta(seconds=ends),
    )


def test_only_announcements_inside_their_window_are_active():
    current = announce("now, open-ended")
    closing = announce("now, until later", ends=600)
    announce("not yet", starts=600)
    announce("over", starts=-600, ends=-60)
    assert set(active_announcements()) == {current, closing}
    later = timezone.now() + timedelta(seconds=700)
    assert set(active_announcements(later)) == {current, Announcement.objects.get(title="not yet")}
    assert current.is_shown_at(timezone.now()) and not closing.is_shown_at(later)


def test_the_most_pressing_come_first_then_the_newest():
    old_info = announce("old info", starts=-300)
    new_info = announce("new info", starts=-10)
    urgent = announce("urgent", starts=-600, priority=Announcement.Priority.URGENT)
    important = announce("important", starts=-500, priority=Announcement.Priority.IMPORTANT)
    assert list(active_announcements()) == [urgent, important, new_info, old_info]


def test_an_end_before_the_start_is_refused_in_the_admin():
    now = timezone.now()
    with pytest.raises(ValidationError):
        Announcement(title="x", active_from=now, active_until=now - timedelta(minutes=1)).full_clean()


def test_the_endpoint_lists_active_announcements_to_anyone_with_the_poll_interval(client, settings):
    settings.ANNOUNCEMENT_POLL_INTERVAL = 12.5
    announce("Lunch at noon", body="In the hall.\nBring your badge.", priority=Announcement.Priority.IMPORTANT)
    announce("over", starts=-600, ends=-60)
    response = client.get("/api/announcements")
    assert response.status_code == 200 and response["Content-Type"] == "application/json"
    data = response.json()
    assert data["poll_after"] == 12.5
    [shown] = data["announcements"]
    assert shown == {
        "id": shown["id"],
        "title": "Lunch at noon",
        "body": "In the hall.\nBring your badge.",
        "priority": "important",
    }
    # The same for everyone: it does not read the session, so caches need not tell users apart.
    assert "Cookie" not in response.get("Vary", "")


def test_the_endpoint_answers_304_while_nothing_changed_and_200_once_something_did(client):
    announce("first")
    first = client.get("/api/announcements")
    etag = first["ETag"]
    assert first["Cache-Control"] == "no-cache"
    assert client.get("/api/announcements", HTTP_IF_NONE_MATCH=etag).status_code == 304
    announce("second")
    again = client.get("/api/announcements", HTTP_IF_NONE_MATCH=etag)
    assert again.status_code == 200 and len(again.json()["announcements"]) == 2


def test_the_endpoint_shows_a_bounded_number_and_refuses_writes_with_json(client):
    for n in range(MAX_SHOWN + 3):
        announce(f"n{n}")
    assert len(client.get("/api/announcements").json()["announcements"]) == MAX_SHOWN
    response = client.put("/api/announcements", b"{}", content_type="application/json")
    assert response.status_code == 405 and response.json()["detail"] and response["Allow"] == "GET, HEAD"
    # A POST without a CSRF token stops at the CSRF check, which answers the API in JSON too.
    from django.test import Client

    refused = Client(enforce_csrf_checks=True).post("/api/announcements", {})
    assert refused.status_code == 403 and refused.json()["detail"]


def test_every_page_carries_the_banner_region_and_its_script(client):
    html = client.get("/accounts/login/").content.decode()
    assert 'id="announcements"' in html and "/static/js/announcements.js" in html
    assert "<script>" not in html  # no inline script: the CSP forbids it
