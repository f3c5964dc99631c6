"""The chat and maze WebSockets (chatbot/consumers.py, maze/consumers.py) driven through portal.asgi with Channels'
WebsocketCommunicator: who may open and write, the frames a turn, a move, a hint or a finish give the browser, and the
close codes for logins that end, deleted objects and too many sockets."""

import asyncio
import time

import pytest
from asgiref.sync import async_to_sync, sync_to_async
from channels.layers import get_channel_layer
from channels.testing import WebsocketCommunicator
from django.contrib.auth.models import Permission
from django.test import Client

from chatbot import consumers as chat_consumers
from chatbot.chat_flow import TurnResult
from chatbot.consumers import MAX_IN_FLIGHT
from chatbot.models import ChatSession
from maze import engine
from maze import services as maze_services
from maze.models import MazeGame
from maze.play import MAX_STEPS_PER_FRAME, Play
from portal.asgi import application
from portal.consumers import AUTH_CHANGED, AUTH_ENDED, session_fingerprint, user_group
from portal.mqtt import contract

pytestmark = pytest.mark.django_db(transaction=True)

WAIT = 3  # seconds a frame may take to arrive (they come in milliseconds; this only bounds a failing test)
DIRECTION_OF = {(0, -1): "up", (0, 1): "down", (-1, 0): "left", (1, 0): "right"}


@pytest.fixture(autouse=True)
def _empty_channel_layer():
    async_to_sync(get_channel_layer().flush)()


# -- sockets --------------------------------------------------------------------------------------------------------
def logged_in(user) -> Client:
    client = Client()
    client.force_login(user)
    return client


def handshake(path, client=None):
    headers = [(b"origin", b"http://localhost"), (b"host", b"localhost")]
    if client is not None:
        headers.append((b"cookie", f"sessionid={client.cookies['sessionid'].value}".encode()))
    return WebsocketCommunicator(application, path, headers=headers)


async def open_socket(path, client=None):
    communicator = handshake(path, client)
    connected, _ = await communicator.connect(timeout=WAIT)
    assert connected  # accepted first: a refusal comes as a close code the browser can read
    return communicator


async def close_code(communicator) -> int:
    output = await communicator.receive_output(timeout=WAIT)
    assert output["type"] == "websocket.close", output
    await communicator.disconnect()
    return output["code"]


async def receive(communicator) -> dict:
    return await communicator.receive_json_from(timeout=WAIT)


async def settled(communicator) -> dict:
    """A frame of an unknown type and its error: frames are handled in order, so the socket finished connecting (it
    joined its groups) and handled every earlier frame once this error arrives."""
    await communicator.send_json_to({"type": "ping"})
    error = await receive(communicator)
    assert error["code"] == "invalid", error
    return error


async def group_send(group: str, event: dict) -> None:
    await get_channel_layer().group_send(group, event)


async def barrier(communicator, user) -> None:
    """An event through the user's group, which every socket of hers listens to: once its frame arrives, every event
    sent to this socket before it was handled (one channel, handled in order)."""
    event = {"type": contract.CHAT_REPLY, "request_id": "barrier", "assistant_message": None, "is_error": False}
    await group_send(user_group(user.pk), event)
    assert await receive(communicator) == event


# -- chat ---------------------------------------------------------------------------------------------------------
def reply_event(request_id: str, text: str = "Hi, Alice.") -> dict:
    return {
        "type": contract.CHAT_REPLY,
        "request_id": request_id,
        "assistant_message": {"role": "assistant", "content": text},
        "is_error": False,
        "worker": "w-1",  # the worker's own fields stay between the web side and the worker
    }


