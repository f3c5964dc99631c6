"""The worker's per-turn writes that skip the ORM's compiler (portal/fast_writes.py) store exactly what the ORM
would, raise what it would, and step aside for models with save signals -- on SQLite and on PostgreSQL
(TEST_DATABASE=postgres)."""
import pytest
from django.db import IntegrityError, transaction
from django.db.models.signals import post_save

from chatbot import services
from chatbot.models import ChatMessage, ChatSession
from portal.fast_writes import insert_row, update_columns

pytestmark = pytest.mark.django_db(transaction=True)


def stored(message_id):
    return {f.attname: getattr(m, f.attname) for m in [ChatMessage.objects.get(id=message_id)]
            for f in ChatMessage._meta.concrete_fields}


def test_an_inserted_row_reads_back_as_the_orms_save_writes_it(session):
    fields = dict(session_id=session.id, role="assistant", content="Zürich ✓\n", request_id="r1",
                  metadata={"tokens": [1, 2], "nested": {"ok": False}, "model": None})
    fast = insert_row(ChatMessage(**fields))
    orm = ChatMessage(**{**fields, "request_id": "r2"})
    orm.save(force_insert=True)
    assert fast.pk and fast.pk != orm.pk and fast._state.adding is False and fast._state.db == "default"
    assert fast.created_at is not None and fast.created_at.tzinfo is not None  # auto_now_add filled in
    as_stored, as_orm_stored = stored(fast.pk), stored(orm.pk)
    for row in (as_stored, as_orm_stored):
        row.pop("id"), row.pop("request_id"), row.pop("created_at"), row.pop("updated_at")
    assert as_stored == as_orm_stored
    assert ChatMessage.objects.get(id=fast.pk).created_at == fast.created_at


def test_a_duplicate_raises_djangos_integrity_error(session):
    insert_row(ChatMessage(session_id=session.id, role="user", content="a", request_id="same"))
    with pytest.raises(IntegrityError), transaction.atomic():
        insert_row(ChatMessage(session_id=session.id, role="user", content="b", request_id="same"))
    assert ChatMessage.objects.filter(request_id="same").count() == 1


def test_a_model_with_save_receivers_goes_through_save(session):
    heard = []

    def receiver(sender, instance, created, **kwargs):
        heard.append((instance.content, created))

    post_save.connect(receiver, sender=ChatMessage)
    try:
        message = insert_row(ChatMessage(session_id=session.id, role="user", content="signalled", request_id="r"))
    finally:
        post_save.disconnect(receiver, sender=ChatMessage)
    assert heard == [("signalled", True)] and message.pk


def test_update_columns_sets_only_the_named_columns_of_that_row(session, django_user_model):
    other = services.session_create(owner=session.owner, preset="general", title="other")
    before = ChatSession.objects.get(id=other.id).updated_at
    message = insert_row(ChatMessage(session_id=session.id, role="user", content="a", request_id="r"))
    assert update_columns(ChatSession, session.id, updated_at=message.created_at) == 1
    assert ChatSession.objects.get(id=session.id).updated_at == message.created_at
    assert ChatSession.objects.get(id=other.id).updated_at == before
    assert update_columns(ChatSession, 10**9, updated_at=message.created_at) == 0
