"""Chat pages and JSON API. Thin: validate, call one service or selector, serialize."""

from __future__ import annotations

from django.contrib.auth.decorators import login_required
from django.http import HttpResponse, JsonResponse
from django.shortcuts import render
from django.views.decorators.csrf import ensure_csrf_cookie

from portal.api import json_api
from portal.http import json_error, parse_json_object
from portal.ownership import check_may_write
from prompts.services import template_for_user

from . import notify, selectors, services, sse, validation
from .chat_flow import chat_turn
from .presets import PRESETS
from .serializers import export_filename, message_json, session_export_json, session_json


@login_required
@ensure_csrf_cookie
def chat_page(request):
    return render(request, "chatbot/chat.html")


@json_api("GET")
def presets(request):
    return JsonResponse({"presets": [p.as_dict() for p in PRESETS]})


@json_api("GET", "POST")
def sessions(request):
    if request.method == "POST":
        fields = validation.session_create(parse_json_object(request.body))
        template_id = fields.pop("template_id")
        if template_id is not None:
            # Start from one of your prompt templates: its content becomes the system prompt.
            template = template_for_user(user=request.user, template_id=template_id)
            fields.setdefault("title", template.title)
            fields.setdefault("system_prompt", template.content)
        session = services.session_create(owner=request.user, **fields)
        return JsonResponse(session_json(session), status=201)
    rows = selectors.sessions_for_user(user=request.user)[:200]
    return JsonResponse({"sessions": [session_json(s) for s in rows]})


WRITE_OTHERS = "chatbot.write_others_chats"


def _may_write(user, session) -> None:
    check_may_write(user, session.owner_id, WRITE_OTHERS, "chats")


@json_api("GET", "PATCH", "DELETE")
def session_detail(request, session_id: int):
    session = selectors.session_for_user(user=request.user, session_id=session_id)
    if request.method != "GET":
        _may_write(request.user, session)
    if request.method == "PATCH":
        fields = validation.session_update(parse_json_object(request.body))
        session = services.session_update(session=session, **fields)
        notify.session_changed(session.session_key)
    elif request.method == "DELETE":
        key = session.session_key
        services.session_delete(session=session)
        notify.session_changed(key, deleted=True)
        return HttpResponse(status=204)
    return JsonResponse(session_json(session))


@json_api("POST")
def session_reset(request, session_id: int):
    session = selectors.session_for_user(user=request.user, session_id=session_id)
    _may_write(request.user, session)
    session = services.session_reset(session=session)
    notify.session_changed(session.session_key)  # the sockets re-read it
    return JsonResponse(session_json(session))


@json_api("GET")
def session_messages(request, session_id: int):
    session = selectors.session_for_user(user=request.user, session_id=session_id)
    return JsonResponse({"messages": [message_json(m) for m in selectors.messages_for_session(session=session)]})


@json_api("GET")
def session_export(request, session_id: int):
    """The session's settings and whole history as a JSON file to download (read access, as for its messages)."""
    session = selectors.session_for_user(user=request.user, session_id=session_id)
    body = session_export_json(session, selectors.all_messages_for_session(session=session))
    response = JsonResponse(body, json_dumps_params={"indent": 2, "ensure_ascii": False})
    response["Content-Disposition"] = f'attachment; filename="{export_filename(session)}"'
    response["Cache-Control"] = "private, no-store"  # someone's conversation: no shared cache keeps a copy
    return response


def _message_post_and_session(request, user):
    """The validated body and the user's chat session it names (400 or 404 otherwise); read with the user."""
    post = validation.message_post(parse_json_object(request.body))
    session = selectors.session_for_user(user=user, session_id=post.session_id)
    _may_write(user, session)
    return post, session, _sender(user, session)


def _sender(user, session) -> str | None:
    """Who to name with a message written into another user's chat (staff with the permission); None for hers."""
    return None if user.pk == session.owner_id else user.get_username()


@json_api("POST", preload=_message_post_and_session)
async def message_create(request, preloaded):
    """Ask the model and answer with its reply: 200, or 503/504 with a plain-words `detail` — never 500/502.
    With `Accept: text/event-stream` the same as Server-Sent Events, streamed text included (chatbot/sse.py)."""
    post, session, sent_by = preloaded

    def run_turn(on_progress=None):
        return chat_turn(
            session=session,
            content=post.content,
            overrides=post.overrides,
            notify_group=True,
            sent_by=sent_by,
            on_progress=on_progress,
        )

    def final(result):
        return _final_body(result, session)

    if sse.wants_event_stream(request):
        return sse.event_stream_response(run_turn, final)
    status, body = final(await run_turn())
    if status == 200:
        return JsonResponse(body)
    return json_error(body.pop("detail"), status, **body)


def _final_body(result, session) -> tuple[int, dict]:
    """(HTTP status, body) of a finished turn: the reply, or a `detail` with its `code` (and `retry_after`)."""
    event = result.event
    if result.http_status == 200:
        body = {
            "session": session_json(session),
            "notice": result.notice,
            "user_message": result.user_message,
            "assistant_message": event["assistant_message"],
            "raw_response": event["raw_response"],
        }
        if event.get("stopped"):
            body["stopped"] = True
        return 200, body
    if event.get("is_error"):
        return 503, {
            "detail": f"The language model reported an error: {event['raw_response'][:500]}",
            "code": "llm_error",
            "retry_after": 5,
            "user_message": result.user_message,
            "assistant_message": event["assistant_message"],
        }
    body = {"detail": event["detail"], "code": event["code"], "user_message": result.user_message}
    if result.http_status in (429, 503):
        body["retry_after"] = event.get("retry_after") or 5
    return result.http_status, body