class FakeTurn:
    """Stands in for chatbot.chat_flow.chat_turn: waits for `gate` (if any), reports queued and accepted as the worker
    does, runs `before_reply(request_id)` and answers `event(request_id)` (a chat.reply by default)."""

    def __init__(self, event=reply_event, gate: asyncio.Event | None = None, before_reply=None):
        self.event = event
        self.gate = gate
        self.before_reply = before_reply
        self.calls: list[dict] = []

    async def __call__(
        self, *, session, content, overrides, notify_group, on_progress=None, request_id=None, sent_by=None
    ):
        self.calls.append(
            {"session_id": session.id, "content": content, "notify_group": notify_group, "sent_by": sent_by}
        )
        if self.gate is not None:
            await self.gate.wait()
        user_message = {"role": "user", "content": content, "sent_by": sent_by}
        await on_progress({"type": contract.CHAT_QUEUED, "request_id": request_id, "position": 1, "worker": "w-1"})
        await on_progress({"type": contract.CHAT_ACCEPTED, "request_id": request_id, "user_message": user_message})
        if self.before_reply is not None:
            await self.before_reply(request_id)
        return TurnResult(event=self.event(request_id), user_message=user_message)


@pytest.fixture
def fake_turn(monkeypatch):
    def install(**kwargs) -> FakeTurn:
        fake = FakeTurn(**kwargs)
        monkeypatch.setattr(chat_consumers, "chat_turn", fake)
        return fake

    return install


@pytest.fixture
def staff(django_user_model):
    return django_user_model.objects.create_user("sam", password="pw-sam-123456", is_staff=True)


def chat_path(session_id) -> str:
    return f"/ws/chat/{session_id}/"


async def a_turn(communicator, content="Hello") -> tuple[dict, dict, dict]:
    await communicator.send_json_to({"type": "chat.message", "content": content})
    return await receive(communicator), await receive(communicator), await receive(communicator)


def test_chat_without_a_login_closes_4401(session):
    async def scenario():
        assert await close_code(await open_socket(chat_path(session.id))) == 4401

    async_to_sync(scenario)()


def test_another_users_chat_closes_4404_like_a_missing_one(session, bob):
    client = logged_in(bob)

    async def scenario():
        assert await close_code(await open_socket(chat_path(session.id), client)) == 4404
        assert await close_code(await open_socket(chat_path(session.id + 1000), client)) == 4404

    async_to_sync(scenario)()


def test_a_chat_message_gets_queued_accepted_and_the_reply(session, fake_turn):
    fake = fake_turn()
    client = logged_in(session.owner)

    async def scenario():
        communicator = await open_socket(chat_path(session.id), client)
        queued, accepted, reply = await a_turn(communicator, "Hello")
        request_id = queued["request_id"]
        assert request_id
        assert queued == {"type": contract.CHAT_QUEUED, "request_id": request_id, "position": 1}  # no worker name
        assert accepted == {
            "type": contract.CHAT_ACCEPTED,
            "request_id": request_id,
            "user_message": {"role": "user", "content": "Hello", "sent_by": None},
        }
        assert reply == {
            "type": contract.CHAT_REPLY,
            "request_id": request_id,
            "assistant_message": {"role": "assistant", "content": "Hi, Alice."},
            "is_error": False,
        }
        assert await communicator.receive_nothing()
        await communicator.disconnect()

    async_to_sync(scenario)()
    assert fake.calls == [{"session_id": session.id, "content": "Hello", "notify_group": True, "sent_by": None}]


def test_a_turn_that_fails_gives_a_chat_error_with_its_request_id(session, fake_turn):
    def unavailable(request_id):
        return contract.error_event(request_id=request_id, code=contract.ERROR_UNAVAILABLE, detail="No worker.")

    fake_turn(event=unavailable)
    client = logged_in(session.owner)

    async def scenario():
        communicator = await open_socket(chat_path(session.id), client)
        queued, _, error = await a_turn(communicator)
        assert error == {
            "type": contract.CHAT_ERROR,
            "request_id": queued["request_id"],
            "code": contract.ERROR_UNAVAILABLE,
            "detail": "No worker.",
        }
        await communicator.disconnect()

    async_to_sync(scenario)()


