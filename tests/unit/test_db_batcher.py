"""portal.db.DbBatcher: the worker's database calls made together share one hop and one transaction, and each
still gets its own outcome -- also when the batch's commit fails on a deferred foreign key."""
import asyncio
import threading
import time

import pytest
from django.db import IntegrityError

from chatbot import services
from chatbot.models import ChatMessage
from chatbot.replies import store_assistant_reply, store_user_question
from portal import db

pytestmark = pytest.mark.django_db(transaction=True)


@pytest.fixture(autouse=True)
def _close_batchers(monkeypatch):
    """Every batcher a test makes is closed after it: its thread then closes its database connection, which
    would otherwise keep PostgreSQL from dropping the test database at the end of the run."""
    made = []

    class ClosedAfterTheTest(db.DbBatcher):
        def __init__(self, *args, **kwargs):
            super().__init__(*args, **kwargs)
            made.append(self)

    monkeypatch.setattr(db, "DbBatcher", ClosedAfterTheTest)
    yield
    for batcher in made:
        batcher.close()


@pytest.fixture
def hops(monkeypatch):
    """How many batches the database thread ran, and how many calls each held."""
    sizes = []
    real = db._run_batch

    def counting(batch, outcomes):
        sizes.append(len(batch))
        return real(batch, outcomes)

    monkeypatch.setattr(db, "_run_batch", counting)
    return sizes


async def in_one_batch(batcher, *calls, return_exceptions=False):
    """Awaits `calls` (batcher.call coroutines) submitted while the batcher's thread is busy with one call that
    holds it, so that they form the next batch together (a batcher idle when a call comes starts on it at once)."""
    started, release = threading.Event(), threading.Event()

    def hold():
        started.set()
        return release.wait(5)

    held = batcher.submit(hold)
    assert await asyncio.to_thread(started.wait, 5)
    together = asyncio.gather(*calls, return_exceptions=return_exceptions)
    await asyncio.sleep(0)  # each call's task runs up to its submit
    release.set()
    assert await held
    return await together


def test_calls_made_together_share_one_batch(session, hops):
    batcher = db.DbBatcher()

    async def scenario():
        return await in_one_batch(batcher, *(
            batcher.call(store_user_question, session_id=session.id, content=f"q{i}", request_id=f"r{i}")
            for i in range(50)))

    stored = asyncio.run(scenario())
    assert [m["content"] for m in stored] == [f"q{i}" for i in range(50)]  # each caller its own result
    assert ChatMessage.objects.count() == 50
    assert hops == [1, 50]  # the calls made while one batch ran: the next batch, one transaction


def test_a_call_that_raises_fails_alone(session, hops):
    batcher = db.DbBatcher()

    def broken(**kwargs):
        ChatMessage.objects.create(session_id=session.id, role="user", content="half-done", request_id="x")
        raise ValueError("boom")

    async def scenario():
        return await in_one_batch(
            batcher,
            batcher.call(store_user_question, session_id=session.id, content="before", request_id="r1"),
            batcher.call(broken),
            batcher.call(store_user_question, session_id=session.id, content="after", request_id="r2"),
            return_exceptions=True)

    first, failed, last = asyncio.run(scenario())
    assert isinstance(failed, ValueError)
    assert first["content"] == "before" and last["content"] == "after"
    # The failed call's own write was undone with it; the others' are committed.
    assert sorted(ChatMessage.objects.values_list("content", flat=True)) == ["after", "before"]


def test_a_deleted_session_fails_only_its_own_call_when_the_commit_fails(session, hops):
    # Django's foreign keys are checked at commit: the bad row fails the whole batch there, and the batch
    # is run again call by call so that every caller gets what it would have got alone.
    other = services.session_create(owner=session.owner, preset="general")
    gone_id = other.id
    other.delete()
    batcher = db.DbBatcher()

    async def scenario():
        return await in_one_batch(
            batcher,
            batcher.call(store_user_question, session_id=session.id, content="kept", request_id="r1"),
            batcher.call(store_user_question, session_id=gone_id, content="orphan", request_id="r2"),
            batcher.call(store_assistant_reply, session_key=session.session_key, request_id="r1", text="hi",
                         is_error=False, metadata={}),
        )

    kept, orphan, reply = asyncio.run(scenario())
    assert kept["content"] == "kept" and orphan is None and reply["created"] is True
    assert sorted(ChatMessage.objects.values_list("content", flat=True)) == ["hi", "kept"]
    assert hops == [1, 3]  # one batch, whose commit failed and was then run call by call


