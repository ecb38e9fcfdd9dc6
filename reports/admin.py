from django import forms
from django.contrib import admin, messages

from reports.models import SharedLink
from reports.sharing import shared_link_create, shared_link_revoke


class SharedLinkForm(forms.ModelForm):
    password = forms.CharField(
        required=False, widget=forms.PasswordInput, help_text="Optional: asked once per browser session."
    )

    class Meta:
        model = SharedLink
        fields = ["app", "label"]


@admin.register(SharedLink)
class SharedLinkAdmin(admin.ModelAdmin):
    """Made here, with an optional password; the link itself is shown once, in the message after saving."""

    form = SharedLinkForm
    list_display = ["app", "label", "has_password", "created_at", "created_by", "revoked_at"]
    list_filter = ["revoked_at"]
    actions = ["revoke"]

    def get_fields(self, request, obj=None):
        return ["app", "label", "password"] if obj is None else ["app", "label", "created_at", "revoked_at"]

    def get_readonly_fields(self, request, obj=None):
        return [] if obj is None else ["app", "label", "created_at", "revoked_at"]

    def save_model(self, request, obj, form, change):
        if change:
            return
        made = shared_link_create(
            app=form.cleaned_data["app"],
            label=form.cleaned_data["label"],
            password=form.cleaned_data["password"],
            created_by=request.user,
        )
        obj.pk = made.link.pk
        link = request.build_absolute_uri(made.path)
        self.message_user(request, f"The shared link, shown this once: {link}", messages.WARNING)

    @admin.action(description="Revoke the selected links")
    def revoke(self, request, queryset):
        for link in queryset:
            shared_link_revoke(link=link)
        self.message_user(request, f"{queryset.count()} link(s) revoked.")
