from responder.topics import base_of, resolve_reply_topic, split_session_topic, valid_session_id

BASE = "prompt_portal/assistant_response"


def test_valid_reply_topic_is_used_as_is():
    topic = f"{BASE}/3f2c/prompt_portal_backend_w1/a1b2"
    assert resolve_reply_topic(topic, BASE, "3f2c") == topic


def test_reply_topic_with_only_a_session_segment_is_valid():
    assert resolve_reply_topic(f"{BASE}/other", BASE, "3f2c") == f"{BASE}/other"


def test_wildcards_fall_back_to_the_session_topic():
    assert resolve_reply_topic(f"{BASE}/+/w1/r1", BASE, "s1") == f"{BASE}/s1"
    assert resolve_reply_topic(f"{BASE}/s1/#", BASE, "s1") == f"{BASE}/s1"


def test_wrong_base_falls_back():
    assert resolve_reply_topic("elsewhere/s1/w1/r1", BASE, "s1") == f"{BASE}/s1"
    assert resolve_reply_topic(f"{BASE}x/s1", BASE, "s1") == f"{BASE}/s1"  # a prefix of a segment is not the base
    assert resolve_reply_topic(BASE, BASE, "s1") == f"{BASE}/s1"


def test_missing_session_segment_falls_back():
    assert resolve_reply_topic(f"{BASE}/", BASE, "s1") == f"{BASE}/s1"
    assert resolve_reply_topic(f"{BASE}//w1/r1", BASE, "s1") == f"{BASE}/s1"


def test_missing_or_non_text_reply_topic_falls_back():
    assert resolve_reply_topic(None, BASE, "s1") == f"{BASE}/s1"
    assert resolve_reply_topic(42, BASE, "s1") == f"{BASE}/s1"


def test_no_usable_topic_at_all():
    assert resolve_reply_topic("bad/+", BASE, None) is None


def test_session_ids_must_be_one_plain_topic_segment():
    assert valid_session_id("session-abc123") == "session-abc123"
    assert valid_session_id(17) == "17"
    for bad in ("", "a/b", "a+", "#", None, True, ["x"], "x" * 1000):
        assert valid_session_id(bad) is None


def test_base_of_filters():
    assert base_of("maze/hint/+") == "maze/hint"
    assert base_of("maze/hint/#") == "maze/hint"
    assert base_of("maze/hint") == "maze/hint"


def test_session_from_topic():
    assert split_session_topic("maze/template", "maze/template") == (True, None)
    assert split_session_topic("maze/template/game-7f3a", "maze/template") == (True, "game-7f3a")
    assert split_session_topic("maze/template/a/b", "maze/template") == (False, None)
    assert split_session_topic("maze/templates", "maze/template") == (False, None)
