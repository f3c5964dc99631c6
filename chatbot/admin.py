from django.contrib import admin

from .models import ChatMessage, ChatSession


class ChatMessageInline(admin.TabularInline):
    model = ChatMessage
    extra = 0
    fields = ("role", "content", "request_id", "created_at")
    readonly_fields = ("created_at",)


@admin.register(ChatSession)
class ChatSessionAdmin(admin.ModelAdmin):
    list_display = ("title", "owner", "session_key", "preset", "updated_at")
    list_filter = ("preset",)
    search_fields = ("title", "session_key", "owner__username")
    readonly_fields = ("session_key", "created_at", "updated_at")
    inlines = [ChatMessageInline]


@admin.register(ChatMessage)
class ChatMessageAdmin(admin.ModelAdmin):
    list_display = ("session", "role", "short_content", "request_id", "created_at")
    list_filter = ("role",)
    search_fields = ("content", "request_id", "session__session_key")
    raw_id_fields = ("session",)

    @admin.display(description="content")
    def short_content(self, obj):
        return obj.content[:80]
