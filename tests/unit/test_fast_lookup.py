"""The per-request lookups that skip the ORM's compiler (portal/fast_lookup.py) answer exactly as the ORM does:
the session row, its user, the chat session -- on SQLite and on PostgreSQL (TEST_DATABASE=postgres)."""
from datetime import timedelta

import pytest
from django.contrib.sessions.models import Session
from django.http import Http404
from django.utils import timezone

from accounts.backends import PooledModelBackend
from accounts.session_store import SessionStore
from chatbot import selectors, services
from chatbot.models import ChatSession
from portal.fast_lookup import get_row

pytestmark = pytest.mark.django_db


@pytest.fixture
def alice(django_user_model):
    return django_user_model.objects.create_user("alice", password="pw-alice-123456")


def field_values(obj):
    return {f.attname: getattr(obj, f.attname) for f in type(obj)._meta.concrete_fields}


def test_a_row_comes_back_as_the_orm_would_return_it(alice):
    session = services.session_create(owner=alice, preset="general", title="Zürich ✓")
    fast = get_row(ChatSession, id=session.id, owner_id=alice.pk)
    assert type(fast) is ChatSession and field_values(fast) == field_values(ChatSession.objects.get(id=session.id))
    assert fast.created_at.tzinfo is not None and fast._state.adding is False
    assert field_values(get_row(type(alice), pk=alice.pk)) == field_values(type(alice).objects.get(pk=alice.pk))
    # JSON, booleans and aware datetimes are converted as the ORM converts them.
    from chatbot.models import ChatMessage
    services.turn_begin(session_id=session.id, request_id="r1", content="q", overrides={}, holder="test|token", hold_for=45)
    stored, _ = services.reply_store(request_id="r1", text="hi", is_error=True,
                                     metadata={"tokens": [1, 2], "model": "m", "ok": False})
    fast = get_row(ChatMessage, id=stored.id)
    assert field_values(fast) == field_values(ChatMessage.objects.get(id=stored.id))
    assert fast.metadata == {"tokens": [1, 2], "model": "m", "ok": False, "error": True}


def test_no_row_for_a_missing_id_another_owner_or_an_id_no_column_can_hold(alice, django_user_model):
    session = services.session_create(owner=alice, preset="general")
    bob = django_user_model.objects.create_user("bob", password="pw-bob-123456")
    assert get_row(ChatSession, id=session.id + 1000) is None
    assert get_row(ChatSession, id=session.id, owner_id=bob.pk) is None
    assert get_row(ChatSession, id=2**70) is None and get_row(ChatSession, id=-(2**70)) is None


def test_a_chat_session_by_id_is_its_owners_and_staffs_only(alice, django_user_model):
    session = services.session_create(owner=alice, preset="general")
    bob = django_user_model.objects.create_user("bob", password="pw-bob-123456")
    staff = django_user_model.objects.create_user("carol", password="pw-carol-123456", is_staff=True)
    assert selectors.session_for_user(user=alice, session_id=session.id).id == session.id
    assert selectors.session_for_user(user=staff, session_id=session.id).id == session.id
    with pytest.raises(Http404):
        selectors.session_for_user(user=bob, session_id=session.id)
    with pytest.raises(Http404):
        selectors.session_for_user(user=alice, session_id=2**64)  # a path id beyond any column: 404, not 500


def test_the_user_lookup_refuses_inactive_users(alice):
    backend = PooledModelBackend()
    assert backend.get_user(alice.pk) == alice
    alice.is_active = False
    alice.save()
    assert backend.get_user(alice.pk) is None
    assert backend.get_user(alice.pk + 1000) is None


def test_a_session_loads_until_it_expires_and_then_is_forgotten(alice):
    store = SessionStore()
    store["_auth_user_id"] = str(alice.pk)
    store.create()
    key = store.session_key
    assert SessionStore(key).load() == {"_auth_user_id": str(alice.pk)}
    Session.objects.filter(session_key=key).update(expire_date=timezone.now() - timedelta(seconds=1))
    expired = SessionStore(key)
    assert expired.load() == {} and expired.session_key is None
    assert SessionStore("no-such-session-key-at-all").load() == {}
