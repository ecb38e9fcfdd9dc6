"""Report endpoints (SPEC §5): parse the query, call one selector through the cache, serialize.

A secret key reads its own app; a staff session (the dashboard) names the app with ``appId`` and sees
only the apps it may see in the admin. Publishable keys get 403.
"""

from django.http import StreamingHttpResponse
from django.utils import timezone
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiExample, OpenApiParameter, OpenApiResponse, extend_schema
from rest_framework import exceptions, viewsets
from rest_framework.authentication import SessionAuthentication
from rest_framework.decorators import action
from rest_framework.negotiation import DefaultContentNegotiation
from rest_framework.permissions import BasePermission
from rest_framework.response import Response

from apikeys.authentication import ApiKeyAuthentication
from apikeys.models import ApiKey, App
from apikeys.selectors import apps_visible_to
from apikeys.throttling import ReportRateThrottle
from reports import behaviour, selectors
from reports.cache import cached_report
from reports.export import csv_lines, ndjson_lines
from reports.serializers import (
    EXPORT_FORMATS,
    USER_ID_HELP,
    ActiveUsersOutput,
    AppQuery,
    BreakdownOutput,
    BreakdownQuery,
    DayStatOutput,
    EventSummaryOutput,
    ExportQuery,
    FunnelInput,
    FunnelOutput,
    JourneyOutput,
    JourneyQuery,
    LimitedQuery,
    LiveOutput,
    ReportQuery,
    RetentionOutput,
    RetentionQuery,
    TimeseriesOutput,
    TimeseriesQuery,
    UserStatsOutput,
    UserStatsQuery,
    ValueUsersOutput,
    cache_params,
)

LIVE_CACHE_SECONDS = 5


class IgnoreFormatParameter(DefaultContentNegotiation):
    """Reports answer JSON only, and `format` names the export's file format, not a DRF renderer: without
    this, DRF would answer `?format=csv` with 404."""

    def select_renderer(self, request, renderers, format_suffix=None):
        return renderers[0], renderers[0].media_type


class IsSecretKeyOrStaff(BasePermission):
    """A secret key, or a staff session holding the admin's own permission to read events.

    Reports and the export are the events themselves (the export carries IP addresses and user agents), so
    a staff session needs what the admin asks before it lists them: `events.view_event`. The dashboard
    applies the same rule (reports/dashboard.py).
    """

    message = "Reports need a secret (sk_) key or a staff session; publishable (pk_) keys can only send events."
    code = "secret_key_required"
    staff_permission = "events.view_event"

    def has_permission(self, request, view) -> bool:
        if isinstance(request.auth, ApiKey):
            return request.auth.is_secret
        user = request.user
        if not (user and user.is_authenticated and user.is_active and user.is_staff):
            return False
        if not user.has_perm(self.staff_permission):
            raise exceptions.PermissionDenied(
                f"Reading reports needs the {self.staff_permission} permission; ask an administrator.",
                code="permission_required",
            )
        return True


class ReportKeyRateThrottle(ReportRateThrottle):
    """REPORT_RATE per key. Staff sessions carry no key and are not counted."""

    def allow_request(self, request, view) -> bool:
        if not isinstance(request.auth, ApiKey):
            return True
        return super().allow_request(request, view)


def report_app(request, app_id) -> App:
    if isinstance(request.auth, ApiKey):
        # Another app's id is answered like an id that does not exist: keys cannot probe for apps.
        if app_id is not None and app_id != request.auth.app_id:
            raise exceptions.NotFound("No such app.")
        return request.auth.app
    if app_id is None:
        raise exceptions.ValidationError({"appId": ["Required with a staff session: the app to report on."]})
    app = apps_visible_to(user=request.user).filter(pk=app_id).first()
    if app is None:
        raise exceptions.NotFound("No such app.")
    return app


_CACHE_NOTE = (
    " Cached per app for `REPORT_CACHE_TTL` seconds (60 by default) and refreshed by any new event for the "
    "app; the `X-Cache` response header says `hit` or `miss`."
)
_COMMON_NOTE = (
    " Days are counted in the app's time zone unless `tz` is given; the range is `startDate` to `endDate` "
    "(default: the last 30 days, today included), at most 2 years."
)


