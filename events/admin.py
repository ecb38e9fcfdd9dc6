from datetime import UTC, datetime

import redis
from django.contrib import admin, messages
from django.core.cache import caches
from django.core.exceptions import PermissionDenied
from django.http import HttpResponseRedirect
from django.template.response import TemplateResponse
from django.urls import path
from django_redis.cache import RedisCache

from apikeys.admin import AppScopedAdmin, VisibleAppFilter
from apikeys.selectors import apps_visible_to
from events import buffer, store
from events.models import DeadLetter, Event

SHOWN = 100  # dead letters on the admin page


class ReadOnly:
    """Nothing added, changed or deleted from the admin: events are history, dead letters are replayed."""

    def has_add_permission(self, request, obj=None):  # obj: what an inline's check passes
        return False

    def has_change_permission(self, request, obj=None):
        return False

    def has_delete_permission(self, request, obj=None):
        return False


@admin.register(Event)
class EventAdmin(ReadOnly, AppScopedAdmin):
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


@admin.register(DeadLetter)
class DeadLetterAdmin(ReadOnly, admin.ModelAdmin):
    """One page over the dead-letter stream in Redis: who may see events sees it (their apps' letters
    only, as with events); replaying takes superuser or events.replay_deadletter."""

    def has_view_permission(self, request, obj=None):
        return request.user.has_perm("events.view_event")

    def get_urls(self):
        # Only the list: the add, change, delete and history pages would read a table that does not exist.
        view = self.admin_site.admin_view(self.changelist_view)
        return [path("", view, name="events_deadletter_changelist")]

    def changelist_view(self, request, extra_context=None):
        if not self.has_view_permission(request):
            raise PermissionDenied
        can_replay = request.user.has_perm("events.replay_deadletter")
        context = {**self.admin_site.each_context(request), "opts": self.model._meta, "can_replay": can_replay}
        context["title"] = "Dead letters"
        if not isinstance(caches["default"], RedisCache):
            return self._page(request, context, error="Dead letters exist only with buffered ingestion (REDIS_URL).")
        client = buffer.web_client()
        try:
            letters, total = self._visible_letters(request, client)
            if request.method == "POST":
                if not can_replay:
                    raise PermissionDenied
                return self._replay(request, client, letters)
        except redis.RedisError as exc:
            return self._page(request, context, error=f"Redis is unreachable ({exc.__class__.__name__}).")
        return self._page(request, context, letters=letters, total=total)

    def _visible_letters(self, request, client) -> tuple[list[dict], int]:
        """The oldest SHOWN dead letters of the apps the user may see, and how many of theirs there are: read
        through the whole stream, so another app's letters, however many, hide none of theirs."""
        visible_apps = apps_visible_to(user=request.user)
        apps: dict[str, object] = {}  # app id -> the app, or None when the user may not see it
        shown, total = [], 0
        for letter in buffer.iter_dead_letters(client):
            if letter.app_id not in apps:
                apps[letter.app_id] = visible_apps.filter(pk=letter.app_id).first()
            app = apps[letter.app_id]
            if app is None:
                continue
            total += 1
            if len(shown) < SHOWN:
                at = datetime.fromtimestamp(buffer.entry_time(letter.id), tz=UTC)
                shown.append({"letter": letter, "app": app, "events": _event_names(letter), "at": at})
        return shown, total

    def _replay(self, request, client, letters: list[dict]):
        chosen = set(request.POST.getlist("ids")) & {item["letter"].id for item in letters}
        if chosen:
            rows = buffer.replay_dead_letters(client, sorted(chosen))
            self.message_user(request, f"Requeued {rows} event(s) from {len(chosen)} dead letter(s).", messages.SUCCESS)
        else:
            self.message_user(request, "Select the dead letters to replay.", messages.WARNING)
        return HttpResponseRedirect(request.path)

    def _page(self, request, context, *, letters=(), total=0, error=""):
        context |= {"letters": letters, "total": total, "error": error}
        return TemplateResponse(request, "admin/events/deadletter/change_list.html", context)


def _event_names(letter: buffer.DeadLetter) -> str:
    names = store.copy_lines_column(letter.rows, "name")
    return ", ".join(names[:5]) + (f" and {len(names) - 5} more" if len(names) > 5 else "")
