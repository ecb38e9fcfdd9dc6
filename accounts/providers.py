"""The sign-in providers the environment turns on, as allauth's SOCIALACCOUNT_PROVIDERS: each with its app
in the settings, so no SocialApp row is needed. Read by the settings module, so no Django imports here."""

from django.core.exceptions import ImproperlyConfigured

from analytics_project.env import env_str

# Each provider: the variables of its client id and secret. All or none of a provider's must be set.
_OAUTH = {
    "github": ("GITHUB_CLIENT_ID", "GITHUB_CLIENT_SECRET"),
    "google": ("GOOGLE_CLIENT_ID", "GOOGLE_CLIENT_SECRET"),
}
# GitHub's primary address is read from /user/emails, with whether GitHub verified it.
_SCOPES = {"github": ["read:user", "user:email"], "google": ["openid", "profile", "email"]}
_OIDC = ("OIDC_ISSUER", "OIDC_CLIENT_ID", "OIDC_CLIENT_SECRET")


def _all_or_none(names: tuple[str, ...]) -> tuple[str, ...] | None:
    values = tuple((env_str(name) or "").strip() for name in names)
    if not any(values):
        return None
    missing = [name for name, value in zip(names, values, strict=True) if not value]
    if missing:
        raise ImproperlyConfigured(f"{', '.join(missing)} must be set too: {' and '.join(names)} go together.")
    return values


def social_providers() -> dict:
    providers = {}
    for provider, names in _OAUTH.items():
        values = _all_or_none(names)
        if values:
            client_id, secret = values
            providers[provider] = {
                "APPS": [{"client_id": client_id, "secret": secret}],
                "SCOPE": _SCOPES[provider],
            }
    oidc = _all_or_none(_OIDC)
    if oidc:
        issuer, client_id, secret = oidc
        providers["openid_connect"] = {
            "APPS": [
                {
                    # The callback is /accounts/oidc/<OIDC_PROVIDER_ID>/login/callback/, registered at the issuer.
                    "provider_id": env_str("OIDC_PROVIDER_ID", "oidc"),
                    "name": env_str("OIDC_NAME", "OpenID Connect"),
                    "client_id": client_id,
                    "secret": secret,
                    "settings": {"server_url": issuer, "oauth_pkce_enabled": True},
                }
            ],
            "SCOPE": ["openid", "profile", "email"],
        }
    return providers
