"""portal/urls.py: the chat API is the first pattern Django tries (every HTTP chat turn resolves its path), and
moving it first changed what no other path resolves to."""
from django.urls import get_resolver, resolve


def test_the_chat_message_endpoint_is_the_first_pattern_tried():
    first = get_resolver().url_patterns[0]
    assert str(first.pattern) == "api/chatbot/"
    assert str(first.url_patterns[0].pattern) == "messages"
    assert resolve("/api/chatbot/messages").url_name == "chat-messages"


def test_other_paths_still_reach_their_own_views():
    expected = {"/": "home", "/chat/": "chat", "/api/chatbot/sessions": "chat-sessions",
                "/api/chatbot/sessions/7/messages": "chat-session-messages", "/accounts/login/": "login"}
    assert {path: resolve(path).url_name for path in expected} == expected
