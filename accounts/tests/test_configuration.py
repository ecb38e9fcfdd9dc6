import pytest
from django.core.exceptions import ImproperlyConfigured

from accounts.providers import social_providers
from analytics_project.env import env_email


def test_email_url_gives_smtp_with_starttls_and_a_decoded_password(monkeypatch):
    monkeypatch.setenv("EMAIL_URL", "smtp://mailer:p%40ss@mail.example:587?tls=true")
    email = env_email("EMAIL_URL", "console://")
    assert email["EMAIL_BACKEND"] == "django.core.mail.backends.smtp.EmailBackend"
    assert (email["EMAIL_HOST"], email["EMAIL_PORT"], email["EMAIL_HOST_USER"]) == ("mail.example", 587, "mailer")
    assert email["EMAIL_HOST_PASSWORD"] == "p@ss"
    assert (email["EMAIL_USE_TLS"], email["EMAIL_USE_SSL"]) == (True, False)


def test_smtps_is_tls_from_the_first_byte_on_465(monkeypatch):
    monkeypatch.setenv("EMAIL_URL", "smtps://mail.example")
    email = env_email("EMAIL_URL", "console://")
    assert (email["EMAIL_PORT"], email["EMAIL_USE_SSL"], email["EMAIL_USE_TLS"]) == (465, True, False)


@pytest.mark.parametrize("value", [None, ""], ids=["unset", "empty"])
def test_without_email_url_mail_goes_to_the_console(monkeypatch, value):
    if value is None:
        monkeypatch.delenv("EMAIL_URL", raising=False)
    else:
        monkeypatch.setenv("EMAIL_URL", value)
    assert env_email("EMAIL_URL", "console://")["EMAIL_BACKEND"] == "django.core.mail.backends.console.EmailBackend"


@pytest.mark.parametrize("value", ["postgres://x", "smtp://", "smtp://mail.example:port"])
def test_a_bad_email_url_stops_the_start_naming_the_variable(monkeypatch, value):
    monkeypatch.setenv("EMAIL_URL", value)
    with pytest.raises(ImproperlyConfigured, match="EMAIL_URL"):
        env_email("EMAIL_URL", "console://")


def _no_providers(monkeypatch):
    for name in ("GITHUB", "GOOGLE", "OIDC"):
        for suffix in ("_CLIENT_ID", "_CLIENT_SECRET", "_ISSUER", "_NAME", "_PROVIDER_ID"):
            monkeypatch.delenv(name + suffix, raising=False)


def test_no_provider_is_on_without_its_variables(monkeypatch):
    _no_providers(monkeypatch)
    assert social_providers() == {}


def test_each_provider_is_turned_on_by_its_variables(monkeypatch):
    _no_providers(monkeypatch)
    monkeypatch.setenv("GITHUB_CLIENT_ID", "gh-id")
    monkeypatch.setenv("GITHUB_CLIENT_SECRET", "gh-secret")
    monkeypatch.setenv("OIDC_ISSUER", "https://id.example/realms/staff")
    monkeypatch.setenv("OIDC_CLIENT_ID", "uea")
    monkeypatch.setenv("OIDC_CLIENT_SECRET", "oidc-secret")
    monkeypatch.setenv("OIDC_NAME", "Company SSO")
    providers = social_providers()
    assert set(providers) == {"github", "openid_connect"}
    assert providers["github"]["APPS"] == [{"client_id": "gh-id", "secret": "gh-secret"}]
    (oidc,) = providers["openid_connect"]["APPS"]
    assert (oidc["provider_id"], oidc["name"], oidc["settings"]["server_url"]) == (
        "oidc",
        "Company SSO",
        "https://id.example/realms/staff",
    )


def test_half_a_provider_is_a_configuration_error(monkeypatch):
    _no_providers(monkeypatch)
    monkeypatch.setenv("OIDC_ISSUER", "https://id.example")
    with pytest.raises(ImproperlyConfigured, match="OIDC_CLIENT_ID, OIDC_CLIENT_SECRET"):
        social_providers()


def test_a_provider_that_is_not_configured_has_no_page(client, db):
    assert client.get("/accounts/github/login/").status_code == 404
