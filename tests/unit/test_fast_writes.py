"""The worker's per-turn writes that skip the ORM's compiler (portal/fast_writes.py) store exactly what the ORM
would, raise what it would, and step aside for models with save signals -- on SQLite and on PostgreSQL
(TEST_DATABASE=postgres)."""
import pytest
from django.db import IntegrityError, transaction
from django.db.models.signals import post_save

from chatbot import services
from chatbot.models import ChatMessage, ChatSession
from portal.fast_writes import insert_row, insert_rows, update_columns

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


def test_many_rows_are_inserted_in_order_each_with_its_id_across_the_databases_batch_limit(session):
    # 300 rows of 7 columns are more than one statement may carry on SQLite (999 parameters): several INSERTs.
    messages = insert_rows([ChatMessage(session_id=session.id, role="user", content=f"q{i}", request_id=f"r{i}",
                                        metadata={"i": i}) for i in range(300)])
    assert len({m.pk for m in messages}) == 300 and all(m._state.adding is False for m in messages)
    by_id = dict(ChatMessage.objects.values_list("id", "content"))
    assert [by_id[m.pk] for m in messages] == [f"q{i}" for i in range(300)]  # each object got its own row's id
    assert ChatMessage.objects.get(id=messages[299].pk).metadata == {"i": 299}


def test_many_rows_read_back_as_bulk_create_writes_them_and_a_duplicate_fails_them_all(session):
    fast = insert_rows([ChatMessage(session_id=session.id, role="assistant", content="a", request_id="x1",
                                    metadata={"k": [1]})])
    orm = ChatMessage.objects.bulk_create([ChatMessage(session_id=session.id, role="assistant", content="a",
                                                       request_id="x2", metadata={"k": [1]})])
    rows = [stored(m.pk) for m in fast + orm]
    for row in rows:
        row.pop("id"), row.pop("request_id"), row.pop("created_at"), row.pop("updated_at")
    assert rows[0] == rows[1]
    with pytest.raises(IntegrityError), transaction.atomic():
        insert_rows([ChatMessage(session_id=session.id, role="user", content="b", request_id=f"y{i % 2}")
                     for i in range(3)])
    assert not ChatMessage.objects.filter(request_id__startswith="y").exists()
