from responder.memory import SessionMemory


def test_sessions_are_bounded_least_recently_used_first():
    memory = SessionMemory(history_turns=2, max_sessions=3)
    for sid in ("a", "b", "c"):
        memory.open("chat", sid)
    memory.open("chat", "a")  # touch: now b is the oldest
    memory.open("chat", "d")
    assert len(memory) == 3
    assert memory.delete("chat", "b") == 0
    assert memory.delete("chat", "a") == 1


def test_turns_are_bounded():
    memory = SessionMemory(history_turns=2)
    for i in range(5):
        memory.add_turn("chat", "s", f"q{i}", f"a{i}")
    assert memory.open("chat", "s").turns == (("q3", "a3"), ("q4", "a4"))


def test_system_prompt_is_taken_only_when_the_session_is_first_seen():
    memory = SessionMemory(history_turns=2)
    assert memory.open("chat", "s", "first").system_prompt == "first"
    assert memory.open("chat", "s", "second").system_prompt == "first"
    assert memory.open("maze", "s", "other project").system_prompt == "other project"


def test_template_update_replaces_the_prompt_and_resets_on_request():
    memory = SessionMemory(history_turns=4)
    memory.open("maze", "g", "old")
    memory.add_turn("maze", "g", "q", "a")
    memory.set_system_prompt("maze", "g", "new", reset=False)
    assert memory.open("maze", "g").turns == (("q", "a"),)
    memory.set_system_prompt("maze", "g", None, reset=True)
    snapshot = memory.open("maze", "g")
    assert snapshot.system_prompt == "new" and snapshot.turns == ()


def test_project_template_applies_to_every_session_and_new_ones():
    memory = SessionMemory(history_turns=4)
    memory.open("maze", "g1", "own")
    memory.add_turn("maze", "g1", "q", "a")
    memory.open("chat", "c1", "chat prompt")
    memory.set_project_prompt("maze", "shared", reset=True)
    assert memory.open("maze", "g1") == memory.open("maze", "g2")
    assert memory.open("maze", "g1").system_prompt == "shared" and memory.open("maze", "g1").turns == ()
    assert memory.open("chat", "c1").system_prompt == "chat prompt"


def test_delete_forgets_one_session_or_every_session_of_a_project():
    memory = SessionMemory(history_turns=4)
    for sid in ("g1", "g2", "g3"):
        memory.open("maze", sid, "prompt")
    memory.open("chat", "c1")
    assert memory.delete("maze", "g1") == 1 and memory.delete("maze", "g1") == 0
    assert memory.delete("maze", None) == 2
    assert len(memory) == 1  # the chat session stays
