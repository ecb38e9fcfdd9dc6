import re

import pytest
from django.core import mail

from apikeys import services

PASSWORD = "correct-horse-battery-staple"


@pytest.fixture
def someone_else(db, django_user_model):
    """An install that already has an account, so invite-only sign-up is no longer open to its first person."""
    return django_user_model.objects.create_user("operator", "operator@example.com", PASSWORD)


@pytest.fixture
def pending_app(db):
    """An app registered through the public endpoint, its organisation waiting for ada@shop.example."""
    return services.app_register(name="Ada's shop", owner_email="Ada@Shop.example", timezone_name="UTC")


def sign_up(client, email: str, password: str = PASSWORD):
    return client.post("/accounts/signup/", {"email": email, "password1": password, "password2": password})


def mailed_link(path_prefix: str) -> str:
    """The path of the last mail's link that starts with ``path_prefix``, as the person would follow it."""
    found = re.findall(rf"https?://testserver({re.escape(path_prefix)}\S+)", mail.outbox[-1].body)
    assert found, mail.outbox[-1].body
    return found[0]