def test_frames_that_are_no_chat_message_get_invalid(session, fake_turn):
    fake = fake_turn()
    client = logged_in(session.owner)

    async def scenario():
        communicator = await open_socket(chat_path(session.id), client)
        for frame in (
            {"type": "chat.msg", "content": "Hello"},
            {"content": "Hello"},
            {"type": "chat.message", "content": ""},
            {"type": "chat.message"},
            {"type": "chat.message", "content": 42},
            ["chat.message", "Hello"],
        ):
            await communicator.send_json_to(frame)
            error = await receive(communicator)
            assert error["type"] == contract.CHAT_ERROR and error["code"] == "invalid", (frame, error)
            assert error["request_id"] is None and error["detail"]
        await communicator.disconnect()

    async_to_sync(scenario)()
    assert fake.calls == []


def test_staff_without_the_permission_reads_another_users_chat_but_cannot_write(session, staff, fake_turn):
    fake = fake_turn()
    client = logged_in(staff)

    async def scenario():
        communicator = await open_socket(chat_path(session.id), client)
        await communicator.send_json_to({"type": "chat.message", "content": "Hello from support"})
        error = await receive(communicator)
        assert error["type"] == contract.CHAT_ERROR and error["code"] == "read_only"
        assert "chatbot.write_others_chats" in error["detail"]
        await communicator.disconnect()

    async_to_sync(scenario)()
    assert fake.calls == []


def test_staff_with_the_permission_writes_signed_with_their_name(session, staff, fake_turn):
    staff.user_permissions.add(Permission.objects.get(content_type__app_label="chatbot", codename="write_others_chats"))
    fake = fake_turn()
    client = logged_in(staff)

    async def scenario():
        communicator = await open_socket(chat_path(session.id), client)
        _, accepted, reply = await a_turn(communicator, "Hello from support")
        assert accepted["user_message"]["sent_by"] == "sam"
        assert reply["type"] == contract.CHAT_REPLY
        await communicator.disconnect()

    async_to_sync(scenario)()
    assert [call["sent_by"] for call in fake.calls] == ["sam"]


def test_more_turns_than_max_in_flight_get_busy(session, fake_turn):
    client = logged_in(session.owner)

    async def scenario():
        gate = asyncio.Event()
        fake = fake_turn(gate=gate)
        communicator = await open_socket(chat_path(session.id), client)
        for n in range(MAX_IN_FLIGHT):
            await communicator.send_json_to({"type": "chat.message", "content": f"question {n}"})
        await communicator.send_json_to({"type": "chat.message", "content": "one too many"})
        busy = await receive(communicator)
        assert busy["type"] == contract.CHAT_ERROR and busy["code"] == "busy"
        assert [call["content"] for call in fake.calls] == [f"question {n}" for n in range(MAX_IN_FLIGHT)]
        gate.set()
        frames = [await receive(communicator) for _ in range(3 * MAX_IN_FLIGHT)]  # queued, accepted, reply each
        replies = [f["request_id"] for f in frames if f["type"] == contract.CHAT_REPLY]
        assert len(set(replies)) == MAX_IN_FLIGHT
        _, _, reply = await a_turn(communicator, "and now?")  # the answers came: room again
        assert reply["type"] == contract.CHAT_REPLY
        await communicator.disconnect()

    async_to_sync(scenario)()


def test_a_turn_on_a_session_deleted_meanwhile_closes_4404(session, fake_turn):
    def gone(request_id):
        return contract.error_event(request_id=request_id, code=contract.ERROR_GONE, detail="No such chat session.")

    fake_turn(event=gone)
    client = logged_in(session.owner)

    async def scenario():
        communicator = await open_socket(chat_path(session.id), client)
        await communicator.send_json_to({"type": "chat.message", "content": "Hello"})
        assert (await receive(communicator))["type"] == contract.CHAT_QUEUED
        assert (await receive(communicator))["type"] == contract.CHAT_ACCEPTED
        assert await close_code(communicator) == 4404

    async_to_sync(scenario)()


