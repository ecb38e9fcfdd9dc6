"""Persons on the buffered path: the worker records them from each flush before storing it, in the
Django database and, when reports read ClickHouse, in its person_ids table too."""

import uuid

from persons.models import PersonDistinctId
from reports.dialect.clickhouse import ClickHouse

COLLECT = "/api/analytics/collect"


def queue(client_for, registered, events):
    body = {"events": [{"eventId": str(uuid.uuid4()), **event} for event in events]}
    response = client_for(registered.secret_key.raw).post(COLLECT, body, format="json")
    assert response.status_code == 202, response.content


HISTORY = [
    {"event": "pageview", "anonymousId": "anon-1"},
    {"event": "identify", "userId": "u1", "anonymousId": "anon-1", "metadata": {"plan": "pro"}},
    {"event": "signup", "userId": "u1"},
    {"event": "pageview", "anonymousId": "anon-2"},
    {"event": "identify", "userId": "u2", "anonymousId": "anon-2"},
    {"event": "alias", "userId": "u1", "metadata": {"previousId": "u2"}},
]


def test_the_worker_links_ids_before_it_stores_the_flush(ingest_buffer, drain, client_for, registered):
    queue(client_for, registered, HISTORY)
    assert not PersonDistinctId.objects.exists()  # queued, not yet recorded
    drain()
    linked = dict(PersonDistinctId.objects.filter(app=registered.app).values_list("distinct_id", "person_key"))
    assert linked == {"u1": "u1", "anon-1": "u1", "u2": "u1", "anon-2": "u1"}


def test_clickhouse_reads_the_persons_the_worker_copied(
    ingest_buffer, clickhouse_settings, drain, client_for, registered
):
    queue(client_for, registered, HISTORY)
    drain()
    copied = clickhouse_settings.execute(
        "SELECT distinct_id, argMax(person_key, version) FROM person_ids WHERE app_id = %(app)s "
        "GROUP BY distinct_id ORDER BY distinct_id",
        {"app": registered.app.id},
    )
    assert copied == [("anon-1", "u1"), ("anon-2", "u1"), ("u1", "u1"), ("u2", "u1")]
    dialect = ClickHouse(clickhouse_settings)
    dialect.app_id = registered.app.id
    ((events, users),) = dialect.fetch(
        f"SELECT COUNT(*), uniqExact({dialect.person()}) FROM {dialect.with_persons()} WHERE e.app_id = %s",  # noqa: S608
        [registered.app.id],
    )
    assert (events, users) == (len(HISTORY), 1)
