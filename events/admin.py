from django.contrib import admin

from apikeys.admin import AppScopedAdmin, VisibleAppFilter
from events.models import Event


@admin.register(Event)
class EventAdmin(AppScopedAdmin):
    """Read-only: events are history. Removing them is `purge_events`' job, with a dry run."""

    list_display = ["name", "app", "timestamp", "distinct_id", "device_type", "browser", "path", "source"]
    list_filter = [VisibleAppFilter, "name", "device_type", "browser", "source"]
    list_select_related = ["app"]
    date_hierarchy = "timestamp"
    search_fields = ["=user_id", "=distinct_id", "=anonymous_id"]
    search_help_text = "Exact user id, distinct id or anonymous id."
    ordering = ["-timestamp"]
    show_full_result_count = False  # a second COUNT(*) over millions of rows on every page view
    list_per_page = 50

    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        return False

    def has_delete_permission(self, request, obj=None):
        return False
