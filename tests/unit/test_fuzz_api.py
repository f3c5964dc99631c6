"""Property-based fuzzing (hypothesis) of the JSON API: any body, any query string and any id in the path give
a deliberate answer -- 2xx, or 4xx/503 with a JSON body saying what is wrong -- and never a 500.

Bodies are generated three ways: raw bytes (mostly not JSON), arbitrary JSON, and objects made of each
endpoint's own field names with values of every type, so validation is exercised field by field.
"""

import json

import pytest
from django.test import Client
from hypothesis import example, given
from hypothesis import strategies as st

from chatbot import services as chat_services
from maze import services as maze_services
from tests.fuzzing import fuzz_settings

pytestmark = pytest.mark.django_db(transaction=True)

FUZZ = fuzz_settings(60)

json_scalars = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(),
    st.integers(min_value=2**63, max_value=10**30),
    st.floats(allow_nan=False),
    st.text(max_size=30),
)
json_values = st.recursive(
    json_scalars,
    lambda inner: st.one_of(st.lists(inner, max_size=4), st.dictionaries(st.text(max_size=10), inner, max_size=4)),
    max_leaves=15,
)

FIELDS = [
    "session_id",
    "content",
    "system_prompt",
    "temperature",
    "top_p",
    "max_tokens",
    "preset",
    "title",
    "template_id",
    "description",
    "width",
    "height",
    "germs",
    "mode",
    "name",
    "report",
    "steps",
    "duration_ms",
    "hints",
    "outcome",
    "state",
    "oxygen",
    "name",
]


def field_objects(ids: dict) -> st.SearchStrategy:
    # Field values of every type, plus the ids of real objects so requests get past the ownership check.
    values = st.one_of(json_values, st.sampled_from(list(ids.values())))
    return st.dictionaries(st.sampled_from(FIELDS), values, max_size=8)


def bodies(ids: dict) -> st.SearchStrategy:
    return st.one_of(
        st.binary(max_size=200),
        json_values.map(lambda v: json.dumps(v).encode()),
        field_objects(ids).map(lambda v: json.dumps(v).encode()),
    )


@pytest.fixture
def world(django_user_model):
    """A user who owns one of everything, and a client logged in as that user."""
    user = django_user_model.objects.create_user("fuzzer", password="pw-fuzzer-123456")
    other = django_user_model.objects.create_user("other", password="pw-other-123456")
    session = chat_services.session_create(owner=user, preset="general")
    game, _ = maze_services.game_create(owner=user, template=None, width=11, height=11, germs=1, mode="manual")
    others_session = chat_services.session_create(owner=other, preset="general")
    client = Client()
    client.force_login(user)
    template = client.post("/api/templates/", {"title": "t", "content": "c"}, content_type="application/json")
    ids = {"session": session.id, "game": game.id, "template": template.json()["id"], "foreign": others_session.id}
    return client, ids


ENDPOINTS = [
    ("post", "/api/chatbot/sessions"),
    ("patch", "/api/chatbot/sessions/{session}"),
    ("post", "/api/chatbot/messages"),
    ("post", "/api/templates/"),
    ("patch", "/api/templates/{template}"),
    ("post", "/api/maze/games"),
    ("patch", "/api/maze/games/{game}"),
    ("post", "/api/maze/games/{game}/finish"),
    ("post", "/api/tokens/"),
]


def assert_deliberate(response):
    assert response.status_code < 500 or response.status_code == 503, (response.status_code, response.content[:300])
    if response.status_code >= 400:
        body = response.json()
        assert isinstance(body.get("detail"), str) and body["detail"], body


