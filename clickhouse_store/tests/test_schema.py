import pytest
from django.core.management import CommandError, call_command

from clickhouse_store import schema, testing
from clickhouse_store.rows import COLUMNS


def test_the_events_table_has_exactly_the_columns_reports_read(clickhouse):
    columns = clickhouse.execute(
        "SELECT name FROM system.columns WHERE database = %(database)s AND table = 'events'",
        {"database": clickhouse.database},
    )
    assert tuple(name for (name,) in columns) == COLUMNS


def test_the_columns_reports_group_by_with_few_values_are_low_cardinality(clickhouse):
    types = dict(
        clickhouse.execute(
            "SELECT name, type FROM system.columns WHERE database = %(database)s AND table = 'events'",
            {"database": clickhouse.database},
        )
    )
    assert types["name"] == types["browser"] == types["country"] == "LowCardinality(String)"
    assert types["path"] == types["url"] == "String"  # apps with ids in their URLs have millions


def test_migrate_twice_applies_nothing_the_second_time(clickhouse):
    assert schema.migrate(clickhouse) == []
    assert schema.applied(clickhouse) == {migration.version for migration in schema.migrations()}


def test_check_passes_on_a_migrated_database_and_fails_on_a_fresh_one(settings, capsys):
    url = testing.server_url_from_environment()
    if url is None:
        pytest.skip("needs a ClickHouse server (CLICKHOUSE_URL)")
    settings.CLICKHOUSE_URL = testing.server_test_url(url) + "_check"
    client = testing.fresh_server_database(settings.CLICKHOUSE_URL)
    try:
        call_command("clickhouse_migrate", "--check")
        client.execute(f"DROP TABLE {client.database}.schema_migrations")
        with pytest.raises(CommandError, match="pending: 0001_events, 0002_event_ids"):
            call_command("clickhouse_migrate", "--check")
        call_command("clickhouse_migrate")
        assert f"applied {schema.LATEST:04d}_" in capsys.readouterr().out
        call_command("clickhouse_migrate", "--check")
    finally:
        testing.drop_database(client)


def test_migrate_creates_a_missing_database(settings):
    url = testing.server_url_from_environment()
    if url is None:
        pytest.skip("needs a ClickHouse server (CLICKHOUSE_URL)")
    settings.CLICKHOUSE_URL = testing.server_test_url(url) + "_created"
    client = testing.fresh_server_database(settings.CLICKHOUSE_URL)
    testing.drop_database(client)
    with pytest.raises(CommandError):
        call_command("clickhouse_migrate", "--check")
    call_command("clickhouse_migrate")
    try:
        call_command("clickhouse_migrate", "--check")
    finally:
        testing.drop_database(client)


def test_a_ttl_is_set_where_the_server_has_ttl_and_refused_where_it_has_not(settings, clickhouse, capsys):
    settings.CLICKHOUSE_URL = clickhouse.url
    settings.CLICKHOUSE_TTL_DAYS = 36500  # harmless to the other tests' dated events, should it stay
    if schema.server_version(clickhouse) < schema.TTL_SINCE:
        with pytest.raises(CommandError, match=r"needs ClickHouse 19\.6 or later.*purge_events"):
            call_command("clickhouse_migrate")
        return
    try:
        call_command("clickhouse_migrate")
        call_command("clickhouse_migrate")
        assert capsys.readouterr().out.count("kept 36500 days") == 1  # the second run changed nothing
        (create,) = clickhouse.execute(f"SHOW CREATE TABLE {clickhouse.database}.events")[0]
        assert "TTL toDateTime(intDiv(timestamp_us, 1000000)) + toIntervalDay(36500)" in create
    finally:
        clickhouse.execute(f"ALTER TABLE {clickhouse.database}.events REMOVE TTL")