def test_the_session_groups_events_of_other_requests_are_forwarded_and_its_own_not_twice(session, fake_turn):
    group = contract.chat_group(session.session_key)

    async def worker_notifies_the_group(request_id):
        # With notify_group=True the worker tells the session's group too; this socket has the event directly.
        await group_send(group, reply_event(request_id))

    fake_turn(before_reply=worker_notifies_the_group)
    client = logged_in(session.owner)

    async def scenario():
        communicator = await open_socket(chat_path(session.id), client)
        await settled(communicator)
        queued, _, reply = await a_turn(communicator)
        assert reply["request_id"] == queued["request_id"]
        # Another tab's request: each of its events is forwarded, without the worker's own fields.
        other = {"request_id": "other-tab", "worker": "w-2"}
        await group_send(group, {"type": contract.CHAT_QUEUED, "position": 2, **other})
        await group_send(group, {**reply_event("other-tab"), "assistant_message": {"content": "To the other tab."}})
        await group_send(group, {"type": contract.CHAT_ERROR, "code": "timeout", "detail": "Too slow.", **other})
        # The group's copy of our own reply was sent before these, on the same channel: a duplicate would come first.
        assert await receive(communicator) == {"type": contract.CHAT_QUEUED, "request_id": "other-tab", "position": 2}
        assert await receive(communicator) == {
            "type": contract.CHAT_REPLY,
            "request_id": "other-tab",
            "assistant_message": {"content": "To the other tab."},
            "is_error": False,
        }
        assert await receive(communicator) == {
            "type": contract.CHAT_ERROR,
            "request_id": "other-tab",
            "code": "timeout",
            "detail": "Too slow.",
        }
        assert await communicator.receive_nothing()
        await communicator.disconnect()

    async_to_sync(scenario)()


def test_deleting_the_session_closes_its_sockets_4404(session):
    client = logged_in(session.owner)

    async def scenario():
        communicator = await open_socket(chat_path(session.id), client)
        await settled(communicator)
        await group_send(contract.chat_group(session.session_key), {"type": "chat.session_changed", "deleted": True})
        assert await close_code(communicator) == 4404

    async_to_sync(scenario)()


def test_a_changed_session_is_reloaded_and_one_no_longer_there_closes_4404(session):
    client = logged_in(session.owner)
    group = contract.chat_group(session.session_key)

    async def scenario():
        communicator = await open_socket(chat_path(session.id), client)
        await settled(communicator)
        await group_send(group, {"type": "chat.session_changed", "deleted": False})
        await barrier(communicator, session.owner)  # still open, still in its group
        await group_send(group, reply_event("other-tab"))
        assert (await receive(communicator))["request_id"] == "other-tab"
        await sync_to_async(ChatSession.objects.filter(pk=session.pk).delete)()
        await group_send(group, {"type": "chat.session_changed"})  # its deletion event was lost: the reload tells
        assert await close_code(communicator) == 4404

    async_to_sync(scenario)()


def test_the_end_of_the_sockets_own_login_closes_it_4401_and_of_another_login_not(session):
    client = logged_in(session.owner)
    own = session_fingerprint(client.cookies["sessionid"].value)
    other = session_fingerprint(logged_in(session.owner).cookies["sessionid"].value)
    assert own != other

    async def scenario():
        communicator = await open_socket(chat_path(session.id), client)
        await settled(communicator)
        await group_send(user_group(session.owner.pk), {"type": AUTH_ENDED, "session": other})
        await barrier(communicator, session.owner)  # handled after the other login's end, and no close before it
        await group_send(user_group(session.owner.pk), {"type": AUTH_ENDED, "session": own})
        assert await close_code(communicator) == 4401

    async_to_sync(scenario)()


def test_logging_out_closes_the_sockets_of_that_login(session):
    client = logged_in(session.owner)

    async def scenario():
        communicator = await open_socket(chat_path(session.id), client)
        await settled(communicator)
        await sync_to_async(client.logout)()  # accounts/socket_ends.py tells the user's group
        assert await close_code(communicator) == 4401

    async_to_sync(scenario)()


