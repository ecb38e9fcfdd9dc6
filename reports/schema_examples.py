"""Example responses (and the funnel's request) for the OpenAPI schema of the report endpoints.

The example of a many=True response is one item: drf-spectacular lists it.
"""

EVENT_SUMMARY = {
    "event": None,
    "count": 1420,
    "uniqueUsers": 312,
    "deviceData": {"desktop": 910, "mobile": 470, "tablet": 40},
    "eventBreakdown": [{"event": "page_view", "count": 1200}, {"event": "signup", "count": 220}],
    "topReferrers": [{"value": "www.google.com", "count": 380}],
    "browsers": [{"value": "Chrome", "count": 800}, {"value": "Mobile Safari", "count": 420}],
    "os": [{"value": "Windows", "count": 610}, {"value": "iOS", "count": 430}],
}
USER_STATS = {
    "userId": "u_42",
    "totalEvents": 57,
    "firstSeen": "2024-04-02T08:13:05Z",
    "lastSeen": "2024-05-30T19:44:10Z",
    "deviceDetails": {"browser": "Chrome", "os": "Windows"},
    "devices": {"desktop": 50, "mobile": 7},
    "ipAddress": "203.0.113.7",
    "recentEvents": [
        {
            "eventId": "2f1c3a4e-8d2b-4c1a-9e0f-1a2b3c4d5e6f",
            "event": "purchase",
            "timestamp": "2024-05-30T19:44:10Z",
            "url": "https://shop.example/checkout",
            "metadata": {"plan": "pro"},
        }
    ],
    "distinctIds": ["u_42", "anon-7f3c"],
    "properties": {"plan": "pro", "email": "ada@shop.example"},
}
DAY_STAT = {"date": "2024-05-29", "count": 130, "uniqueUsers": 41}
TIMESERIES = {
    "interval": "week",
    "points": [
        {"t": "2024-05-20T00:00:00+02:00", "count": 880, "uniqueUsers": 190},
        {"t": "2024-05-27T00:00:00+02:00", "count": 910, "uniqueUsers": 201},
    ],
}
TOP_PAGE = {"value": "/pricing", "count": 420, "uniqueUsers": 160}
TOP_REFERRER = {"value": "www.google.com", "count": 380, "uniqueUsers": 201}
BREAKDOWN = {
    "by": "browser",
    "values": [
        {"value": "Chrome", "count": 800, "uniqueUsers": 170},
        {"value": None, "count": 12, "uniqueUsers": 9},
    ],
}
WEB_STATS = {
    "visits": 940,
    "visitors": 612,
    "pageViews": 2350,
    "viewsPerVisit": 2.5,
    "bounces": 376,
    "bounceRate": 0.4,
    "visitDurationSeconds": 131.5,
    "entryPages": [{"value": "/", "visits": 520, "visitors": 401}],
    "exitPages": [{"value": "/pricing", "visits": 210, "visitors": 188, "exitRate": 0.5}],
}
ACTIVE_USERS = {
    "dau": 41,
    "wau": 190,
    "mau": 612,
    "asOf": "2024-05-31",
    "series": [{"date": "2024-05-30", "activeUsers": 38}, {"date": "2024-05-31", "activeUsers": 41}],
}
EXPORT_CSV = (
    "eventId,event,timestamp,...,metadata\r\n"
    '2f1c3a4e-8d2b-4c1a-9e0f-1a2b3c4d5e6f,signup,2024-05-30T19:44:10+00:00,...,"{""plan"":""pro""}"\r\n'
)
EXPORT_NDJSON = (
    '{"eventId":"2f1c3a4e-8d2b-4c1a-9e0f-1a2b3c4d5e6f","event":"signup",'
    '"timestamp":"2024-05-30T19:44:10+00:00","metadata":{"plan":"pro"}}\n'
)
FUNNEL_REQUEST = {
    "steps": [
        {"event": "view_pricing"},
        {"event": "signup", "filters": [{"property": "device", "operator": "eq", "value": "mobile"}]},
        {
            "event": "purchase",
            "filters": [{"property": "metadata.plan", "operator": "in", "value": ["pro", "team"]}],
        },
    ],
    "startDate": "2024-05-01",
    "endDate": "2024-05-31",
    "windowSeconds": 604800,
}
FUNNEL = {
    "steps": [
        {
            "event": "view_pricing",
            "count": 1000,
            "conversionFromStart": 1.0,
            "conversionFromPrevious": 1.0,
            "dropOff": 0,
            "medianSecondsToConvert": None,
        },
        {
            "event": "signup",
            "count": 240,
            "conversionFromStart": 0.24,
            "conversionFromPrevious": 0.24,
            "dropOff": 760,
            "medianSecondsToConvert": 312.0,
        },
        {
            "event": "purchase",
            "count": 60,
            "conversionFromStart": 0.06,
            "conversionFromPrevious": 0.25,
            "dropOff": 180,
            "medianSecondsToConvert": 86400.0,
        },
    ],
    "breakdown": None,
    "breakdownValues": [],
}
RETENTION = {
    "period": "week",
    "periods": 2,
    "tz": "Europe/Berlin",
    "cohorts": [
        {
            "start": "2024-05-06",
            "size": 120,
            "periods": [
                {"period": 0, "users": 120, "rate": 1.0},
                {"period": 1, "users": 54, "rate": 0.45},
                {"period": 2, "users": 41, "rate": 0.3417},
            ],
        },
    ],
}
JOURNEY = {
    "userId": "u_42",
    "sessions": [
        {
            "index": 3,
            "start": "2026-01-06T08:00:00Z",
            "end": "2026-01-06T08:12:44Z",
            "durationSeconds": 764.0,
            "entryPage": "/pricing",
            "exitPage": "/checkout",
            "eventCount": 2,
            "events": [
                {
                    "eventId": "2f1c3a4e-8d2b-4c1a-9e0f-1a2b3c4d5e6f",
                    "event": "pageview",
                    "timestamp": "2026-01-06T08:00:00Z",
                    "url": "https://shop.example/pricing",
                    "path": "/pricing",
                    "metadata": {},
                }
            ],
        }
    ],
    "nextCursor": "MjAyNi0wMS0wNlQwODowMDowMFp8MTIz",
}
LIVE = {
    "now": "2026-01-06T08:12:44Z",
    "minutes": [{"minute": "2026-01-06T08:12:00Z", "events": 14, "activeUsers": 9}],
    "activeUsers5m": 31,
    "totalEvents": 412,
    "totalActiveUsers": 96,
}
