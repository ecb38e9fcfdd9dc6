"""The idempotency promise on ClickHouse, end to end: 10,000 events sent three times through collect
(buffered), stored by the worker, count 10,000 in every report right after each replay, on the server
and on chdb. The expected figures come from the events as sent, not from a store."""

import pytest
from django.utils import timezone

from reports.tests.clickhouse_figures import EVENTS, expected_figures, figures, sent_events
from reports.tests.conftest import COLLECT


@pytest.fixture
def analytics_store(ingest_buffer, clickhouse_settings):
    """The store is ClickHouse itself, fed by the worker: no copy of the Django database."""
    return "clickhouse"


def test_events_sent_three_times_count_once_in_every_report_after_each_replay(
    client_for, registered, drain, analytics_store
):
    now = timezone.now()
    sent = sent_events(now)
    expected = expected_figures()
    client = client_for(registered.secret_key.raw)
    for _ in range(3):
        for start in range(0, EVENTS, 1000):
            response = client.post(COLLECT, {"events": sent[start : start + 1000]}, format="json")
            assert response.status_code == 202, response.content
        drain()
        assert figures(registered.app, timezone.now()) == expected