def test_a_password_change_closes_sockets_of_the_old_password_only(session):
    client = logged_in(session.owner)

    async def scenario():
        communicator = await open_socket(chat_path(session.id), client)
        await settled(communicator)
        owner = session.owner
        await group_send(user_group(owner.pk), {"type": AUTH_CHANGED, "auth_hash": owner.get_session_auth_hash()})
        await barrier(communicator, owner)  # the hash its session carries: still open

        def change_password():
            owner.set_password("a-new-password-123456")
            owner.save()  # accounts/socket_ends.py tells the user's group the new hash

        await sync_to_async(change_password)()
        assert await close_code(communicator) == 4401

    async_to_sync(scenario)()


def test_a_socket_past_the_users_cap_closes_4430(session, bob, settings):
    settings.WS_MAX_SOCKETS_PER_USER = 1  # no Redis in unit tests: socket_cap counts in this process
    alice, bobs = logged_in(session.owner), logged_in(bob)

    async def scenario():
        first = await open_socket(chat_path(session.id), alice)
        await settled(first)
        assert await close_code(await open_socket(chat_path(session.id), alice)) == 4430
        assert await close_code(await open_socket(chat_path(session.id), bobs)) == 4404  # her cap, not his
        await first.disconnect()
        again = await open_socket(chat_path(session.id), alice)  # the closed socket gave its place back
        await settled(again)
        await again.disconnect()

    async_to_sync(scenario)()


# -- maze ---------------------------------------------------------------------------------------------------------
@pytest.fixture
def game(django_user_model):
    owner = django_user_model.objects.create_user("pia", password="pw-pia-123456")
    game, maze = maze_services.game_create(owner=owner, width=21, height=15, germs=0, mode="manual", template=None)
    return game, maze


def maze_path(game_id) -> str:
    return f"/ws/maze/{game_id}/"


def directions(cells) -> list[str]:
    return [DIRECTION_OF[(b[0] - a[0], b[1] - a[1])] for a, b in zip(cells, cells[1:])]


def wall_beside(maze, cell) -> str:
    x, y = cell
    return next(name for (dx, dy), name in DIRECTION_OF.items() if maze.walls[y + dy][x + dx])


def inner_wall(maze) -> list[int]:
    return next([x, y] for y in range(1, maze.height - 1) for x in range(1, maze.width - 1) if maze.walls[y][x])


def stored_play(game) -> dict | None:
    return MazeGame.objects.get(pk=game.pk).play


def test_the_owner_opens_the_game_and_nobody_else(game, bob):
    game, _ = game
    owner, stranger = logged_in(game.owner), logged_in(bob)

    async def scenario():
        communicator = await open_socket(maze_path(game.id), owner)
        await settled(communicator)
        await communicator.disconnect()
        assert await close_code(await open_socket(maze_path(game.id), stranger)) == 4404
        assert await close_code(await open_socket(maze_path(game.id))) == 4401

    async_to_sync(scenario)()


def test_moves_are_recorded_in_the_stored_play(game):
    game, maze = game
    path = engine.shortest_path(maze.walls, maze.start, maze.exit)
    client = logged_in(game.owner)

    async def scenario():
        communicator = await open_socket(maze_path(game.id), client)
        steps = [{"dir": wall_beside(maze, maze.start), "counts": True}]  # a bump: a collision, no step
        steps += [{"dir": name, "counts": True} for name in directions(path[:3])]
        await communicator.send_json_to({"type": "move", "steps": steps})
        await settled(communicator)  # a move has no answer: its error would have come first
        await communicator.disconnect()

    async_to_sync(scenario)()
    play = stored_play(game)
    assert play["steps"] == 2 and play["collisions"] == 1 and play["backtracks"] == 0
    assert play["player"] == list(path[2]) and play["previous"] == list(path[1]) and play["status"] == "playing"