def test_the_duplicate_of_a_reply_in_the_same_batch_is_found(session):
    batcher = db.DbBatcher()
    kwargs = dict(session_key=session.session_key, request_id="r1", text="hi", is_error=False, metadata={})

    async def scenario():
        return await in_one_batch(batcher, batcher.call(store_assistant_reply, **kwargs),
                                    batcher.call(store_assistant_reply, **kwargs))

    first, second = asyncio.run(scenario())
    assert first["created"] is True and second["created"] is False
    assert first["message"]["id"] == second["message"]["id"]


def test_integrity_errors_reach_the_caller(session):
    batcher = db.DbBatcher()

    def duplicate_insert():
        ChatMessage.objects.create(session_id=session.id, role="user", content="a", request_id="same")
        ChatMessage.objects.create(session_id=session.id, role="user", content="b", request_id="same")

    with pytest.raises(IntegrityError):
        asyncio.run(batcher.call(duplicate_insert))


def test_a_database_error_inside_a_batch_is_retried_alone(session, hops):
    # As a deadlock between two workers' batches does on PostgreSQL: the call fails only because it ran inside
    # the batch's transaction, and alone it succeeds.
    from django.db import OperationalError, connection

    attempts = []

    def contended(**kwargs):
        attempts.append(connection.in_atomic_block)
        if connection.in_atomic_block:
            raise OperationalError("deadlock detected")
        return store_user_question(**kwargs)

    batcher = db.DbBatcher()

    async def scenario():
        return await in_one_batch(
            batcher,
            batcher.call(store_user_question, session_id=session.id, content="first", request_id="r1"),
            batcher.call(contended, session_id=session.id, content="contended", request_id="r2"))

    first, contended_result = asyncio.run(scenario())
    assert first["content"] == "first" and contended_result["content"] == "contended"
    assert attempts == [True, False] and hops == [1, 2]


def test_a_batch_runs_its_calls_in_lock_order(hops):
    # Two workers' batches then lock the same sessions' rows in the same order: on PostgreSQL they wait for each
    # other instead of deadlocking (which took PostgreSQL's 1-s detection and refused a question in CI).
    ran = []
    batcher = db.DbBatcher()

    def record(name):
        ran.append(name)
        return name

    async def scenario():
        return await in_one_batch(batcher, *(batcher.call(record, lock_order=key, name=f"{key}{i}")
                                      for i, key in enumerate(["s3", "s1", "s2", "s1"])))

    results = asyncio.run(scenario())
    assert results == ["s30", "s11", "s22", "s13"]  # each caller its own result
    assert ran == ["s11", "s13", "s22", "s30"] and hops == [1, 4]  # same row: arrival order kept


# -- bulk forms: many calls of one function, one INSERT ------------------------------------------------------
def test_calls_of_a_function_with_a_bulk_form_run_through_it_together(hops):
    bulk_runs = []

    def double_all(calls):
        bulk_runs.append(len(calls))
        return [2 * call["x"] for call in calls]

    @db.with_bulk_form(double_all)
    def double(*, x):
        raise AssertionError("run one by one although the bulk form worked")

    batcher = db.DbBatcher()

    async def scenario():
        return await in_one_batch(batcher, *(batcher.call(double, x=i) for i in range(5)))

    assert asyncio.run(scenario()) == [0, 2, 4, 6, 8]
    assert bulk_runs == [5] and hops == [1, 5]


def test_when_the_bulk_form_fails_each_call_runs_alone_and_its_writes_are_undone(session):
    def store_all_then_fail(calls):
        services.user_messages_create(calls)
        raise IntegrityError("a duplicate, say")

    @db.with_bulk_form(store_all_then_fail)
    def store(**kwargs):
        return store_user_question(**kwargs)

    batcher = db.DbBatcher()

    async def scenario():
        return await in_one_batch(batcher, *(
            batcher.call(store, session_id=session.id, content=f"q{i}", request_id=f"r{i}")
                                      for i in range(3)))

    assert [m["content"] for m in asyncio.run(scenario())] == ["q0", "q1", "q2"]
    assert ChatMessage.objects.count() == 3  # the bulk form's rows were rolled back with its savepoint


