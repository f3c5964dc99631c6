from django.contrib import admin

from .models import PromptTemplate


@admin.register(PromptTemplate)
class PromptTemplateAdmin(admin.ModelAdmin):
    list_display = ("title", "owner", "version", "is_active", "updated_at")
    list_filter = ("is_active",)
    search_fields = ("title", "owner__username", "content")
    readonly_fields = ("version", "created_at", "updated_at")
