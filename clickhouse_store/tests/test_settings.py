import pytest

from analytics_project.tests.test_settings import manage

CLICKHOUSE = {
    "ANALYTICS_STORE": "clickhouse",
    "CLICKHOUSE_URL": "clickhouse://default@127.0.0.1:9000/analytics",
    "INGEST_MODE": "buffered",
    "DATABASE_URL": "postgresql://postgres@127.0.0.1:5432/analytics",
    "REDIS_URL": "redis://127.0.0.1:6379/0",
}


def test_the_clickhouse_store_starts_with_its_requirements_met():
    result = manage("check", **CLICKHOUSE)
    assert result.returncode == 0, result.stderr


@pytest.mark.parametrize(
    ("changed", "message"),
    [
        ({"CLICKHOUSE_URL": ""}, "needs CLICKHOUSE_URL"),
        ({"CLICKHOUSE_URL": "http://127.0.0.1:8123"}, "needs CLICKHOUSE_URL"),
        ({"INGEST_MODE": "direct"}, "needs INGEST_MODE=buffered"),
        ({"INGEST_MAX_BATCH": "4097"}, "INGEST_MAX_BATCH up to 4096"),
        ({"ANALYTICS_STORE": "mongodb"}, "ANALYTICS_STORE must be one of postgresql, clickhouse"),
    ],
)
def test_the_clickhouse_store_refuses_to_start_without_them(changed, message):
    result = manage("check", **{**CLICKHOUSE, **changed})
    assert result.returncode != 0 and message in result.stderr, result.stderr


def test_the_default_store_ignores_a_clickhouse_url_in_the_environment():
    result = manage("check", CLICKHOUSE_URL="clickhouse://nowhere:1/x", INGEST_MODE="direct")
    assert result.returncode == 0, result.stderr