@pytest.mark.parametrize("method, path", ENDPOINTS, ids=[f"{m} {p}" for m, p in ENDPOINTS])
def test_any_body_gets_a_deliberate_answer(world, method, path):
    client, ids = world

    @FUZZ
    @given(bodies(ids))
    @example(b"")
    @example(b"{}")
    @example(b'{"content": "x", "session_id": 1e400}')
    @example(b'{"width": 9223372036854775808}')
    @example(b'{"title": "t\\u0000", "content": "c\\u0000", "preset": "general\\u0000"}')
    @example(b'{"title": null}')  # PATCH stored NULL in a NOT NULL column: found by this test on the PostgreSQL run
    @example(b"[" * 30000)  # RecursionError in the JSON parser: found by a security review (issue 17)
    @example(b'{"title": "a\\ud800b", "content": "a\\ud800b", "name": "a\\ud800b", "system_prompt": "\\udfff"}')
    @example(b'{"session_id": 1, "content": "a\\ud800b"}')  # a lone surrogate: 500 (title) and 503 (chat) before
    def check(body):
        response = getattr(client, method)(path.format(**ids), body, content_type="application/json")
        assert_deliberate(response)

    check()


POST_ENDPOINTS = [path for method, path in ENDPOINTS if method == "post"]


@pytest.mark.parametrize("path", POST_ENDPOINTS)
def test_a_form_instead_of_json_is_refused_with_415(world, django_user_model, path):
    """As a browser sends it, CSRF token in the form: Django reads the form for the CSRF check, so the body is gone
    when the view asks for it (RawPostDataException: a 500 before)."""
    _, ids = world
    client = Client(enforce_csrf_checks=True)
    client.force_login(django_user_model.objects.get(username="fuzzer"))
    client.get("/chat/")  # the page sets the CSRF cookie
    token = client.cookies["csrftoken"].value
    body = (
        f'--x\r\nContent-Disposition: form-data; name="csrfmiddlewaretoken"\r\n\r\n{token}\r\n'
        '--x\r\nContent-Disposition: form-data; name="title"\r\n\r\nt\r\n--x--\r\n'
    ).encode()
    response = client.generic("POST", path.format(**ids), body, content_type="multipart/form-data; boundary=x")
    assert response.status_code == 415 and "JSON" in response.json()["detail"], response.content[:300]


ID_PATHS = [
    ("get", "/api/chatbot/sessions/{}"),
    ("delete", "/api/chatbot/sessions/{}"),
    ("post", "/api/chatbot/sessions/{}/reset"),
    ("get", "/api/chatbot/sessions/{}/messages"),
    ("get", "/api/chatbot/sessions/{}/export"),
    ("get", "/api/templates/{}"),
    ("get", "/api/templates/{}/versions"),
    ("post", "/api/templates/{}/versions/1/restore"),
    ("get", "/api/maze/games/{}"),
    ("post", "/api/maze/games/{}/finish"),
    ("delete", "/api/tokens/{}"),
]


@FUZZ
@given(st.sampled_from(ID_PATHS), st.one_of(st.integers(min_value=0, max_value=10**40), st.just(2**63)))
def test_any_id_in_a_path_gets_404_not_500(world, route, object_id):
    client, ids = world
    method, path = route
    if object_id in ids.values():
        return  # real objects answer 200 and may be deleted; only unknown ids are the point here
    response = client.generic(method.upper(), path.format(object_id), b"{}", content_type="application/json")
    assert response.status_code == 404, (response.status_code, response.content[:300])
    assert response.json()["detail"]


@FUZZ
@given(
    st.dictionaries(
        st.sampled_from(["session_id", "page", "template_id", "mode", "x"]), st.text(max_size=30), max_size=3
    )
)
@example({"page": "99999999999999999999999"})
@example({"session_id": "\x00"})  # PostgreSQL refuses NUL in strings: found by this test on the PostgreSQL run
@example({"template_id": "-1"})
@example({"mode": "lam\x00"})
@example({"page": "\u00b2"})  # a digit to str.isdigit() that int() refuses: found by this test
def test_any_query_string_gets_a_deliberate_answer(world, query):
    client, _ = world
    for path in ("/api/maze/last_hint", "/api/leaderboard/", "/api/chatbot/sessions", "/api/templates/"):
        assert_deliberate(client.get(path, query))
