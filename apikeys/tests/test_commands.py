import io
import re
from datetime import timedelta

import pytest
from django.core.management import CommandError, call_command
from django.utils import timezone

from apikeys import keys
from apikeys.keys import KeyKind
from apikeys.models import ApiKey

RAW_KEY = re.compile(r"\b[sp]k_[0-9A-Za-z]{46}\b")


def run(*args) -> str:
    out = io.StringIO()
    call_command(*args, stdout=out)
    return out.getvalue()


def _expiring(make_key, days):
    issued = make_key(name=f"{days}d")
    ApiKey.objects.filter(pk=issued.api_key.pk).update(expires_at=timezone.now() + timedelta(days=days))
    return ApiKey.objects.get(pk=issued.api_key.pk)


def _snapshot():
    return list(ApiKey.objects.order_by("id").values())


def test_rotate_expiring_without_yes_changes_nothing_and_says_what_it_would_do(make_key, registered):
    soon, _later = _expiring(make_key, 10), _expiring(make_key, 40)
    before = _snapshot()
    output = run("rotate_keys", "--expiring-within", "30d")
    assert _snapshot() == before
    assert f"would rotate {soon.prefix}" in output
    assert output.count("would rotate") == 1
    assert "--yes" in output
    assert not RAW_KEY.search(output)


def test_rotate_expiring_with_yes_rotates_exactly_those_keys_and_prints_each_new_key_once(
    make_key, registered, client_for
):
    soon_a, soon_b, later = _expiring(make_key, 5), _expiring(make_key, 29), _expiring(make_key, 31)
    output = run("rotate_keys", "--expiring-within", "30d", "--yes", "--grace", "1h")
    new_keys = RAW_KEY.findall(output)
    assert len(new_keys) == 2 == len(set(new_keys))
    for old in (soon_a, soon_b):
        old.refresh_from_db()
        assert old.replaced_by is not None
        assert timedelta(minutes=59) < old.revoked_at - timezone.now() <= timedelta(hours=1)
    later.refresh_from_db()
    assert later.replaced_by is None and later.revoked_at is None
    replaced_ids = {soon_a.replaced_by_id, soon_b.replaced_by_id}
    assert {ApiKey.objects.get(lookup_id=keys.parse(raw).lookup_id).id for raw in new_keys} == replaced_ids
    for raw in new_keys:
        assert client_for(raw).get("/api/auth/keys").status_code == 200


def test_rotate_one_app_rotates_only_its_working_keys(registered, other_app):
    output = run("rotate_keys", "--app", str(registered.app.id), "--yes", "--grace", "0")
    assert len(RAW_KEY.findall(output)) == 2
    assert ApiKey.objects.filter(app=other_app.app, replaced_by__isnull=False).count() == 0
    assert ApiKey.objects.filter(app=registered.app, replaced_by__isnull=False).count() == 2


def test_rotate_refuses_a_bad_duration(registered):
    with pytest.raises(CommandError, match="not a duration"):
        run("rotate_keys", "--expiring-within", "soon")


def test_revoke_key_is_a_dry_run_without_yes(registered):
    target = registered.secret_key.api_key
    output = run("revoke_key", target.prefix)
    assert "would revoke" in output
    target.refresh_from_db()
    assert target.revoked_at is None
    run("revoke_key", str(target.id), "--yes")
    target.refresh_from_db()
    assert target.status == "revoked"


def test_create_app_and_create_key_print_keys_that_work(db, client_for):
    output = run("create_app", "Cli app", "--owner-email", "ops@cli.example", "--timezone", "Asia/Tokyo")
    secret, publishable = RAW_KEY.findall(output)
    assert client_for(secret).get("/api/auth/keys").status_code == 200
    assert publishable.startswith("pk_")
    key_output = run("create_key", "--app", "Cli app", "--kind", "publishable", "--expires-in-days", "0")
    (raw,) = RAW_KEY.findall(key_output)
    assert ApiKey.objects.get(lookup_id=raw[3:11]).expires_at is None


def test_an_operator_may_give_a_key_a_rate_above_the_servers(registered, settings):
    settings.INGEST_RATE = "600/m"
    output = run("create_key", "--app", "Acme web", "--ingest-rate", "50000/m", "--report-rate", "3000/m")
    (raw,) = RAW_KEY.findall(output)
    key = ApiKey.objects.get(lookup_id=raw[3:11])
    assert (key.ingest_rate, key.report_rate) == ("50000/m", "3000/m")
    with pytest.raises(CommandError, match="not a rate"):
        run("create_key", "--app", "Acme web", "--ingest-rate", "lots")


def test_create_app_refuses_a_bad_timezone(db):
    with pytest.raises(CommandError, match="IANA"):
        run("create_app", "Bad", "--owner-email", "ops@cli.example", "--timezone", "Nowhere/City")


def test_list_keys_masks_every_key(registered, other_app):
    output = run("list_keys")
    assert registered.secret_key.api_key.prefix in output
    assert other_app.publishable_key.api_key.prefix in output
    assert not RAW_KEY.search(output)
    assert other_app.secret_key.api_key.prefix not in run("list_keys", "--app", "Acme web")


def test_create_key_for_an_unknown_app_fails_clearly(db):
    with pytest.raises(CommandError, match="No app"):
        run("create_key", "--app", "missing", "--kind", KeyKind.SECRET.value)
