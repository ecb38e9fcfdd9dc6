"""A two-shard Distributed events table answers every report exactly as one table does: the same
events, sent through collect and stored by the worker, into each (the CI server's uea_two_shards
cluster, both shards on the one server)."""

import pytest
from django.utils import timezone

from clickhouse_store import client, cluster, testing
from reports.tests.clickhouse_figures import EVENTS, expected_figures, figures, sent_events
from reports.tests.conftest import COLLECT


@pytest.fixture
def analytics_store(ingest_buffer, settings):
    """ClickHouse server databases of this test's own, fed by the worker."""
    url = testing.server_url_from_environment()
    if url is None:
        pytest.skip("the two-shard cluster lives on a ClickHouse server (CLICKHOUSE_URL=clickhouse://...)")
    base = testing.server_test_url(url)
    one_table = testing.fresh_server_database(base + "_one_table")
    sharded = testing.two_shard_database(base + "_two_shards")
    settings.ANALYTICS_STORE = "clickhouse"
    yield {"one table": (one_table, ""), "two shards": (sharded, testing.TWO_SHARDS)}
    client.reset()
    testing.drop_database(one_table)
    testing.drop_two_shard_database(sharded)


def test_two_shards_answer_every_report_as_one_table_does(analytics_store, settings, client_for, registered, drain):
    now = timezone.now()
    sent = sent_events(now)
    http = client_for(registered.secret_key.raw)
    answers = {}
    for layout, (store, cluster_name) in analytics_store.items():
        settings.CLICKHOUSE_URL, settings.CLICKHOUSE_CLUSTER = store.url, cluster_name
        client.reset()
        for start in range(0, EVENTS, 1000):
            assert http.post(COLLECT, {"events": sent[start : start + 1000]}, format="json").status_code == 202
        drain()
        answers[layout] = figures(registered.app, timezone.now())
    sharded = analytics_store["two shards"][0]
    per_shard = []
    for shard in cluster.shards(sharded, testing.TWO_SHARDS):
        own = cluster.shard_client(sharded, shard)
        per_shard.append(own.execute(f"SELECT count() FROM {testing.local_table(sharded)}")[0][0])  # noqa: S608
        own.close()
    assert len(per_shard) == 2 and all(per_shard) and sum(per_shard) == EVENTS  # each shard holds some users
    assert answers["two shards"] == answers["one table"] == expected_figures()