class ReportViewSet(viewsets.ViewSet):
    authentication_classes = [ApiKeyAuthentication, SessionAuthentication]
    permission_classes = [IsSecretKeyOrStaff]
    throttle_classes = [ReportKeyRateThrottle]
    content_negotiation_class = IgnoreFormatParameter
    may_not_find = True  # an appId the caller may not read: documented 404
    endpoint: str
    query_serializer = ReportQuery

    def parse(self, request, data=None) -> tuple[App, dict]:
        """The app and the validated parameters: the query string, or ``data`` (a POST body)."""
        data = request.query_params if data is None else data
        app_query = AppQuery(data=data if isinstance(data, dict) else {})
        app_query.is_valid(raise_exception=True)
        app = report_app(request, app_query.validated_data.get("appId"))
        query = self.query_serializer(data=data, context={"timezone": app.timezone})
        query.is_valid(raise_exception=True)
        return app, query.validated_data

    def cached(self, app: App, query: dict, compute, timeout: int | None = None) -> Response:
        data, hit = cached_report(
            app_id=app.id, endpoint=self.endpoint, params=cache_params(query), compute=compute, timeout=timeout
        )
        return Response(data, headers={"X-Cache": "hit" if hit else "miss"})


class EventSummaryViewSet(ReportViewSet):
    endpoint = "event-summary"

    @extend_schema(
        summary="Event summary",
        description="Events and unique users in the range, with events per device type, per event name "
        "(when no `event` is given), and the top referrers, browsers and operating systems."
        + _COMMON_NOTE
        + _CACHE_NOTE,
        parameters=[ReportQuery],
        responses={200: EventSummaryOutput},
        examples=[
            OpenApiExample(
                "Summary",
                value={
                    "event": None,
                    "count": 1420,
                    "uniqueUsers": 312,
                    "deviceData": {"desktop": 910, "mobile": 470, "tablet": 40},
                    "eventBreakdown": [{"event": "page_view", "count": 1200}, {"event": "signup", "count": 220}],
                    "topReferrers": [{"value": "www.google.com", "count": 380}],
                    "browsers": [{"value": "Chrome", "count": 800}, {"value": "Mobile Safari", "count": 420}],
                    "os": [{"value": "Windows", "count": 610}, {"value": "iOS", "count": 430}],
                },
                response_only=True,
            )
        ],
    )
    def list(self, request):
        app, query = self.parse(request)
        return self.cached(
            app,
            query,
            lambda: EventSummaryOutput(
                selectors.event_summary(app_id=app.id, window=query["window"], event=query.get("event"))
            ).data,
        )


class UserStatsViewSet(ReportViewSet):
    endpoint = "user-stats"
    query_serializer = UserStatsQuery

    @extend_schema(
        summary="One user's statistics",
        description="Everything the app has recorded for one user, over all time: totals, first and last "
        "event, devices, the latest browser, OS and IP address, and the 10 latest events. A user is a "
        "`distinctId`, as in every report: the `userId`, or the `anonymousId` of a visitor who never sent "
        "one. 404 for a user the app has never seen." + _CACHE_NOTE,
        parameters=[UserStatsQuery],
        responses={200: UserStatsOutput},
        examples=[
            OpenApiExample(
                "A user",
                value={
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
                },
                response_only=True,
            )
        ],
    )
    def list(self, request):
        app, query = self.parse(request)
        return self.cached(app, query, lambda: _user_stats(app, query["userId"]))


def _user_stats(app: App, user_id: str) -> dict:
    stats = selectors.user_stats(app_id=app.id, distinct_id=user_id)
    if stats is None:
        raise exceptions.NotFound("This app has no events from that user.")
    return UserStatsOutput(stats).data


class DailyStatsViewSet(ReportViewSet):
    endpoint = "daily-stats"

    @extend_schema(
        summary="Daily statistics",
        description="Events and unique users per day, every day of the range, days without events as zeros."
        + _COMMON_NOTE
        + _CACHE_NOTE,
        parameters=[ReportQuery],
        responses={200: DayStatOutput(many=True)},
        examples=[
            OpenApiExample("A day", value={"date": "2024-05-29", "count": 130, "uniqueUsers": 41}, response_only=True)
        ],
    )
    def list(self, request):
        app, query = self.parse(request)
        return self.cached(
            app,
            query,
            lambda: DayStatOutput(
                selectors.daily_stats(app_id=app.id, window=query["window"], event=query.get("event")), many=True
            ).data,
        )


