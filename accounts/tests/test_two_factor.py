import time

import pyotp
import pytest
from allauth.account.models import EmailAddress
from allauth.mfa.models import Authenticator

from accounts.tests.conftest import PASSWORD

EMAIL = "ada@example.com"


@pytest.fixture
def ada(db, django_user_model):
    user = django_user_model.objects.create_user("ada", EMAIL, PASSWORD)
    EmailAddress.objects.create(user=user, email=EMAIL, verified=True, primary=True)
    return user


def fresh_code(authenticator: pyotp.TOTP) -> str:
    """The current code, not in the last five seconds of its 30: the server accepts only the current period's
    code (allauth's MFA_TOTP_TOLERANCE is 0), and a slow request could otherwise reach it in the next one."""
    if authenticator.interval - time.time() % authenticator.interval < 5:
        time.sleep(5)
    return authenticator.now()


def signed_in(client) -> bool:
    return "_auth_user_id" in client.session


def sign_in_with_password(client):
    return client.post("/accounts/login/", {"login": EMAIL, "password": PASSWORD})


@pytest.fixture
def totp(client, ada) -> pyotp.TOTP:
    """TOTP turned on from the account's own page, with the code an authenticator app would show."""
    sign_in_with_password(client)
    assert client.get("/accounts/2fa/totp/activate/")["Location"].startswith("/accounts/reauthenticate/")
    client.post("/accounts/reauthenticate/", {"password": PASSWORD})  # turning 2FA on asks for the password again
    page = client.get("/accounts/2fa/totp/activate/")
    assert page.status_code == 200
    authenticator = pyotp.TOTP(page.context["form"].secret)
    response = client.post("/accounts/2fa/totp/activate/", {"code": fresh_code(authenticator)})
    assert response.status_code == 302, response.content[:500]
    assert Authenticator.objects.filter(user=ada, type=Authenticator.Type.TOTP).exists()
    client.logout()
    return authenticator


def test_a_person_with_totp_is_not_signed_in_by_the_password_alone(client, totp):
    response = sign_in_with_password(client)

    assert response["Location"] == "/accounts/2fa/authenticate/"
    assert not signed_in(client)
    page = client.get("/accounts/2fa/authenticate/").content.decode()
    assert 'name="code"' in page and "Unified Event Analytics</a>" in page, "the code page, in the product's frame"


def test_a_wrong_code_does_not_sign_in(client, totp):
    sign_in_with_password(client)
    wrong = f"{(int(fresh_code(totp)) + 1) % 1_000_000:06d}"

    response = client.post("/accounts/2fa/authenticate/", {"code": wrong})

    assert response.status_code == 200 and "Incorrect code" in response.content.decode()
    assert not signed_in(client)


def test_the_current_code_signs_in_and_cannot_be_replayed(client, totp):
    sign_in_with_password(client)
    code = fresh_code(totp)

    response = client.post("/accounts/2fa/authenticate/", {"code": code})

    assert response["Location"] == "/dashboard/"
    assert signed_in(client)
    client.logout()
    sign_in_with_password(client)
    client.post("/accounts/2fa/authenticate/", {"code": code})
    assert not signed_in(client), "a code once used is spent"


def test_a_person_without_totp_signs_in_with_the_password(client, ada):
    assert sign_in_with_password(client)["Location"] == "/dashboard/"
    assert signed_in(client)