def test_bad_moves_and_frames_get_invalid(game):
    game, maze = game
    client = logged_in(game.owner)

    async def scenario():
        communicator = await open_socket(maze_path(game.id), client)
        too_many = [{"dir": "up", "counts": True}] * (MAX_STEPS_PER_FRAME + 1)
        for frame in (
            {"type": "move"},
            {"type": "move", "steps": []},
            {"type": "move", "steps": too_many},
            {"type": "move", "steps": {"dir": "up"}},
            {"type": "jump"},
            {"steps": [{"dir": "up"}]},
            [{"type": "move"}],
        ):
            await communicator.send_json_to(frame)
            error = await receive(communicator)
            assert error["type"] == "error" and error["code"] == "invalid", (frame, error)
        for steps in ([{"dir": "north"}], ["up"]):  # well-formed frames, impossible steps
            await communicator.send_json_to({"type": "move", "steps": steps})
            error = await receive(communicator)
            assert error["type"] == "error" and error["code"] == "invalid_play", (steps, error)
        await communicator.disconnect()

    async_to_sync(scenario)()
    play = stored_play(game)
    assert play is None or (play["steps"] == 0 and play["collisions"] == 0 and play["player"] == list(maze.start))


def test_staff_without_the_permission_watch_another_users_game_but_cannot_play(game, staff):
    game, maze = game
    client = logged_in(staff)

    async def scenario():
        communicator = await open_socket(maze_path(game.id), client)
        for frame in (
            {"type": "move", "steps": [{"dir": wall_beside(maze, maze.start), "counts": True}]},
            {"type": "finish", "report": {}},
        ):
            await communicator.send_json_to(frame)
            error = await receive(communicator)
            assert error["type"] == "error" and error["code"] == "read_only", error
            assert "maze.write_others_games" in error["detail"]
        await communicator.disconnect()

    async_to_sync(scenario)()
    assert stored_play(game) is None


def test_staff_with_the_permission_play_another_users_game(game, staff):
    game, maze = game
    staff.user_permissions.add(Permission.objects.get(content_type__app_label="maze", codename="write_others_games"))
    client = logged_in(staff)

    async def scenario():
        communicator = await open_socket(maze_path(game.id), client)
        await communicator.send_json_to(
            {"type": "move", "steps": [{"dir": wall_beside(maze, maze.start), "counts": True}]}
        )
        await settled(communicator)
        await communicator.disconnect()

    async_to_sync(scenario)()
    assert stored_play(game)["collisions"] == 1


def test_a_hint_is_relayed_counted_and_its_effects_accepted(game):
    game, maze = game
    wall = inner_wall(maze)
    group = contract.hint_group(game.session_key)
    client = logged_in(game.owner)

    async def scenario():
        communicator = await open_socket(maze_path(game.id), client)
        await settled(communicator)  # in the game's hint group
        hint = {"hint": "Break through here.", "break_wall": wall}
        received_at = time.time()
        await group_send(group, {"type": contract.MAZE_HINT, "hint": hint, "received_at": received_at})
        frame = await receive(communicator)
        assert frame == {
            "type": "hint",
            "hint_id": 1,
            "hint_count": 1,
            "hint": hint,
            "text": "Break through here.",
            "suggestion": None,
            "notice": False,
            "error": None,
            "applied": {"break_wall": wall},
            "ignored": [],
            "declared": ["break_wall"],
            "aliases": {},
            "received_at": received_at,
            "server_latency_ms": None,  # no state was sent from this socket
        }
        notice = {"hint": "Template updated"}
        await group_send(group, {"type": contract.MAZE_HINT, "hint": notice, "received_at": 1.0})
        frame = await receive(communicator)
        assert frame["notice"] is True and frame["hint_id"] is None  # shown, not counted
        await communicator.send_json_to({"type": "hint_effects", "hint_id": 2, "effects": {}})
        assert (await receive(communicator))["code"] == "invalid_play"  # no such hint reached the game
        await communicator.send_json_to({"type": "hint_effects", "hint_id": 1, "effects": {"break": [wall]}})
        await settled(communicator)
        # The earlier platform's names work; what the game cannot use is reported, and the count is the server's.
        legacy = {"hint": "Freeze them.", "freeze": 1000, "dance": True}
        await group_send(group, {"type": contract.MAZE_HINT, "hint": legacy, "received_at": 2.0})
        frame = await receive(communicator)
        assert frame["applied"] == {"freeze_germs_ms": 1000} and frame["aliases"] == {"freeze": "freeze_germs_ms"}
        assert frame["ignored"] == [{"action": "dance", "reason": "unknown action 'dance'"}]
        assert frame["declared"] == ["freeze", "dance"] and frame["hint_id"] == frame["hint_count"] == 2
        await communicator.disconnect()

    async_to_sync(scenario)()
    play = stored_play(game)
    assert len(play["hints"]) == 2 and play["hints"][0]["used"] is True
    assert play["breaks_left"] == 2 and wall in play["floor"]


