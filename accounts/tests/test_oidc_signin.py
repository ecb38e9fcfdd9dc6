"""Sign-in through a real OpenID Connect provider: node-oidc-provider (sdk_tests/oidc_provider.mjs) in a
process of its own. The person's browser is a requests session on the provider's side and Django's test
client on ours; allauth discovers the provider, exchanges the code, checks the ID token's signature against
the provider's keys and reads userinfo, all over HTTP, nothing mocked."""

import os
import secrets
import shutil
import socket
import subprocess
from urllib.parse import urlsplit

import pytest
import requests
from allauth.account.models import EmailAddress
from django.contrib.auth import get_user_model

from analytics_project.testing import SDK_TESTS
from apikeys import services
from organisations.models import Membership, Role

EMAIL = "ada@example.com"
CLIENT_ID = "uea-tests"
CALLBACK = "http://testserver/accounts/oidc/test-idp/login/callback/"


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


@pytest.fixture(scope="module")
def identity_provider(sdk_modules):
    """(issuer, client secret) of a running provider with our client registered and Ada as its one account."""
    port, secret = _free_port(), secrets.token_urlsafe(24)
    process = subprocess.Popen(
        [shutil.which("node") or "node", "oidc_provider.mjs"],
        cwd=SDK_TESTS,
        env={
            **os.environ,
            "OIDC_PORT": str(port),
            "OIDC_CLIENT_ID": CLIENT_ID,
            "OIDC_CLIENT_SECRET": secret,
            "OIDC_REDIRECT_URI": CALLBACK,
            "OIDC_EMAIL": EMAIL,
        },
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        if process.stdout.readline().strip() != "ready":
            process.kill()
            pytest.fail(f"the OpenID Connect provider did not start: {process.stderr.read()[-2000:]}")
        yield f"http://127.0.0.1:{port}", secret
    finally:
        process.terminate()
        process.wait(timeout=10)


@pytest.fixture
def oidc_configured(settings, identity_provider):
    issuer, secret = identity_provider
    settings.SOCIALACCOUNT_PROVIDERS = {
        "openid_connect": {
            "APPS": [
                {
                    "provider_id": "test-idp",
                    "name": "Test IdP",
                    "client_id": CLIENT_ID,
                    "secret": secret,
                    "settings": {"server_url": issuer, "oauth_pkce_enabled": True},
                }
            ],
            "SCOPE": ["openid", "profile", "email"],
        }
    }
    return issuer


def sign_in_at_the_provider(client, issuer: str):
    """Start at our sign-in button, let the provider sign Ada in, and come back to our callback with its code."""
    login_page = client.get("/accounts/login/").content.decode()
    assert "Test IdP" in login_page, "the configured provider is offered on the sign-in page"
    location = client.post("/accounts/oidc/test-idp/login/")["Location"]
    assert location.startswith(issuer + "/auth?")
    browser = requests.Session()
    for _ in range(10):
        if not location.startswith(issuer):
            break
        location = requests.compat.urljoin(
            issuer, browser.get(location, allow_redirects=False, timeout=10).headers["Location"]
        )
    assert location.startswith(CALLBACK), location
    callback = urlsplit(location)
    return client.get(f"{callback.path}?{callback.query}")


def test_a_person_signs_in_with_the_provider_and_claims_the_organisation_waiting_for_their_verified_address(
    client, someone_else, oidc_configured
):
    registered = services.app_register(name="Ada's shop", owner_email=EMAIL)

    response = sign_in_at_the_provider(client, oidc_configured)

    assert response.status_code == 302 and response["Location"] == "/dashboard/", response.content[:500]
    ada = get_user_model().objects.get(pk=client.session["_auth_user_id"])
    assert ada.email == EMAIL
    assert EmailAddress.objects.get(user=ada).verified, "the provider's email_verified claim is trusted"
    membership = Membership.objects.get(user=ada)
    assert (membership.organisation, membership.role) == (registered.app.organisation, Role.OWNER)
    assert ada.socialaccount_set.get().provider == "test-idp"


def test_invite_mode_refuses_a_provider_account_no_organisation_waits_for(client, someone_else, oidc_configured):
    response = sign_in_at_the_provider(client, oidc_configured)

    assert "_auth_user_id" not in client.session
    assert "Sign Up Closed" in response.content.decode()
    assert not get_user_model().objects.filter(email=EMAIL).exists()


def test_signing_in_again_with_the_provider_finds_the_same_person(client, someone_else, oidc_configured, settings):
    settings.SIGNUP_MODE = "open"
    sign_in_at_the_provider(client, oidc_configured)
    first = client.session["_auth_user_id"]
    client.logout()

    sign_in_at_the_provider(client, oidc_configured)

    assert client.session["_auth_user_id"] == first
    assert get_user_model().objects.filter(email=EMAIL).count() == 1
