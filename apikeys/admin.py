from django.contrib import admin, messages
from django.db.models import Count
from django.template.response import TemplateResponse
from django.utils import timezone
from django.utils.html import format_html

from apikeys import services
from apikeys.keys import KeyKind
from apikeys.models import ApiKey, App, PersonalApiKey
from apikeys.selectors import apps_visible_to, usable_keys_q
from organisations.audit import Actor


def _show_issued_keys(request, modeladmin, issued: list[services.IssuedKey], title: str):
    """Render new keys straight into the response: never into messages, sessions or cookies, which persist."""
    context = {
        **modeladmin.admin_site.each_context(request),
        "title": title,
        "issued": issued,
        "opts": modeladmin.model._meta,
    }
    response = TemplateResponse(request, "admin/apikeys/issued_keys.html", context)
    response["Cache-Control"] = "no-store"
    return response


class ApiKeyInline(admin.TabularInline):
    model = ApiKey
    fields = ["prefix", "kind", "name", "status", "expires_at", "last_used_at"]
    readonly_fields = fields
    extra = 0
    can_delete = False
    show_change_link = True

    def has_add_permission(self, request, obj=None):
        return False


class AppScopedAdmin(admin.ModelAdmin):
    """Staff who are not superusers see only the apps granted to them (App.operators), and their rows."""

    app_path = "app"

    def get_queryset(self, request):
        queryset = super().get_queryset(request)
        if request.user.is_superuser:
            return queryset
        return queryset.filter(**{f"{self.app_path}__in": apps_visible_to(user=request.user)})


class VisibleAppFilter(admin.SimpleListFilter):
    """The app filter lists only the apps this user may see (the default lists every app's name)."""

    title = "app"
    parameter_name = "app"

    def lookups(self, request, model_admin):
        return [(str(app.pk), app.name) for app in apps_visible_to(user=request.user)]

    def queryset(self, request, queryset):
        return queryset.filter(app_id=self.value()) if self.value() else queryset


@admin.register(App)
class AppAdmin(AppScopedAdmin):
    app_path = "pk"
    list_display = ["name", "organisation", "owner_email", "timezone", "key_count", "dashboard_link", "created_at"]
    list_select_related = ["organisation"]
    search_fields = ["name", "owner_email", "site_domain", "id", "organisation__name"]
    readonly_fields = ["id", "created_at", "event_count", "dashboard_link"]
    raw_id_fields = ["organisation"]
    fields = [
        "id",
        "name",
        "organisation",
        "owner_email",
        "domains",
        "site_domain",
        "timezone",
        "operators",
        "event_count",
        "dashboard_link",
        "created_at",
    ]
    filter_horizontal = ["operators"]
    inlines = [ApiKeyInline]
    actions = ["create_secret_key", "create_publishable_key"]

    def get_queryset(self, request):
        return super().get_queryset(request).annotate(key_count=Count("api_keys"))

    def get_readonly_fields(self, request, obj=None):
        readonly = list(self.readonly_fields)
        if obj is not None:
            readonly.append("organisation")  # moving an app between organisations is no settings change
        # The widget lists every user, and saving it grants access: only superusers decide who sees an app.
        if not request.user.is_superuser:
            readonly.append("operators")
        return readonly

    def save_model(self, request, obj, form, change):
        """Through the services, so the change is audited. The form's instance takes the saved app's id,
        for the operators the admin saves after this."""
        actor = Actor.from_request(request)
        if change:
            changes = {field: form.cleaned_data[field] for field in form.changed_data if field in services.APP_SETTINGS}
            services.app_update(app=obj, actor=actor, **changes)
            return
        app = services.app_create(
            name=obj.name,
            owner_email=obj.owner_email,
            organisation=obj.organisation,
            domains=obj.domains,
            timezone_name=obj.timezone,
            site_domain=obj.site_domain,
            actor=actor,
        )
        obj.pk, obj.created_at = app.pk, app.created_at
        obj._state.adding = False

    @admin.display(description="events")
    def event_count(self, obj):
        # On the change page only: a per-row COUNT on the list would scan every app's history.
        return f"{obj.events.count():,}"

    @admin.display(description="dashboard")
    def dashboard_link(self, obj):
        return format_html('<a href="/dashboard/apps/{}/">open</a>', obj.pk)

    @admin.display(ordering="key_count", description="keys")
    def key_count(self, obj):
        return obj.key_count

    def has_delete_permission(self, request, obj=None):
        # Deleting an app deletes its whole event history; that is `purge_events`' job, with a dry run.
        return False

    def _create_keys(self, request, queryset, kind: KeyKind):
        actor = Actor.from_request(request)
        issued = [services.api_key_create(app=app, kind=kind, name="created in admin", actor=actor) for app in queryset]
        return _show_issued_keys(request, self, issued, f"New {kind} keys")

    @admin.action(description="Create a secret key (shown once)")
    def create_secret_key(self, request, queryset):
        return self._create_keys(request, queryset, KeyKind.SECRET)

    @admin.action(description="Create a publishable key (shown once)")
    def create_publishable_key(self, request, queryset):
        return self._create_keys(request, queryset, KeyKind.PUBLISHABLE)