class TimeseriesViewSet(ReportViewSet):
    endpoint = "timeseries"
    query_serializer = TimeseriesQuery

    @extend_schema(
        summary="Time series",
        description="Events and unique users per hour, day, week (from Monday) or month, every bucket of the "
        "range, empty ones as zeros. `t` is the bucket's start in the report zone; across a daylight-saving "
        "change the repeated hour is two buckets." + _COMMON_NOTE + _CACHE_NOTE,
        parameters=[TimeseriesQuery],
        responses={200: TimeseriesOutput},
        examples=[
            OpenApiExample(
                "Weekly",
                value={
                    "interval": "week",
                    "points": [
                        {"t": "2024-05-20T00:00:00+02:00", "count": 880, "uniqueUsers": 190},
                        {"t": "2024-05-27T00:00:00+02:00", "count": 910, "uniqueUsers": 201},
                    ],
                },
                response_only=True,
            )
        ],
    )
    def list(self, request):
        app, query = self.parse(request)
        return self.cached(
            app,
            query,
            lambda: TimeseriesOutput(
                selectors.timeseries(
                    app_id=app.id, window=query["window"], event=query.get("event"), interval=query["interval"]
                )
            ).data,
        )


# The example of a many=True response is one item: drf-spectacular lists it.
_RANKED_EXAMPLE = {"value": "/pricing", "count": 420, "uniqueUsers": 160}


class TopPagesViewSet(ReportViewSet):
    endpoint = "top-pages"
    query_serializer = LimitedQuery

    @extend_schema(
        summary="Top pages",
        description="URL paths by events, with unique users; events without a URL are left out."
        + _COMMON_NOTE
        + _CACHE_NOTE,
        parameters=[LimitedQuery],
        responses={200: ValueUsersOutput(many=True)},
        examples=[OpenApiExample("Pages", value=_RANKED_EXAMPLE, response_only=True)],
    )
    def list(self, request):
        app, query = self.parse(request)
        return self.cached(
            app,
            query,
            lambda: ValueUsersOutput(
                selectors.top_pages(
                    app_id=app.id, window=query["window"], event=query.get("event"), limit=query["limit"]
                ),
                many=True,
            ).data,
        )


class TopReferrersViewSet(ReportViewSet):
    endpoint = "top-referrers"
    query_serializer = LimitedQuery

    @extend_schema(
        summary="Top referrers",
        description="Referrer hosts by events, with unique users; direct visits (no referrer) are left out."
        + _COMMON_NOTE
        + _CACHE_NOTE,
        parameters=[LimitedQuery],
        responses={200: ValueUsersOutput(many=True)},
        examples=[
            OpenApiExample(
                "Referrers",
                value={"value": "www.google.com", "count": 380, "uniqueUsers": 201},
                response_only=True,
            )
        ],
    )
    def list(self, request):
        app, query = self.parse(request)
        return self.cached(
            app,
            query,
            lambda: ValueUsersOutput(
                selectors.top_referrers(
                    app_id=app.id, window=query["window"], event=query.get("event"), limit=query["limit"]
                ),
                many=True,
            ).data,
        )


class BreakdownViewSet(ReportViewSet):
    endpoint = "breakdown"
    query_serializer = BreakdownQuery

    @extend_schema(
        summary="Breakdown",
        description="Events and unique users per value of a property: a column (`by=browser`) or a top-level "
        "metadata key (`by=metadata.plan`; numbers and booleans as their JSON text). `value` null counts "
        "events where the property is empty or missing." + _COMMON_NOTE + _CACHE_NOTE,
        parameters=[BreakdownQuery],
        responses={200: BreakdownOutput},
        examples=[
            OpenApiExample(
                "By browser",
                value={
                    "by": "browser",
                    "values": [
                        {"value": "Chrome", "count": 800, "uniqueUsers": 170},
                        {"value": None, "count": 12, "uniqueUsers": 9},
                    ],
                },
                response_only=True,
            )
        ],
    )
    def list(self, request):
        app, query = self.parse(request)
        return self.cached(
            app,
            query,
            lambda: BreakdownOutput(
                selectors.breakdown(
                    app_id=app.id,
                    window=query["window"],
                    event=query.get("event"),
                    by=query["by"],
                    limit=query["limit"],
                )
            ).data,
        )


