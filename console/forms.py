"""The organisation pages' forms. They read what a person types; what an app may hold is the model's own
validation (App.full_clean in apikeys.services), the same the API and the admin apply."""

import re
import zoneinfo

from django import forms
from django.conf import settings

from apikeys.keys import KeyKind
from apikeys.serializers import MAX_GRACE_SECONDS
from apikeys.validators import normalize_site_domain, validate_domains
from organisations.models import Role
from organisations.permissions import ROLE_ORDER, role_change_operation

TIMEZONES = sorted(zoneinfo.available_timezones())


def _valid(validator, value) -> bool:
    try:
        validator(value)
    except forms.ValidationError:
        return False
    return True


class OrganisationForm(forms.Form):
    name = forms.CharField(max_length=200, strip=True)


class AppSettingsForm(forms.Form):
    name = forms.CharField(max_length=200)
    domains = forms.CharField(
        required=False,
        widget=forms.Textarea(attrs={"rows": 3}),
        help_text="Host names the browser tracker may send from, one a line (example.com, *.example.com, "
        "localhost:3000). Empty allows any origin.",
    )
    site_domain = forms.CharField(
        required=False,
        max_length=253,
        label="Site domain",
        help_text="The domain Plausible's tracker sends; unique on this server. Optional.",
    )
    timezone = forms.ChoiceField(
        choices=[(name, name) for name in TIMEZONES], initial="UTC", help_text="Reports count days in it."
    )

    @classmethod
    def for_app(cls, app, data=None):
        initial = {
            "name": app.name,
            "domains": "\n".join(app.domains),
            "site_domain": app.site_domain or "",
            "timezone": app.timezone,
        }
        return cls(data, initial=initial)

    def clean_domains(self) -> list[str]:
        # As the API does: in lower case, and checked here, because the model field's own message for a bad
        # host name is JSONField's "Value must be valid JSON." (Django swaps in a field's message by code).
        domains = [domain.lower() for domain in re.split(r"[\s,]+", self.cleaned_data["domains"]) if domain]
        bad = [domain for domain in domains if not _valid(validate_domains, [domain])]
        if bad:
            raise forms.ValidationError(
                f"Not a host name: {', '.join(bad)}. Enter names such as example.com, *.example.com or localhost:3000."
            )
        return domains

    def clean_site_domain(self) -> str | None:
        return normalize_site_domain(self.cleaned_data["site_domain"]) or None

    def add_model_errors(self, error) -> None:
        """A django ValidationError from App.full_clean, on the fields it names."""
        for field, messages in error.message_dict.items():
            self.add_error(field if field in self.fields else None, messages)


class KeyCreateForm(forms.Form):
    kind = forms.ChoiceField(
        choices=[
            (KeyKind.SECRET.value, "secret (sk_): reports, key management, events"),
            (KeyKind.PUBLISHABLE.value, "publishable (pk_): events only, safe in a web page"),
        ],
    )
    name = forms.CharField(max_length=100, required=False, help_text="What it is for, e.g. 'backend'.")


class KeyRotateForm(forms.Form):
    grace_hours = forms.IntegerField(
        min_value=0,
        max_value=MAX_GRACE_SECONDS // 3600,
        label="Old key works for (hours)",
        help_text="0 revokes it at once.",
    )

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["grace_hours"].initial = settings.API_KEY_ROTATION_GRACE_SECONDS // 3600


def roles_to_give(page, current: Role | None = None) -> list[Role]:
    """The roles the page's person may give a membership or invitation now at ``current`` (None: new)."""
    return [role for role in reversed(ROLE_ORDER) if page.may(role_change_operation(current, role))]


class InviteForm(forms.Form):
    email = forms.EmailField(max_length=254)
    role = forms.ChoiceField()

    def __init__(self, *args, page, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["role"].choices = [(role.value, role.label) for role in roles_to_give(page)]
        self.fields["role"].initial = Role.VIEWER


class RoleForm(forms.Form):
    role = forms.ChoiceField(choices=Role.choices)