def test_every_socket_of_a_game_records_into_one_play_and_a_hint_counts_once(game, staff):
    """Two tabs of the owner and a staff member watching: what one tab records is never undone by another socket
    saving its own, older copy, and the hint all three relay is counted once."""
    game, maze = game
    path = engine.shortest_path(maze.walls, maze.start, maze.exit)
    names = directions(path[:4])
    owner, watcher = logged_in(game.owner), logged_in(staff)
    group = contract.hint_group(game.session_key)

    async def scenario():
        tab_a = await open_socket(maze_path(game.id), owner)
        tab_b = await open_socket(maze_path(game.id), owner)
        watching = await open_socket(maze_path(game.id), watcher)
        for socket in (tab_a, tab_b, watching):
            await settled(socket)
        await tab_a.send_json_to({"type": "move", "steps": [{"dir": name, "counts": True} for name in names[:2]]})
        await settled(tab_a)
        hint = {"hint": "Keep going."}
        await group_send(group, {"type": contract.MAZE_HINT, "hint": hint, "received_at": 1.0, "hint_key": "k1"})
        relayed = [await receive(socket) for socket in (tab_a, tab_b, watching)]
        assert [frame["hint_id"] for frame in relayed] == [1, 1, None]  # a watcher's socket records nothing
        await tab_b.send_json_to({"type": "move", "steps": [{"dir": names[2], "counts": True}]})
        await settled(tab_b)
        for socket in (tab_a, tab_b, watching):
            await socket.disconnect()

    async_to_sync(scenario)()
    play = stored_play(game)
    assert play["steps"] == 3 and play["player"] == list(path[3])  # tab B went on from tab A's steps
    assert len(play["hints"]) == 1


def test_finish_needs_a_report_and_scores_the_play_the_server_saw(game):
    game, maze = game
    path = engine.shortest_path(maze.walls, maze.start, maze.exit)
    names = directions(path)
    client = logged_in(game.owner)
    seen = Play.new(maze)  # the same walk, to write the honest report
    for n, name in enumerate(names):
        seen.step(name, True, 1000 + 250 * n)
    assert seen.status == "won"
    report = {
        "won": True,
        "duration_ms": 60000,
        "steps": seen.steps,
        "backtracks": seen.backtracks,
        "collisions": seen.collisions,
        "oxygen_collected": seen.oxygen_collected,
        "hint_count": 0,
        "avg_hint_latency_ms": None,
        "mode": "manual",
    }

    async def scenario():
        communicator = await open_socket(maze_path(game.id), client)
        for frame in ({"type": "finish"}, {"type": "finish", "report": "won"}):
            await communicator.send_json_to(frame)
            error = await receive(communicator)
            assert error["type"] == "error" and error["code"] == "invalid"
            assert error["field"] == "report" and error["status"] == 400
        for start in range(0, len(names), MAX_STEPS_PER_FRAME):
            steps = [{"dir": name, "counts": True} for name in names[start : start + MAX_STEPS_PER_FRAME]]
            await communicator.send_json_to({"type": "move", "steps": steps})
        await communicator.send_json_to({"type": "finish", "report": {**report, "steps": seen.steps + 1}})
        error = await receive(communicator)
        assert error["code"] == "invalid" and error["field"] == "steps"  # not what the server saw
        await communicator.send_json_to({"type": "finish", "report": report})
        finished = await receive(communicator)
        assert finished["type"] == "finished" and finished["score"]["won"] is True
        assert finished["score"]["path_efficiency"] == 1.0 and finished["score"]["points"] > 0
        await communicator.send_json_to({"type": "finish", "report": report})
        assert (await receive(communicator))["status"] == 409  # scored once
        await communicator.disconnect()

    async_to_sync(scenario)()
    game.refresh_from_db()
    assert game.status == MazeGame.Status.WON and game.play["steps"] == seen.steps