def test_questions_and_replies_of_many_sessions_in_one_batch(django_user_model, monkeypatch):
    bulk_runs = []
    for func in (store_user_question, store_assistant_reply):
        def counting(calls, _bulk=func.bulk_form):
            bulk_runs.append(len(calls))
            return _bulk(calls)
        monkeypatch.setattr(func, "bulk_form", counting)
    owner = django_user_model.objects.create_user("bob", password="pw-bob-123456")
    sessions = [services.session_create(owner=owner, preset="general") for _ in range(3)]
    before = {s.id: s.updated_at for s in sessions}
    batcher = db.DbBatcher()

    async def scenario():
        questions = await in_one_batch(batcher, *(
            batcher.call(store_user_question, lock_order=s.session_key, session_id=s.id, content=f"q{n}",
                         request_id=f"r{n}") for n, s in enumerate(sessions)))
        replies = await in_one_batch(batcher, *(
            batcher.call(store_assistant_reply, lock_order=key, session_key=key, request_id=f"r{n}",
                         text=f"a{n}\x00", is_error=n == 1, metadata={"n": n})
            for n, key in enumerate([s.session_key for s in sessions] + ["no-such-session"])))
        return questions, replies

    questions, replies = asyncio.run(scenario())
    assert bulk_runs == [3, 4]  # each batch went through its bulk form
    assert [q["content"] for q in questions] == ["q0", "q1", "q2"] and all(q["id"] for q in questions)
    assert [r["message"]["content"] for r in replies[:3]] == ["a0", "a1", "a2"]  # NUL removed
    assert [r["created"] for r in replies[:3]] == [True, True, True] and replies[3] is None
    assert replies[1]["message"]["metadata"] == {"n": 1, "error": True}
    for s in sessions:  # each session's activity time moved
        s.refresh_from_db()
        assert s.updated_at > before[s.id]
    stored = ChatMessage.objects.filter(request_id="r2").order_by("role").values_list("role", "content", "session")
    assert list(stored) == [("assistant", "a2", sessions[2].id), ("user", "q2", sessions[2].id)]


def test_a_reply_and_a_question_of_one_session_in_one_batch_keep_their_order(django_user_model, monkeypatch):
    # Bulk forms run before the batch's other calls, so a session written by two functions in one batch is left
    # out of them: its history must read question, reply, next question -- the order they came in.
    bulk_runs = []
    real = store_user_question.bulk_form

    def counting(calls):
        bulk_runs.append([c["request_id"] for c in calls])
        return real(calls)

    monkeypatch.setattr(store_user_question, "bulk_form", counting)
    owner = django_user_model.objects.create_user("carol", password="pw-carol-123456")
    busy, quiet, other = (services.session_create(owner=owner, preset="general") for _ in range(3))
    store_user_question(session_id=busy.id, content="q0", request_id="r0")
    batcher = db.DbBatcher()

    async def scenario():
        return await in_one_batch(
            batcher,
            batcher.call(store_assistant_reply, lock_order=busy.session_key, session_key=busy.session_key,
                         request_id="r0", text="a0", is_error=False, metadata={}),
            batcher.call(store_user_question, lock_order=busy.session_key, session_id=busy.id, content="q1",
                         request_id="r1"),
            batcher.call(store_user_question, lock_order=quiet.session_key, session_id=quiet.id, content="q2",
                         request_id="r2"),
            batcher.call(store_user_question, lock_order=other.session_key, session_id=other.id, content="q3",
                         request_id="r3"))

    reply, *questions = asyncio.run(scenario())
    assert reply["created"] and [q["content"] for q in questions] == ["q1", "q2", "q3"]
    assert sorted(bulk_runs[0]) == ["r2", "r3"]  # the busy session's question went one by one
    history = ChatMessage.objects.filter(session=busy).order_by("id").values_list("content", flat=True)
    assert list(history) == ["q0", "a0", "q1"]


# -- calls that depend on another (a reply is stored only if its question was) -------------------------------
def test_a_call_requiring_another_runs_only_if_that_one_succeeded():
    ran = []
    batcher = db.DbBatcher()

    def step(*, name, result=True, fail=False):
        ran.append(name)
        if fail:
            raise ValueError(name)
        return result

    async def scenario():
        outcomes = []
        for prerequisite in ({"result": "stored"}, {"result": None}, {"fail": True}):
            tag = f"q{len(outcomes)}"
            question = batcher.submit(step, records=tag, name=tag, **prerequisite)
            reply = batcher.submit(step, requires=tag, name=f"reply to {tag}")
            outcomes.append(await asyncio.gather(question, reply, return_exceptions=True))
        outcomes.append([await batcher.call(step, requires="never recorded", name="unrelated")])
        return outcomes

    stored, gone, failed, unrelated = asyncio.run(scenario())
    assert stored == ["stored", True]
    assert gone[0] is None and isinstance(gone[1], db.PrerequisiteFailed)  # None counts as not stored
    assert isinstance(failed[0], ValueError) and isinstance(failed[1], db.PrerequisiteFailed)
    assert unrelated == [True]  # a prerequisite nobody recorded does not hold a call back
    assert ran == ["q0", "reply to q0", "q1", "q2", "unrelated"]


def test_a_call_queued_behind_its_prerequisite_runs_right_after_it_without_the_event_loop():
    # The point of the batcher's own thread: the reply's store follows its question's store at once; it does not
    # wait for the question's outcome to travel to the event loop and a new batch to travel back.
    ran = []
    batcher = db.DbBatcher()
    started, release = threading.Event(), threading.Event()

    def question():
        started.set()
        release.wait(5)
        ran.append("question")
        return "stored"

    def reply():
        ran.append("reply")
        return "stored"

    async def scenario():
        first = batcher.submit(question, records="q")
        second = batcher.submit(reply, requires="q")
        assert await asyncio.to_thread(started.wait, 5)
        release.set()
        time.sleep(0.5)  # the event loop is blocked: nothing can be handed back to it meanwhile
        assert ran == ["question", "reply"]
        return await first, await second

    assert asyncio.run(scenario()) == ("stored", "stored")