class ActiveUsersViewSet(ReportViewSet):
    endpoint = "active-users"

    @extend_schema(
        summary="Active users",
        description="Daily, weekly and monthly active users: distinct users in the 1, 7 and 30 days ending "
        "with the range (these look back before `startDate`), and users active on each day of the range."
        + _COMMON_NOTE
        + _CACHE_NOTE,
        parameters=[ReportQuery],
        responses={200: ActiveUsersOutput},
        examples=[
            OpenApiExample(
                "Active users",
                value={
                    "dau": 41,
                    "wau": 190,
                    "mau": 612,
                    "asOf": "2024-05-31",
                    "series": [{"date": "2024-05-30", "activeUsers": 38}, {"date": "2024-05-31", "activeUsers": 41}],
                },
                response_only=True,
            )
        ],
    )
    def list(self, request):
        app, query = self.parse(request)
        return self.cached(
            app,
            query,
            lambda: ActiveUsersOutput(
                selectors.active_users(app_id=app.id, window=query["window"], event=query.get("event"))
            ).data,
        )


_EXPORT_DESCRIPTION = "The app's raw events in the range, oldest first, streamed as it is read (never held in memory)."


_EXPORT_RESPONSE = (
    "`format=csv` (`text/csv`): a header row, then one row per event, metadata as JSON text. "
    "`format=ndjson` (`application/x-ndjson`): one JSON object per line with the same fields. "
    "Sent as an attachment, in chunks as the rows are read."
)


class ExportViewSet(ReportViewSet):
    endpoint = "export"
    query_serializer = ExportQuery

    @extend_schema(
        summary="Export events",
        description=_EXPORT_DESCRIPTION + " Not cached." + _COMMON_NOTE,
        parameters=[ExportQuery],
        responses={
            (200, "text/csv"): OpenApiResponse(
                OpenApiTypes.STR,
                description=_EXPORT_RESPONSE,
                examples=[
                    OpenApiExample(
                        "CSV",
                        value="eventId,event,timestamp,...,metadata\r\n"
                        '2f1c3a4e-8d2b-4c1a-9e0f-1a2b3c4d5e6f,signup,2024-05-30T19:44:10+00:00,...,"{""plan"":""pro""}"\r\n',
                    )
                ],
            ),
            (200, "application/x-ndjson"): OpenApiResponse(
                OpenApiTypes.STR,
                description=_EXPORT_RESPONSE,
                examples=[
                    OpenApiExample(
                        "NDJSON",
                        value='{"eventId":"2f1c3a4e-8d2b-4c1a-9e0f-1a2b3c4d5e6f","event":"signup",'
                        '"timestamp":"2024-05-30T19:44:10+00:00","metadata":{"plan":"pro"}}\n',
                    )
                ],
            ),
        },
    )
    def list(self, request):
        app, query = self.parse(request)
        window = query["window"]
        rows = selectors.events_export(app_id=app.id, window=window, event=query.get("event"))
        header = [name for name, _ in selectors.EXPORT_COLUMNS]
        write = csv_lines if query["format"] == "csv" else ndjson_lines
        response = StreamingHttpResponse(write(header, rows), content_type=EXPORT_FORMATS[query["format"]])
        filename = f"events-{window.first_day}-{window.last_day}.{query['format']}"
        response["Content-Disposition"] = f'attachment; filename="{filename}"'
        return response


# Behavioural analytics (issue #5) -----------------------------------------------------------------


class FunnelViewSet(ReportViewSet):
    endpoint = "funnels"
    query_serializer = FunnelInput

    @extend_schema(
        summary="Funnel",
        description="How many users go through the steps in order (PostHog's ordered funnel). A user enters "
        "at their first step-1 event in the range; each next step is their first matching event after the "
        "previous one, within `windowSeconds` of entering and before the range ends. Per step: users, "
        "conversion from the start and from the previous step, drop-off, and the median seconds from the "
        "previous step. Filters compare as text; `metadata.<key>` reads the event's metadata."
        + _COMMON_NOTE
        + _CACHE_NOTE,
        request=FunnelInput,
        responses={200: FunnelOutput},
        examples=[
            OpenApiExample(
                "Sign-up funnel",
                value={
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
                },
                request_only=True,
            ),
            OpenApiExample(
                "Result",
                value={
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
                },
                response_only=True,
            ),
        ],
    )
    def create(self, request):
        app, query = self.parse(request, data=request.data)
        window = query["window"]
        steps = [
            behaviour.FunnelStep(
                event=step["event"],
                filters=[behaviour.FunnelFilter(f["property"], f["operator"], f["value"]) for f in step["filters"]],
            )
            for step in query["steps"]
        ]
        return self.cached(
            app,
            query,
            lambda: FunnelOutput(
                behaviour.funnel(
                    app=app,
                    steps=steps,
                    start=window.start,
                    end=window.end,
                    window_seconds=query["windowSeconds"],
                    breakdown=query.get("breakdown"),
                )
            ).data,
        )


