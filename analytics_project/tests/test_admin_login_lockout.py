"""The admin login locks a client IP out after LOGIN_FAILURE_LIMIT wrong passwords (django-axes)."""

import pytest
from axes.models import AccessAttempt
from django.conf import settings
from django.contrib.auth.models import User

LOGIN = "/admin/login/"
PASSWORD = "right-pw-for-tests-only"


@pytest.fixture
def admin_user(db):
    return User.objects.create_superuser("root", "root@example.com", PASSWORD)


def log_in(client, password: str, **headers):
    return client.post(LOGIN, {"username": "root", "password": password, "next": "/admin/"}, **headers)


def fail(client, times: int, **headers) -> list[int]:
    return [log_in(client, "wrong", **headers).status_code for _ in range(times)]


def is_signed_in(client) -> bool:
    return "_auth_user_id" in client.session


def test_the_limit_of_wrong_passwords_locks_out_even_the_right_password(client, admin_user):
    limit = settings.AXES_FAILURE_LIMIT
    assert fail(client, limit - 1) == [200] * (limit - 1)  # the form again, with its error
    locked = log_in(client, "wrong")
    assert locked.status_code == 429
    assert 'data-testid="login-locked"' in locked.content.decode()

    refused = log_in(client, PASSWORD)
    assert refused.status_code == 429
    assert not is_signed_in(client)


def test_the_right_password_works_again_after_the_cool_off(client, admin_user):
    fail(client, settings.AXES_FAILURE_LIMIT)
    assert log_in(client, PASSWORD).status_code == 429
    # As if the cool-off had passed since the last try.
    for attempt in AccessAttempt.objects.all():
        attempt.attempt_time -= settings.AXES_COOLOFF_TIME
        attempt.save()
    assert log_in(client, PASSWORD).status_code == 302
    assert is_signed_in(client)


def test_a_successful_login_resets_the_count(client, admin_user):
    fail(client, settings.AXES_FAILURE_LIMIT - 1)
    assert log_in(client, PASSWORD).status_code == 302
    client.logout()
    # Without the reset, the first of these would be the limit's last failure.
    assert fail(client, settings.AXES_FAILURE_LIMIT - 1)[-1] == 200
    assert log_in(client, PASSWORD).status_code == 302


def test_behind_a_proxy_each_client_ip_is_counted_alone_and_forged_entries_do_not_help(client, admin_user, settings):
    settings.TRUSTED_PROXY_COUNT = 1
    proxy = {"REMOTE_ADDR": "10.0.0.1"}
    assert fail(client, settings.AXES_FAILURE_LIMIT, HTTP_X_FORWARDED_FOR="203.0.113.7", **proxy)[-1] == 429
    # A new forged left-hand entry per try does not make the attacker someone else.
    assert log_in(client, PASSWORD, HTTP_X_FORWARDED_FOR="198.51.100.99, 203.0.113.7", **proxy).status_code == 429
    # Another visitor behind the same proxy is not locked out by them.
    assert log_in(client, PASSWORD, HTTP_X_FORWARDED_FOR="198.51.100.20", **proxy).status_code == 302
