import pytest

from organisations import services


@pytest.fixture
def organisation(db):
    return services.organisation_create(name="Acme")


@pytest.fixture
def user_factory(django_user_model):
    def make(username: str, **fields):
        return django_user_model.objects.create_user(
            username, fields.pop("email", f"{username}@example.com"), "pw", **fields
        )

    return make