def test_streamed_text_of_another_tab_is_forwarded_and_stop_goes_to_the_workers(session, monkeypatch):
    group = contract.chat_group(session.session_key)
    client = logged_in(session.owner)
    stops = []

    async def stop_chat(**kwargs):
        stops.append(kwargs)

    monkeypatch.setattr(chat_consumers.gateway, "stop_chat", stop_chat)

    async def scenario():
        communicator = await open_socket(chat_path(session.id), client)
        await settled(communicator)
        await group_send(group, {"type": contract.CHAT_ACCEPTED, "request_id": "other-tab", "worker": "w-2"})
        await group_send(group, contract.delta_event(request_id="other-tab", offset=0, delta="The exit "))
        assert (await receive(communicator))["type"] == contract.CHAT_ACCEPTED
        assert await receive(communicator) == {
            "type": contract.CHAT_DELTA,
            "request_id": "other-tab",
            "offset": 0,
            "delta": "The exit ",
        }
        await communicator.send_json_to({"type": contract.CHAT_STOP, "request_id": "other-tab"})
        await communicator.send_json_to({"type": contract.CHAT_STOP, "request_id": ["not", "an", "id"]})
        assert (await receive(communicator))["code"] == "invalid"
        await communicator.disconnect()

    async_to_sync(scenario)()
    # This session's key, never one the browser names: the worker stops only a request of that session.
    assert stops == [{"request_id": "other-tab", "session_key": session.session_key}]


def test_staff_without_the_permission_cannot_stop_answers(session, staff, monkeypatch):
    stops = []

    async def stop_chat(**kwargs):
        stops.append(kwargs)

    monkeypatch.setattr(chat_consumers.gateway, "stop_chat", stop_chat)
    client = logged_in(staff)

    async def scenario():
        communicator = await open_socket(chat_path(session.id), client)
        await communicator.send_json_to({"type": contract.CHAT_STOP, "request_id": "r1"})
        assert (await receive(communicator))["code"] == "read_only"
        await communicator.disconnect()

    async_to_sync(scenario)()
    assert stops == []


def test_a_state_sent_too_soon_goes_out_when_the_interval_is_over_the_newest_one(game, monkeypatch, settings):
    """The browser paces its states, but they may reach the server closer together than MAZE_STATE_MIN_INTERVAL
    (a busy machine): the last one must still reach the LLM, or the model never sees where the player stopped."""
    from maze import consumers as maze_consumers
    from portal.mqtt import gateway

    game, maze = game
    settings.MAZE_STATE_MIN_INTERVAL = 0.2
    published: list[dict] = []

    async def publish(payload):
        published.append(payload)
        return True

    async def available():
        return gateway.Availability(True, workers=("w1",))

    monkeypatch.setattr(maze_consumers, "publish_state", publish)
    monkeypatch.setattr(gateway, "worker_availability", available)
    board = engine.maze_json(maze)
    path = engine.shortest_path(maze.walls, maze.start, maze.exit)

    def state_at(cell):
        return {"type": "state", "state": {"walls": board["walls"], "player": list(cell), "exit": board["exit"]}}

    client = logged_in(game.owner)

    async def scenario():
        communicator = await open_socket(maze_path(game.id), client)
        for cell in path[:3]:  # three states at once: the first goes, the next two come too soon
            await communicator.send_json_to(state_at(cell))
        await settled(communicator)
        assert [p["player_pos"] for p in published] == [list(path[0])]
        deadline = time.monotonic() + WAIT
        while len(published) < 2 and time.monotonic() < deadline:
            await asyncio.sleep(0.02)
        await communicator.disconnect()

    async_to_sync(scenario)()
    # The newest of the deferred ones, once: the one in between was superseded.
    assert [p["player_pos"] for p in published] == [list(path[0]), list(path[2])]
