"""The running daphne and worker are on uvloop (portal/serve_web.py, portal/event_loop.py), and chat works there."""


def loaded_uvloop(pid: int) -> bool:
    with open(f"/proc/{pid}/maps") as maps:
        return any("/uvloop/loop." in line for line in maps)


def test_daphne_and_the_worker_run_on_uvloop_and_answer(platform):
    assert loaded_uvloop(platform.web.pid), "daphne is not on uvloop"
    assert loaded_uvloop(platform.workers[0].pid), "the worker is not on uvloop"
    client = platform.client("alice")
    session = client.new_session()["id"]
    response = client.post("/api/chatbot/messages", {"session_id": session, "content": "on uvloop"}, timeout=30)
    assert response.status_code == 200 and "on uvloop" in response.json()["assistant_message"]["content"]
