"""The worker's database thread (portal/db.py DbThread): calls made while it is busy run together in one
transaction, each in its own savepoint with its own outcome; a commit that fails reruns each call alone."""

import asyncio
import threading

import pytest
from django.db import IntegrityError, connection

from chatbot.models import ChatMessage, ChatSession
from portal.db import DbThread

pytestmark = pytest.mark.django_db(transaction=True)


def run(scenario):
    db = DbThread()
    try:
        return asyncio.run(scenario(db))
    finally:
        db.close()


def test_calls_made_while_it_is_busy_share_one_transaction_and_keep_their_order(session):
    started, release = threading.Event(), threading.Event()
    seen = []

    def first():
        started.set()
        release.wait(5)
        return "first"

    def later(n):
        seen.append((n, connection.in_atomic_block, len(connection.savepoint_ids)))
        return n

    async def scenario(db):
        head = asyncio.ensure_future(db.run(first))
        await asyncio.to_thread(started.wait, 5)
        rest = [asyncio.ensure_future(db.run(later, n=n)) for n in range(3)]
        await asyncio.sleep(0)
        release.set()
        return await head, await asyncio.gather(*rest)

    assert run(scenario) == ("first", [0, 1, 2])
    # One transaction for the three, each call inside a savepoint of its own.
    assert seen == [(0, True, 1), (1, True, 1), (2, True, 1)]


def test_a_failing_call_gets_its_own_exception_and_undoes_only_its_own_writes(session):
    gate = threading.Event()

    def hold():
        gate.wait(5)

    def store(content):
        ChatMessage.objects.create(session=session, role="user", content=content, request_id=content)
        if content == "bad":
            raise ValueError("refused")
        return content

    async def scenario(db):
        held = asyncio.ensure_future(db.run(hold))
        await asyncio.sleep(0.05)
        calls = [asyncio.ensure_future(db.run(store, content=c)) for c in ("a", "bad", "b")]
        await asyncio.sleep(0)
        gate.set()
        await held
        return await asyncio.gather(*calls, return_exceptions=True)

    a, bad, b = run(scenario)
    assert (a, b) == ("a", "b") and isinstance(bad, ValueError)
    assert sorted(ChatMessage.objects.values_list("content", flat=True)) == ["a", "b"]


def test_a_commit_that_fails_reruns_each_call_alone(session):
    gate = threading.Event()

    def hold():
        gate.wait(5)

    def store(session_id, content):
        # A foreign key to a missing session is checked at commit (deferred), so it fails the whole batch there.
        return ChatMessage.objects.create(session_id=session_id, role="user", content=content).content

    async def scenario(db):
        held = asyncio.ensure_future(db.run(hold))
        await asyncio.sleep(0.05)
        calls = [
            asyncio.ensure_future(db.run(store, session_id=sid, content=c))
            for sid, c in ((session.id, "kept"), (10**9, "orphan"), (session.id, "kept too"))
        ]
        await asyncio.sleep(0)
        gate.set()
        await held
        return await asyncio.gather(*calls, return_exceptions=True)

    kept, orphan, kept_too = run(scenario)
    assert (kept, kept_too) == ("kept", "kept too") and isinstance(orphan, IntegrityError)
    assert sorted(ChatMessage.objects.values_list("content", flat=True)) == ["kept", "kept too"]
    assert ChatSession.objects.count() == 1