class RetentionViewSet(ReportViewSet):
    endpoint = "retention"
    query_serializer = RetentionQuery

    @extend_schema(
        summary="Retention cohorts",
        description="Users grouped by the period of their first-ever `cohortEvent`, one cohort for every period "
        "the range touches (the first is the whole period containing `startDate`, even when the range starts "
        "mid-week or mid-month), and for periods 0..N after it how many did a `returnEvent`. Period 0 is the "
        "cohort's own period. Periods that have not begun yet are absent, not zero. Weeks start on Monday; "
        "periods are counted in the app's time zone (or `tz`)." + _CACHE_NOTE,
        parameters=[RetentionQuery],
        responses={200: RetentionOutput},
        examples=[
            OpenApiExample(
                "Weekly retention",
                value={
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
                },
                response_only=True,
            )
        ],
    )
    def list(self, request):
        app, query = self.parse(request)
        window = query["window"]
        return self.cached(
            app,
            query,
            lambda: RetentionOutput(
                behaviour.retention(
                    app=app,
                    cohort_event=query.get("cohortEvent"),
                    return_event=query.get("returnEvent"),
                    period=query["period"],
                    periods=query["periods"],
                    start=window.start,
                    end=window.end,
                    tz=window.tz.key,
                )
            ).data,
        )


class JourneyViewSet(ReportViewSet):
    """``/api/analytics/users/{userId}/journey``: the user id is the path's, never another app's."""

    endpoint = "journey"
    query_serializer = JourneyQuery
    lookup_url_kwarg = "userId"
    lookup_value_regex = r"[^/]+"

    @extend_schema(
        summary="A user's journey",
        description="The user's events in order, grouped in sessions (more than 30 minutes without an event "
        "ends one), one page at a time: pass `nextCursor` back as `cursor` for the next page. Sessions are "
        "numbered over the user's whole history and their figures cover the whole session. 404 for a user "
        "this app has never seen." + _CACHE_NOTE,
        parameters=[
            JourneyQuery,
            OpenApiParameter("userId", str, OpenApiParameter.PATH, description=USER_ID_HELP, pattern=r"^[^/]+$"),
        ],
        responses={200: JourneyOutput},
        examples=[
            OpenApiExample(
                "One session",
                value={
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
                },
                response_only=True,
            )
        ],
    )
    @action(detail=True, methods=["get"])
    def journey(self, request, **path):
        user_id = path[self.lookup_url_kwarg]
        if "\x00" in user_id:  # %00 in the path: no stored id can hold one, and the database refuses it
            raise exceptions.ValidationError({"userId": ["Null characters are not allowed."]})
        app, query = self.parse(request)
        return self.cached(app, {**query, "userId": user_id}, lambda: _journey(app, user_id, query))


def _journey(app: App, user_id: str, query: dict) -> dict:
    try:
        result = behaviour.journey(app=app, distinct_id=user_id, cursor=query.get("cursor"), limit=query["limit"])
    except ValueError:
        raise exceptions.ValidationError({"cursor": ["Not a cursor this endpoint returned."]}) from None
    if result is None:
        raise exceptions.NotFound("This app has no events from that user.")
    return JourneyOutput(result).data


class LiveViewSet(ReportViewSet):
    endpoint = "live"
    query_serializer = AppQuery

    @extend_schema(
        summary="Live activity",
        description="Events and active users per minute for the last 30 minutes (the last minute is partial), "
        f"and the users active in the last 5 minutes. Cached for at most {LIVE_CACHE_SECONDS} seconds.",
        parameters=[AppQuery],
        responses={200: LiveOutput},
        examples=[
            OpenApiExample(
                "Live",
                value={
                    "now": "2026-01-06T08:12:44Z",
                    "minutes": [{"minute": "2026-01-06T08:12:00Z", "events": 14, "activeUsers": 9}],
                    "activeUsers5m": 31,
                    "totalEvents": 412,
                    "totalActiveUsers": 96,
                },
                response_only=True,
            )
        ],
    )
    def list(self, request):
        app, query = self.parse(request)
        return self.cached(
            app, query, lambda: LiveOutput(behaviour.live(app=app, now=timezone.now())).data, timeout=LIVE_CACHE_SECONDS
        )
