"""Dead letters, seen and replayed from `manage.py ingest_status` and from the admin."""

from io import StringIO

import pytest
from django.contrib.auth.models import Permission, User
from django.core.management import CommandError, call_command

from analytics_project.tests.conftest import COLLECT
from events import buffer

PAGE = "/admin/events/deadletter/"


def ingest_status(*args) -> str:
    out = StringIO()
    call_command("ingest_status", *args, stdout=out)
    return out.getvalue()


@pytest.fixture
def dead_letter(ingest_buffer, drain, queue_unstorable) -> buffer.DeadLetter:
    """One request a worker could not store, as PostgreSQL refused its event."""
    queue_unstorable()
    drain()
    (letter,) = buffer.dead_letters(ingest_buffer)
    return letter


def test_ingest_status_prints_the_queue_and_each_dead_letter_with_its_reason(dead_letter, secret_client, registered):
    assert secret_client.post(COLLECT, {"event": "waiting", "userId": "u"}, format="json").status_code == 202
    out = ingest_status()
    assert "mode: buffered" in out
    assert "queue: 1 entries, 0 pending, lag" in out
    assert "workers seen in the last minute: 1" in out  # the drain's worker
    assert "dead letters: 1" in out
    (line,) = [line for line in out.splitlines() if dead_letter.id in line]
    assert f"app {registered.app.pk}" in line and "1 event(s)" in line and "index row size" in line


def test_replay_is_a_dry_run_without_yes_and_with_it_requeues_for_the_workers(ingest_buffer, dead_letter, drain):
    dry = ingest_status("--replay", dead_letter.id)
    assert f"would replay {dead_letter.id}" in dry and "Pass --yes" in dry
    assert (ingest_buffer.xlen(buffer.STREAM), ingest_buffer.xlen(buffer.DEAD_LETTERS)) == (0, 1)

    assert "Requeued 1 event(s) from 1 dead letter(s)" in ingest_status("--replay", dead_letter.id, "--yes")
    assert (ingest_buffer.xlen(buffer.STREAM), ingest_buffer.xlen(buffer.DEAD_LETTERS)) == (1, 0)
    drain()  # the cause is still there: a worker tries again and dead-letters it again
    (again,) = buffer.dead_letters(ingest_buffer)
    assert again.id != dead_letter.id and again.rows == dead_letter.rows


def test_replaying_an_unknown_id_is_an_error_and_replays_nothing(ingest_buffer, dead_letter):
    with pytest.raises(CommandError, match="No dead letter with id 1-0"):
        ingest_status("--replay", dead_letter.id, "1-0", "--yes")
    assert ingest_buffer.xlen(buffer.DEAD_LETTERS) == 1


def test_without_redis_ingest_status_says_there_is_no_queue(settings):
    settings.CACHES = {"default": {"BACKEND": "django.core.cache.backends.locmem.LocMemCache"}}
    assert ingest_status().splitlines() == [
        "mode: direct",
        "no ingestion queue: it lives in Redis, and REDIS_URL is unset",
    ]
    with pytest.raises(CommandError, match="REDIS_URL"):
        ingest_status("--replay")


def _staff(username: str, *codenames: str) -> User:
    user = User.objects.create_user(username, password="pw-for-tests-only", is_staff=True)
    user.user_permissions.set(Permission.objects.filter(codename__in=codenames))
    return user


def test_staff_who_see_events_see_their_apps_dead_letters_and_cannot_replay_them(
    client, dead_letter, ingest_buffer, queue_unstorable, drain, client_for, other_app, registered
):
    queue_unstorable(client_for(other_app.secret_key.raw), name="other app's")
    drain()
    operator = _staff("operator", "view_event")
    registered.app.operators.add(operator)
    client.force_login(operator)
    assert "Dead letters" in client.get("/admin/").content.decode()
    page = client.get(PAGE).content.decode()
    assert dead_letter.id in page and "index row size" in page and registered.app.name in page
    assert "other app" not in page and other_app.app.name not in page
    assert "Replay selected" not in page
    assert client.post(PAGE, {"ids": [dead_letter.id]}).status_code == 403
    assert ingest_buffer.xlen(buffer.DEAD_LETTERS) == 2


def test_another_apps_hundred_and_one_dead_letters_hide_none_of_the_operators(
    client, ingest_buffer, other_app, registered
):
    def letter(app, reason):
        entry = buffer.Entry(id="0-1", app_id=str(app.app.pk), rows="", count=1)
        buffer.dead_letter(ingest_buffer, entry=entry, rows_text="", count=1, reason=reason)

    for _ in range(101):  # oldest first: more than one page of the admin's
        letter(other_app, "other app's letter")
    letter(registered, "the operator's letter")
    operator = _staff("operator", "view_event")
    registered.app.operators.add(operator)
    client.force_login(operator)
    page = client.get(PAGE).content.decode()
    assert "the operator&#x27;s letter" in page and registered.app.name in page, page
    assert "other app" not in page and other_app.app.name not in page
    assert "1 shown of 1." in page


def test_staff_who_cannot_see_events_cannot_see_dead_letters(client, db):
    client.force_login(_staff("key-keeper", "view_app", "view_apikey"))
    assert client.get(PAGE).status_code == 403
    assert "Dead letters" not in client.get("/admin/").content.decode()


@pytest.mark.parametrize("who", ["superuser", "operator with the replay permission"])
def test_replay_from_the_admin_needs_superuser_or_the_replay_permission(
    who, client, admin_user, dead_letter, ingest_buffer, registered
):
    if who == "superuser":
        user = admin_user
    else:
        user = _staff("replayer", "view_event", "replay_deadletter")
        registered.app.operators.add(user)
    client.force_login(user)
    assert "Replay selected" in client.get(PAGE).content.decode()
    response = client.post(PAGE, {"ids": [dead_letter.id]}, follow=True)
    assert "Requeued 1 event(s) from 1 dead letter(s)." in response.content.decode()
    assert (ingest_buffer.xlen(buffer.STREAM), ingest_buffer.xlen(buffer.DEAD_LETTERS)) == (1, 0)


def test_the_dead_letter_model_has_no_table_for_dumpdata_to_trip_on(db):
    out = StringIO()
    call_command("dumpdata", "events", stdout=out)
    assert out.getvalue().strip() == "[]"
