from django.contrib import admin

from apikeys.admin import AppScopedAdmin, VisibleAppFilter
from events.admin import ReadOnly
from persons.models import Person, PersonDistinctId


class DistinctIdInline(ReadOnly, admin.TabularInline):
    model = PersonDistinctId
    fields = ["distinct_id", "version"]
    readonly_fields = fields
    extra = 0

    def has_view_permission(self, request, obj=None):
        return request.user.has_perm("persons.view_person")  # a person's ids are part of the person


@admin.register(Person)
class PersonAdmin(ReadOnly, AppScopedAdmin):
    """Read-only: persons are what identify and alias made of the events (persons.identity)."""

    list_display = ["key", "app", "is_identified", "updated_at"]
    list_filter = [VisibleAppFilter, "is_identified"]
    list_select_related = ["app"]
    search_fields = ["=key", "=distinct_ids__distinct_id"]
    search_help_text = "Exact person key or any of its ids."
    readonly_fields = ["app", "key", "is_identified", "properties", "created_at", "updated_at"]
    inlines = [DistinctIdInline]
    ordering = ["-updated_at"]
    show_full_result_count = False