def test_a_call_refused_for_its_prerequisite_in_a_batch_runs_when_that_one_succeeds_alone(session, hops):
    from django.db import OperationalError, connection

    def contended_question(**kwargs):
        if connection.in_atomic_block:
            raise OperationalError("deadlock detected")  # only inside the batch, as a lock conflict would
        return store_user_question(**kwargs)

    batcher = db.DbBatcher()

    async def scenario():
        return await in_one_batch(
            batcher,
            batcher.call(contended_question, records="q:r1", session_id=session.id, content="hi", request_id="r1"),
            batcher.call(store_assistant_reply, requires="q:r1", session_key=session.session_key, request_id="r1",
                         text="hello", is_error=False, metadata={}))

    question, reply = asyncio.run(scenario())
    assert question["content"] == "hi" and reply["created"] is True
    assert list(ChatMessage.objects.order_by("id").values_list("content", flat=True)) == ["hi", "hello"]
    assert hops == [1, 2]


def test_closing_runs_what_is_queued_and_ends_the_thread():
    batcher = db.DbBatcher()
    ran = []

    async def scenario():
        futures = [batcher.submit(lambda i=i: ran.append(i)) for i in range(3)]
        await asyncio.to_thread(batcher.close)
        return await asyncio.gather(*futures)

    assert asyncio.run(scenario()) == [None, None, None] and ran == [0, 1, 2]
    assert not batcher._thread.is_alive()
    with pytest.raises(RuntimeError):
        asyncio.run(batcher.call(ran.append))


def test_each_sessions_question_then_reply_in_one_batch_go_through_the_bulk_forms_in_rounds(django_user_model,
                                                                                           monkeypatch, hops):
    # Replies are queued as soon as they come, so under load a batch often holds a question and its own reply:
    # the questions of all sessions go in one INSERT, then their replies in another, each session's in order.
    bulk_runs = []
    for func in (store_user_question, store_assistant_reply):
        def counting(calls, _bulk=func.bulk_form, _name=func.__name__):
            bulk_runs.append((_name, len(calls)))
            return _bulk(calls)
        monkeypatch.setattr(func, "bulk_form", counting)
    owner = django_user_model.objects.create_user("dave", password="pw-dave-123456")
    sessions = [services.session_create(owner=owner, preset="general") for _ in range(4)]
    batcher = db.DbBatcher()

    def turn(n, s):
        return [batcher.call(store_user_question, lock_order=s.session_key, records=f"q:r{n}", session_id=s.id,
                             content=f"q{n}", request_id=f"r{n}"),
                batcher.call(store_assistant_reply, lock_order=s.session_key, requires=f"q:r{n}",
                             session_key=s.session_key, request_id=f"r{n}", text=f"a{n}", is_error=False,
                             metadata={})]

    async def scenario():
        return await in_one_batch(batcher, *(call for n, s in enumerate(sessions) for call in turn(n, s)))

    results = asyncio.run(scenario())
    assert hops == [1, 8]
    assert bulk_runs == [("store_user_question", 4), ("store_assistant_reply", 4)]
    assert [r["content"] for r in results[::2]] == ["q0", "q1", "q2", "q3"]
    assert [r["message"]["content"] for r in results[1::2]] == ["a0", "a1", "a2", "a3"]
    for n, s in enumerate(sessions):
        history = ChatMessage.objects.filter(session=s).order_by("id").values_list("content", flat=True)
        assert list(history) == [f"q{n}", f"a{n}"]


def test_a_failure_outside_the_calls_themselves_fails_that_batch_only(monkeypatch):
    # Say the connection cannot even be checked (a database that went away): the callers hear of it and the
    # batcher's thread carries on with the next batch; a dead thread would leave every later call waiting forever.
    batcher = db.DbBatcher()
    real = db._recycle_connections
    failures = iter([RuntimeError("database went away")])

    def flaky():
        failure = next(failures, None)
        if failure is not None:
            raise failure
        real()

    monkeypatch.setattr(db, "_recycle_connections", flaky)

    async def scenario():
        first = await asyncio.wait_for(asyncio.gather(batcher.call(lambda: "lost"), return_exceptions=True), 5)
        return first, await asyncio.wait_for(batcher.call(lambda: "served"), 5)

    (first,), second = asyncio.run(scenario())
    assert isinstance(first, RuntimeError) and second == "served"
