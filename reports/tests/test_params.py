from datetime import UTC, date, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
from django.utils import timezone

from apikeys import services
from reports.tests.conftest import event, iso


@pytest.mark.parametrize(
    ("endpoint", "params", "field"),
    [
        ("daily-stats", {"startDate": "yesterday"}, "startDate"),
        ("daily-stats", {"startDate": "2024-02-30"}, "startDate"),
        ("daily-stats", {"endDate": "2024-13-01"}, "endDate"),
        ("daily-stats", {"endDate": "31/05/2024"}, "endDate"),
        ("daily-stats", {"startDate": "2024-05-10", "endDate": "2024-05-01"}, "endDate"),
        ("daily-stats", {"startDate": "2024-05-10T12:00:00Z", "endDate": "2024-05-10T12:00:00Z"}, "endDate"),
        ("daily-stats", {"startDate": "2022-01-01", "endDate": "2024-01-02"}, "endDate"),
        ("daily-stats", {"startDate": "1999-12-31"}, "startDate"),
        ("daily-stats", {"endDate": "9999-12-31"}, "endDate"),
        ("daily-stats", {"tz": "Mars/Olympus_Mons"}, "tz"),
        ("daily-stats", {"tz": "utc+2"}, "tz"),
        ("event-summary", {"event": "x" * 201}, "event"),
        ("event-summary", {"appId": "not-a-uuid"}, "appId"),
        ("breakdown", {"by": "favourite_colour"}, "by"),
        ("breakdown", {"by": "metadata."}, "by"),
        ("breakdown", {"by": "metadata.a b"}, "by"),
        ("breakdown", {}, "by"),
        ("breakdown", {"by": "browser", "limit": "0"}, "limit"),
        ("breakdown", {"by": "browser", "limit": "10000"}, "limit"),
        ("top-pages", {"limit": "0"}, "limit"),
        ("top-pages", {"limit": "10000"}, "limit"),
        ("top-referrers", {"limit": "ten"}, "limit"),
        ("web-stats", {"limit": "0"}, "limit"),
        ("web-stats", {"limit": "101"}, "limit"),
        ("web-stats", {"startDate": "2024-05-10", "endDate": "2024-05-01"}, "endDate"),
        ("timeseries", {"interval": "fortnight"}, "interval"),
        ("timeseries", {"interval": "hour", "startDate": "2024-01-01", "endDate": "2024-03-01"}, "interval"),
        ("user-stats", {}, "userId"),
        ("export", {"format": "xlsx"}, "format"),
    ],
)
def test_a_bad_parameter_is_a_400_naming_the_field(secret_client, endpoint, params, field):
    response = secret_client.get(f"/api/analytics/{endpoint}", params)
    assert response.status_code == 400, response.content
    body = response.json()
    assert body["code"] == "validation_error"
    assert field in body["fields"], body


def test_the_range_may_cover_exactly_two_years(report, registered):
    response = report(registered, "daily-stats", startDate="2022-01-01", endDate="2023-12-31")
    assert response.status_code == 200
    assert len(response.json()) == 730
    assert report(registered, "daily-stats", startDate="2023-01-01", endDate="2024-12-31").status_code == 200


def test_unknown_query_parameters_are_ignored(report, registered):
    assert report(registered, "daily-stats", utm_campaign="spring", _="12345").status_code == 200


def test_the_default_range_is_the_last_30_days_ending_today_in_the_apps_zone(report, send, db):
    app = services.app_register(name="Tokyo", owner_email="t@example.com", timezone_name="Asia/Tokyo")
    today = timezone.now().astimezone(ZoneInfo("Asia/Tokyo")).date()
    send(
        app,
        [
            event(timestamp=iso(timezone.now() - timedelta(minutes=1))),
            event(timestamp=iso(timezone.now() - timedelta(days=40))),
        ],
    )
    days = report(app, "daily-stats").json()
    assert [row["date"] for row in days] == [(today - timedelta(days=n)).isoformat() for n in range(29, -1, -1)]
    assert sum(row["count"] for row in days) == 1
    assert report(app, "active-users").json()["asOf"] == today.isoformat()


