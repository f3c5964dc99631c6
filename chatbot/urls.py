from django.urls import path

from . import views

api_urlpatterns = [
    path("messages", views.message_create, name="chat-messages"),  # first: every chat turn over HTTP resolves it
    path("presets", views.presets, name="chat-presets"),
    path("sessions", views.sessions, name="chat-sessions"),
    path("sessions/<int:session_id>", views.session_detail, name="chat-session"),
    path("sessions/<int:session_id>/reset", views.session_reset, name="chat-session-reset"),
    path("sessions/<int:session_id>/messages", views.session_messages, name="chat-session-messages"),
    path("sessions/<int:session_id>/export", views.session_export, name="chat-session-export"),
]

page_urlpatterns = [
    path("", views.chat_page, name="chat"),
]
