from django import forms
from django.apps import apps
from django.contrib import admin, messages
from django.db.models import Count

from organisations import invitations, services
from organisations.audit import Actor
from organisations.models import AuditEntry, Invitation, Membership, Organisation


class MembershipForm(forms.ModelForm):
    class Meta:
        model = Membership
        fields = ["user", "role"]

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        # A membership is one person's: another person is a removal and an addition, each audited.
        if self.instance.pk:
            self.fields["user"].disabled = True


class MembershipInline(admin.TabularInline):
    model = Membership
    form = MembershipForm
    extra = 0
    raw_id_fields = ["user"]
    readonly_fields = ["created_at"]


class AppInline(admin.TabularInline):
    model = apps.get_model("apikeys", "App")  # by name: organisations sits below apikeys and never imports it
    fields = ["name", "timezone", "created_at"]
    readonly_fields = fields
    extra = 0
    can_delete = False
    show_change_link = True

    def has_add_permission(self, request, obj=None):
        return False  # an app is added on its own page, where its organisation is chosen


class OrganisationScopedAdmin(admin.ModelAdmin):
    """Staff who are not superusers see the organisations of the apps granted to them (App.operators)."""

    organisation_path = "pk"

    def get_queryset(self, request):
        queryset = super().get_queryset(request)
        if request.user.is_superuser:
            return queryset
        granted = Organisation.objects.filter(apps__operators=request.user).values("pk")
        return queryset.filter(**{f"{self.organisation_path}__in": granted})


@admin.register(Organisation)
class OrganisationAdmin(OrganisationScopedAdmin):
    list_display = ["name", "slug", "member_count", "app_count", "pending_owner_email", "created_at"]
    search_fields = ["name", "slug", "pending_owner_email", "memberships__user__username", "memberships__user__email"]
    prepopulated_fields = {"slug": ["name"]}
    fields = ["name", "slug", "pending_owner_email", "created_at"]
    readonly_fields = ["created_at"]
    inlines = [MembershipInline, AppInline]

    def get_queryset(self, request):
        return (
            super()
            .get_queryset(request)
            .annotate(member_count=Count("memberships", distinct=True), app_count=Count("apps", distinct=True))
        )

    @admin.display(ordering="member_count", description="members")
    def member_count(self, obj):
        return obj.member_count

    @admin.display(ordering="app_count", description="apps")
    def app_count(self, obj):
        return obj.app_count

    def has_delete_permission(self, request, obj=None):
        return False  # its apps' events would go with it; that is purge_events' job, with a dry run

    def save_formset(self, request, form, formset, change):
        if formset.model is not Membership:
            return super().save_formset(request, form, formset, change)
        # Through the services, so each change is audited and no organisation loses its last owner.
        actor = Actor.from_request(request)
        formset.save(commit=False)
        changes = [
            *[(services.membership_remove, {"membership": m}) for m in formset.deleted_objects],
            *[(services.membership_role_change, {"membership": m, "role": m.role}) for m, _ in formset.changed_objects],
            *[
                (services.membership_add, {"organisation": form.instance, "user": m.user, "role": m.role})
                for m in formset.new_objects
            ],
        ]
        for change_membership, arguments in changes:
            try:
                change_membership(actor=actor, **arguments)
            except services.MembershipError as exc:
                self.message_user(request, str(exc), messages.ERROR)
        return None


class ReadOnly:
    """Rows the services write and the admin only lists (and acts on through the services)."""

    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        return False

    def has_delete_permission(self, request, obj=None):
        return False


@admin.register(Invitation)
class InvitationAdmin(ReadOnly, OrganisationScopedAdmin):
    """Read-only, with a revoke action: invitations are sent from the organisation's page, whose link (its
    token) exists only in the email."""

    organisation_path = "organisation"
    list_display = ["email", "organisation", "role", "status", "invited_by", "created_at", "expires_at"]
    list_filter = ["role"]
    list_select_related = ["organisation", "invited_by"]
    search_fields = ["email", "organisation__name"]
    exclude = ["token_digest"]
    actions = ["revoke"]

    @admin.action(description="Revoke (the link stops working at once)")
    def revoke(self, request, queryset):
        actor = Actor.from_request(request)
        for invitation in queryset:
            invitations.invitation_revoke(invitation=invitation, actor=actor)
        self.message_user(request, f"Revoked {queryset.count()} invitation(s).", messages.SUCCESS)


@admin.register(AuditEntry)
class AuditEntryAdmin(ReadOnly, OrganisationScopedAdmin):
    """Read-only: the log is written by the services and never edited."""

    organisation_path = "organisation"
    list_display = ["created_at", "action", "actor_label", "actor_key", "target_label", "organisation", "ip"]
    list_filter = ["action", "target_type"]
    list_select_related = ["organisation"]
    search_fields = ["actor_label", "actor_key", "target_label", "target_id", "organisation__name"]
    date_hierarchy = "created_at"