def test_a_date_only_end_includes_that_whole_local_day_and_a_datetime_end_is_exclusive(report, send, db):
    app = services.app_register(name="Berlin", owner_email="b@example.com", timezone_name="Europe/Berlin")
    berlin = ZoneInfo("Europe/Berlin")
    last_second = datetime(2024, 5, 31, 23, 59, 59, tzinfo=berlin)
    next_midnight = datetime(2024, 6, 1, tzinfo=berlin)
    send(app, [event(timestamp=iso(last_second)), event(timestamp=iso(next_midnight))])
    assert report(app, "event-summary", startDate="2024-05-31", endDate="2024-05-31").json()["count"] == 1
    assert report(app, "event-summary", startDate="2024-05-31", endDate="2024-06-01").json()["count"] == 2
    exclusive = {"startDate": "2024-05-31T00:00:00", "endDate": "2024-05-31T23:59:59"}  # local, no offset
    assert report(app, "event-summary", **exclusive).json()["count"] == 0
    with_offset = {"startDate": "2024-05-31T21:00:00Z", "endDate": "2024-05-31T22:00:00Z"}
    assert report(app, "event-summary", **with_offset).json()["count"] == 1


def test_an_unencoded_plus_in_an_offset_still_parses(client_for, registered, send):
    send(registered, [event(timestamp="2024-05-31T12:30:00+00:00")])
    client = client_for(registered.secret_key.raw)
    response = client.get(
        "/api/analytics/event-summary?startDate=2024-05-31T14:00:00+02:00&endDate=2024-05-31T15:00:00+02:00"
    )
    assert response.status_code == 200, response.content
    assert response.json()["count"] == 1


def test_tz_moves_events_across_the_day_boundary(report, send, registered):
    # 02:00 UTC on June 2nd is still June 1st in New York.
    send(registered, [event(timestamp="2024-06-02T02:00:00Z")])
    params = {"startDate": "2024-06-01", "endDate": "2024-06-02"}
    in_utc = {row["date"]: row["count"] for row in report(registered, "daily-stats", **params).json()}
    in_new_york = {
        row["date"]: row["count"] for row in report(registered, "daily-stats", tz="America/New_York", **params).json()
    }
    assert in_utc == {"2024-06-01": 0, "2024-06-02": 1}
    assert in_new_york == {"2024-06-01": 1, "2024-06-02": 0}


def test_the_repeated_hour_when_clocks_fall_back_is_two_hourly_buckets(report, send, registered):
    first = datetime(2024, 11, 3, 5, 30, tzinfo=UTC)  # 01:30 EDT
    second = first + timedelta(hours=1)  # 01:30 EST, the same wall-clock time an hour later
    send(registered, [event(timestamp=iso(first)), event(timestamp=iso(second)), event(timestamp=iso(second))])
    points = report(
        registered, "timeseries", interval="hour", tz="America/New_York", startDate="2024-11-03", endDate="2024-11-03"
    ).json()["points"]
    assert len(points) == 25
    assert [(p["t"], p["count"]) for p in points[1:3]] == [
        ("2024-11-03T01:00:00-04:00", 1),
        ("2024-11-03T01:00:00-05:00", 2),
    ]


def test_a_day_that_starts_at_one_because_clocks_sprang_forward_at_midnight(report, send, db):
    # Havana moves from 00:00 to 01:00 on 2024-03-10: that day starts at 01:00 local, 05:00 UTC.
    app = services.app_register(name="Havana", owner_email="h@example.com", timezone_name="America/Havana")
    send(app, [event(timestamp="2024-03-10T04:59:59Z"), event(timestamp="2024-03-10T05:00:00Z")])
    days = report(app, "daily-stats", startDate="2024-03-09", endDate="2024-03-10").json()
    assert [(row["date"], row["count"]) for row in days] == [("2024-03-09", 1), ("2024-03-10", 1)]
    points = report(app, "timeseries", interval="day", startDate="2024-03-10", endDate="2024-03-10").json()["points"]
    assert points == [{"t": "2024-03-10T01:00:00-04:00", "count": 1, "uniqueUsers": 1}]


