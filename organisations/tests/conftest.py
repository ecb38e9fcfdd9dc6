import pytest
from allauth.account.models import EmailAddress

from organisations import services


@pytest.fixture
def organisation(db):
    return services.organisation_create(name="Acme")


@pytest.fixture
def user_factory(django_user_model):
    def make(username: str, **fields):
        user = django_user_model.objects.create_user(
            username, fields.pop("email", f"{username}@example.com"), "pw", **fields
        )
        # Verified, as sign-up leaves it: invitations are accepted by verified addresses only.
        EmailAddress.objects.create(user=user, email=user.email, verified=True, primary=True)
        return user

    return make