class KeyStatusFilter(admin.SimpleListFilter):
    title = "status"
    parameter_name = "status"

    def lookups(self, request, model_admin):
        return [("usable", "usable"), ("revoked", "revoked or expired")]

    def queryset(self, request, queryset):
        usable = usable_keys_q(timezone.now())
        if self.value() == "usable":
            return queryset.filter(usable)
        if self.value() == "revoked":
            return queryset.exclude(usable)
        return queryset


class RevocableKeyAdmin(admin.ModelAdmin):
    """What the key pages share: their status column and the revoke action, through each kind's service."""

    def revoke(self, key, actor):
        raise NotImplementedError

    @admin.display(description="status")
    def status(self, obj):
        return obj.status.label

    @admin.action(description="Revoke now")
    def revoke_keys(self, request, queryset):
        actor = Actor.from_request(request)
        for key in queryset:
            self.revoke(key, actor)
        self.message_user(request, f"Revoked {queryset.count()} key(s).", messages.SUCCESS)


@admin.register(ApiKey)
class ApiKeyAdmin(AppScopedAdmin, RevocableKeyAdmin):
    list_display = ["prefix", "app", "kind", "name", "status", "last_used_at", "expires_at", "created_at"]
    list_filter = [VisibleAppFilter, "kind", KeyStatusFilter]
    list_select_related = ["app"]
    search_fields = ["lookup_id", "name", "app__name"]
    fields = [
        "prefix",
        "app",
        "kind",
        "name",
        "status",
        "created_at",
        "expires_at",
        "revoked_at",
        "last_used_at",
        "replaced_by",
        "ingest_rate",
        "report_rate",
    ]
    readonly_fields = [
        "prefix",
        "app",
        "kind",
        "status",
        "created_at",
        "expires_at",
        "revoked_at",
        "last_used_at",
        "replaced_by",
    ]
    actions = ["revoke_keys", "rotate_keys"]

    def has_add_permission(self, request):
        return False  # keys are made by the App actions, the API or `create_key`, which show them once

    def has_delete_permission(self, request, obj=None):
        return False  # revoke instead: the row is the audit trail of who could send data

    def revoke(self, api_key, actor):
        services.api_key_revoke(api_key=api_key, actor=actor)

    @admin.action(description="Rotate (new key shown once; old works for the default grace period)")
    def rotate_keys(self, request, queryset):
        issued, skipped = [], []
        for api_key in queryset:
            try:
                issued.append(services.api_key_rotate(api_key=api_key, actor=Actor.from_request(request)))
            except services.KeyNotRotatable:
                skipped.append(api_key.prefix)
        if skipped:
            self.message_user(
                request, f"Not rotated (already revoked or expired): {', '.join(skipped)}", messages.WARNING
            )
        if not issued:
            return None
        return _show_issued_keys(request, self, issued, "Rotated keys")


@admin.register(PersonalApiKey)
class PersonalApiKeyAdmin(RevocableKeyAdmin):
    """Read-only: a person creates their own keys (the API, ``manage.py personal_key_create``), shown once."""

    list_display = ["prefix", "user", "name", "status", "last_used_at", "expires_at", "created_at"]
    list_filter = [KeyStatusFilter]
    list_select_related = ["user"]
    search_fields = ["lookup_id", "name", "user__username", "user__email"]
    fields = ["prefix", "user", "name", "status", "created_at", "expires_at", "revoked_at", "last_used_at"]
    readonly_fields = fields
    actions = ["revoke_keys"]

    def has_add_permission(self, request):
        return False

    def has_delete_permission(self, request, obj=None):
        return False

    def get_queryset(self, request):
        # A person's keys read their organisations' reports: only superusers see everyone's.
        queryset = super().get_queryset(request)
        return queryset if request.user.is_superuser else queryset.filter(user=request.user)

    def revoke(self, personal_key, actor):
        services.personal_key_revoke(personal_key=personal_key, actor=actor)