def test_half_hour_zones_bucket_hours_on_their_own_half_hours(report, send, db):
    app = services.app_register(name="Kolkata", owner_email="k@example.com", timezone_name="Asia/Kolkata")
    send(app, [event(timestamp="2024-05-01T04:29:59Z"), event(timestamp="2024-05-01T04:30:00Z")])  # 09:59:59, 10:00
    points = report(app, "timeseries", interval="hour", startDate="2024-05-01", endDate="2024-05-01").json()["points"]
    counted = {point["t"]: point["count"] for point in points if point["count"]}
    assert counted == {"2024-05-01T09:00:00+05:30": 1, "2024-05-01T10:00:00+05:30": 1}


@pytest.mark.parametrize(
    ("day", "timestamps", "expected", "hours"),
    [
        # Clocks go from 02:00 (+10:30) to 02:30 (+11:00): the hour from 02:00 lasts half an hour.
        (
            "2024-10-06",
            ["2024-10-05T15:29:59Z", "2024-10-05T15:30:00Z", "2024-10-05T15:59:59Z", "2024-10-05T16:00:00Z"],
            {"2024-10-06T01:00:00+10:30": 1, "2024-10-06T02:00:00+11:00": 2, "2024-10-06T03:00:00+11:00": 1},
            24,
        ),
        # Clocks go from 02:00 (+11:00) back to 01:30 (+10:30): 01:00 comes twice, once in each offset.
        (
            "2024-04-07",
            ["2024-04-06T14:59:59Z", "2024-04-06T15:00:00Z", "2024-04-06T15:29:59Z", "2024-04-06T15:30:00Z"],
            {"2024-04-07T01:00:00+11:00": 1, "2024-04-07T01:00:00+10:30": 2, "2024-04-07T02:00:00+10:30": 1},
            25,
        ),
    ],
    ids=["half-hour-forward", "half-hour-back"],
)
def test_hours_follow_a_half_hour_clock_change(report, send, db, day, timestamps, expected, hours):
    app = services.app_register(name="Lord Howe", owner_email="l@example.com", timezone_name="Australia/Lord_Howe")
    send(app, [event(timestamp=moment) for moment in timestamps])
    points = report(app, "timeseries", interval="hour", startDate=day, endDate=day).json()["points"]
    assert {point["t"]: point["count"] for point in points if point["count"]} == expected
    assert len(points) == hours
    starts = [datetime.fromisoformat(point["t"]) for point in points]
    assert starts == sorted(set(starts))  # every hour once, in time order
    assert all(datetime.fromisoformat(point["t"]).minute == 0 for point in points)  # local hours, in their offsets


def test_a_clock_change_in_the_last_hour_of_a_window_given_in_date_times_is_seen(report, send, db):
    app = services.app_register(name="Lord Howe", owner_email="l@example.com", timezone_name="Australia/Lord_Howe")
    send(app, [event(timestamp="2024-10-05T15:40:00Z")])  # 02:40+11:00, ten minutes after the clocks went forward
    params = {"startDate": "2024-10-05T14:10:00Z", "endDate": "2024-10-05T15:50:00Z", "interval": "hour"}
    points = report(app, "timeseries", **params).json()["points"]
    assert {point["t"]: point["count"] for point in points if point["count"]} == {"2024-10-06T02:00:00+11:00": 1}


def test_weeks_start_on_monday_and_months_on_the_first(report, send, registered):
    send(registered, [event(timestamp="2024-05-05T12:00:00Z"), event(timestamp="2024-05-06T12:00:00Z")])
    params = {"startDate": "2024-04-29", "endDate": "2024-06-02"}
    weeks = report(registered, "timeseries", interval="week", **params).json()["points"]
    assert [(p["t"][:10], p["count"]) for p in weeks] == [
        ("2024-04-29", 1),
        ("2024-05-06", 1),
        ("2024-05-13", 0),
        ("2024-05-20", 0),
        ("2024-05-27", 0),
    ]
    months = report(registered, "timeseries", interval="month", **params).json()["points"]
    assert [(p["t"][:10], p["count"]) for p in months] == [("2024-04-01", 0), ("2024-05-01", 2), ("2024-06-01", 0)]
    assert date.fromisoformat(weeks[0]["t"][:10]).weekday() == 0
