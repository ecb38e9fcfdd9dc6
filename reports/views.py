"""Report endpoints (SPEC §5), declared: each names its query, its report and its response shape; the
base class parses the query, runs the report through the cache and serializes it.

Who may read which app is reports.access: each view names the ``operation`` of the permission table a
personal key's role must allow.
"""

from django.http import StreamingHttpResponse
from django.utils import timezone
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiExample, OpenApiParameter, OpenApiResponse, extend_schema, extend_schema_view
from rest_framework import exceptions, viewsets
from rest_framework.authentication import SessionAuthentication
from rest_framework.decorators import action
from rest_framework.negotiation import DefaultContentNegotiation
from rest_framework.response import Response

from apikeys.authentication import ApiKeyAuthentication, PersonalKeyAuthentication
from apikeys.models import App
from reports import schema_examples as examples
from reports.access import ROLE_REQUIRED, IsSecretKeyOrStaff, ReportKeyRateThrottle, report_app
from reports.cache import cached_report
from reports.queries import active_users, export, funnels, journeys, live, rankings, retention, series, summary, visits
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
    WebStatsOutput,
    WebStatsQuery,
)

LIVE_CACHE_SECONDS = 5


class IgnoreFormatParameter(DefaultContentNegotiation):
    """Reports answer JSON only, and `format` names the export's file format, not a DRF renderer: without
    this, DRF would answer `?format=csv` with 404."""

    def select_renderer(self, request, renderers, format_suffix=None):
        return renderers[0], renderers[0].media_type


_CACHE_NOTE = (
    " Cached per app for `REPORT_CACHE_TTL` seconds (60 by default) and refreshed by any new event for the "
    "app; the `X-Cache` response header says `hit` or `miss`."
)
_COMMON_NOTE = (
    " Days are counted in the app's time zone unless `tz` is given; the range is `startDate` to `endDate` "
    "(default: the last 30 days, today included), at most 2 years."
)


class ReportViewSet(viewsets.ViewSet):
    authentication_classes = [ApiKeyAuthentication, PersonalKeyAuthentication, SessionAuthentication]
    permission_classes = [IsSecretKeyOrStaff]
    throttle_classes = [ReportKeyRateThrottle]
    content_negotiation_class = IgnoreFormatParameter
    may_not_find = True  # an appId the caller may not read: documented 404
    operation = "reports.read"  # what a personal key's role must allow (organisations.permissions)
    refusals = [ROLE_REQUIRED]  # a 403 no permission class names, for the OpenAPI schema
    endpoint: str
    query_serializer = ReportQuery
    output_serializer: type
    many = False
    cache_seconds: int | None = None  # None: REPORT_CACHE_TTL
    not_found = "This app has no events from that user."  # a report that returns None

    def report(self, app: App, query: dict):
        """The report's dataclasses for the validated query (None: 404)."""
        raise NotImplementedError

    def parse(self, request, data=None) -> tuple[App, dict]:
        """The app and the validated parameters: the query string, or ``data`` (a POST body)."""
        data = request.query_params if data is None else data
        app_query = AppQuery(data=data if isinstance(data, dict) else {})
        app_query.is_valid(raise_exception=True)
        app = report_app(request, app_query.validated_data.get("appId"), self.operation)
        query = self.query_serializer(data=data, context={"timezone": app.timezone})
        query.is_valid(raise_exception=True)
        return app, query.validated_data

    def respond(self, request, data=None, **path) -> Response:
        app, query = self.parse(request, data)
        query = {**query, **path}

        def compute():
            result = self.report(app, query)
            if result is None:
                raise exceptions.NotFound(self.not_found)
            return self.output_serializer(result, many=self.many).data

        report, hit = cached_report(
            app_id=app.id, endpoint=self.endpoint, query=query, compute=compute, timeout=self.cache_seconds
        )
        return Response(report, headers={"X-Cache": "hit" if hit else "miss"})


class QueryReportViewSet(ReportViewSet):
    """A report read with GET and a query string."""

    def list(self, request):
        return self.respond(request)


def _documented(title: str, description: str, example: dict):
    """The GET report's schema, from what the class declares: its query, its response and an example."""

    def document(view_class):
        response = (
            view_class.output_serializer(many=view_class.many) if view_class.many else view_class.output_serializer
        )
        return extend_schema_view(
            list=extend_schema(
                summary=title,
                description=description,
                parameters=[view_class.query_serializer],
                responses={200: response},
                examples=[OpenApiExample(title, value=example, response_only=True)],
            )
        )(view_class)

    return document


@_documented(
    "Event summary",
    "Events and unique users in the range, with events per device type, per event name (when no `event` is "
    "given), and the top referrers, browsers and operating systems." + _COMMON_NOTE + _CACHE_NOTE,
    examples.EVENT_SUMMARY,
)
class EventSummaryViewSet(QueryReportViewSet):
    endpoint = "event-summary"
    output_serializer = EventSummaryOutput

    def report(self, app, query):
        return summary.event_summary(app_id=app.id, window=query["window"], event=query.get("event"))


@_documented(
    "One user's statistics",
    "Everything the app has recorded for one user, over all time: totals, first and last event, devices, the "
    "latest browser, OS and IP address, and the 10 latest events. A user is a person, as in every report: "
    "every id that identify and alias linked to the given `userId` (or `anonymousId`), and the person's "
    "traits. 404 for a user the app has never seen." + _CACHE_NOTE,
    examples.USER_STATS,
)
class UserStatsViewSet(QueryReportViewSet):
    endpoint = "user-stats"
    query_serializer = UserStatsQuery
    output_serializer = UserStatsOutput

    def report(self, app, query):
        return summary.user_stats(app_id=app.id, distinct_id=query["userId"])


@_documented(
    "Daily statistics",
    "Events and unique users per day, every day of the range, days without events as zeros."
    + _COMMON_NOTE
    + _CACHE_NOTE,
    examples.DAY_STAT,
)
class DailyStatsViewSet(QueryReportViewSet):
    endpoint = "daily-stats"
    output_serializer = DayStatOutput
    many = True

    def report(self, app, query):
        return series.daily_stats(app_id=app.id, window=query["window"], event=query.get("event"))


@_documented(
    "Time series",
    "Events and unique users per hour, day, week (from Monday) or month, every bucket of the range, empty "
    "ones as zeros. `t` is the bucket's start in the report zone; across a daylight-saving change the "
    "repeated hour is two buckets." + _COMMON_NOTE + _CACHE_NOTE,
    examples.TIMESERIES,
)
class TimeseriesViewSet(QueryReportViewSet):
    endpoint = "timeseries"
    query_serializer = TimeseriesQuery
    output_serializer = TimeseriesOutput

    def report(self, app, query):
        return series.timeseries(
            app_id=app.id, window=query["window"], event=query.get("event"), interval=query["interval"]
        )


@_documented(
    "Top pages",
    "URL paths by events, with unique users; events without a URL are left out." + _COMMON_NOTE + _CACHE_NOTE,
    examples.TOP_PAGE,
)
class TopPagesViewSet(QueryReportViewSet):
    endpoint = "top-pages"
    query_serializer = LimitedQuery
    output_serializer = ValueUsersOutput
    many = True

    def report(self, app, query):
        return rankings.top_pages(app_id=app.id, window=query["window"], event=query.get("event"), limit=query["limit"])


@_documented(
    "Top referrers",
    "Referrer hosts by events, with unique users; direct visits (no referrer) are left out."
    + _COMMON_NOTE
    + _CACHE_NOTE,
    examples.TOP_REFERRER,
)
class TopReferrersViewSet(QueryReportViewSet):
    endpoint = "top-referrers"
    query_serializer = LimitedQuery
    output_serializer = ValueUsersOutput
    many = True

    def report(self, app, query):
        return rankings.top_referrers(
            app_id=app.id, window=query["window"], event=query.get("event"), limit=query["limit"]
        )


@_documented(
    "Breakdown",
    "Events and unique users per value of a property: a column (`by=browser`) or a top-level metadata key "
    "(`by=metadata.plan`; numbers and booleans as their JSON text). `value` null counts events where the "
    "property is empty or missing." + _COMMON_NOTE + _CACHE_NOTE,
    examples.BREAKDOWN,
)
class BreakdownViewSet(QueryReportViewSet):
    endpoint = "breakdown"
    query_serializer = BreakdownQuery
    output_serializer = BreakdownOutput

    def report(self, app, query):
        return rankings.breakdown(
            app_id=app.id, window=query["window"], event=query.get("event"), by=query["by"], limit=query["limit"]
        )


@_documented(
    "Active users",
    "Daily, weekly and monthly active users: distinct users in the 1, 7 and 30 days ending with the range "
    "(these look back before `startDate`), and users active on each day of the range." + _COMMON_NOTE + _CACHE_NOTE,
    examples.ACTIVE_USERS,
)
class ActiveUsersViewSet(QueryReportViewSet):
    endpoint = "active-users"
    output_serializer = ActiveUsersOutput

    def report(self, app, query):
        return active_users.active_users(app_id=app.id, window=query["window"], event=query.get("event"))


@_documented(
    "Web statistics",
    "Visits, visitors, page views (`pageview` events), views per visit, bounce rate, mean visit duration, and "
    "the top entry and exit pages. A visit is one person's events with the same session id (the tracker's, "
    "an SDK's `sessionId`); events without one make a visit until more than 30 minutes pass without one. A "
    "bounce is a visit of one page view and no other event; a visit's duration runs from its first event to "
    "its last. Entry and exit pages are a visit's first and last page view's path; an exit page's exit rate "
    "is its exits over its page views. Only the range's events count." + _COMMON_NOTE + _CACHE_NOTE,
    examples.WEB_STATS,
)
class WebStatsViewSet(QueryReportViewSet):
    endpoint = "web-stats"
    query_serializer = WebStatsQuery
    output_serializer = WebStatsOutput

    def report(self, app, query):
        return visits.web_stats(app_id=app.id, window=query["window"], limit=query["limit"])


_EXPORT_RESPONSE = (
    "`format=csv` (`text/csv`): a header row, then one row per event, metadata as JSON text. "
    "`format=ndjson` (`application/x-ndjson`): one JSON object per line with the same fields. "
    "Sent as an attachment, in chunks as the rows are read."
)


class ExportViewSet(ReportViewSet):
    """Not a cached report: the rows stream straight from the store to the client."""

    endpoint = "export"
    operation = "export"
    query_serializer = ExportQuery

    @extend_schema(
        summary="Export events",
        description="The app's raw events in the range, oldest first, streamed as it is read (never held in "
        "memory). Not cached." + _COMMON_NOTE,
        parameters=[ExportQuery],
        responses={
            (200, "text/csv"): OpenApiResponse(
                OpenApiTypes.STR,
                description=_EXPORT_RESPONSE,
                examples=[OpenApiExample("CSV", value=examples.EXPORT_CSV)],
            ),
            (200, "application/x-ndjson"): OpenApiResponse(
                OpenApiTypes.STR,
                description=_EXPORT_RESPONSE,
                examples=[OpenApiExample("NDJSON", value=examples.EXPORT_NDJSON)],
            ),
        },
    )
    def list(self, request):
        app, query = self.parse(request)
        window, file_format = query["window"], query["format"]
        rows = export.events_export(app_id=app.id, window=window, event=query.get("event"))
        write = export.csv_lines if file_format == "csv" else export.ndjson_lines
        response = StreamingHttpResponse(write(export.HEADER, rows), content_type=EXPORT_FORMATS[file_format])
        filename = f"events-{window.first_day}-{window.last_day}.{file_format}"
        response["Content-Disposition"] = f'attachment; filename="{filename}"'
        return response


# Behavioural analytics (issue #5) -----------------------------------------------------------------


class FunnelViewSet(ReportViewSet):
    endpoint = "funnels"
    query_serializer = FunnelInput
    output_serializer = FunnelOutput

    def report(self, app, query):
        return funnels.funnel(
            app_id=app.id,
            window=query["window"],
            steps=query["steps"],
            window_seconds=query["windowSeconds"],
            breakdown=query.get("breakdown"),
        )

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
            OpenApiExample("Sign-up funnel", value=examples.FUNNEL_REQUEST, request_only=True),
            OpenApiExample("Result", value=examples.FUNNEL, response_only=True),
        ],
    )
    def create(self, request):
        return self.respond(request, data=request.data)


@_documented(
    "Retention cohorts",
    "Users grouped by the period of their first-ever `cohortEvent`, one cohort for every period the range "
    "touches (the first is the whole period containing `startDate`, even when the range starts mid-week or "
    "mid-month), and for periods 0..N after it how many did a `returnEvent`. Period 0 is the cohort's own "
    "period. Periods that have not begun yet are absent, not zero. Weeks start on Monday; periods are "
    "counted in the app's time zone (or `tz`)." + _CACHE_NOTE,
    examples.RETENTION,
)
class RetentionViewSet(QueryReportViewSet):
    endpoint = "retention"
    query_serializer = RetentionQuery
    output_serializer = RetentionOutput

    def report(self, app, query):
        return retention.retention(
            app_id=app.id,
            window=query["window"],
            cohort_event=query.get("cohortEvent"),
            return_event=query.get("returnEvent"),
            period=query["period"],
            periods=query["periods"],
        )


class JourneyViewSet(ReportViewSet):
    """``/api/analytics/users/{userId}/journey``: the user id is the path's, never another app's."""

    endpoint = "journey"
    query_serializer = JourneyQuery
    output_serializer = JourneyOutput
    lookup_url_kwarg = "userId"
    lookup_value_regex = r"[^/]+"

    def report(self, app, query):
        return journeys.journey(
            app_id=app.id, distinct_id=query["userId"], cursor=query.get("cursor"), limit=query["limit"]
        )

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
        examples=[OpenApiExample("One session", value=examples.JOURNEY, response_only=True)],
    )
    @action(detail=True, methods=["get"])
    def journey(self, request, **path):
        user_id = path[self.lookup_url_kwarg]
        if "\x00" in user_id:  # %00 in the path: no stored id can hold one, and the database refuses it
            raise exceptions.ValidationError({"userId": ["Null characters are not allowed."]})
        return self.respond(request, userId=user_id)


@_documented(
    "Live activity",
    "Events and active users per minute for the last 30 minutes (the last minute is partial), and the users "
    f"active in the last 5 minutes. Cached for at most {LIVE_CACHE_SECONDS} seconds.",
    examples.LIVE,
)
class LiveViewSet(QueryReportViewSet):
    endpoint = "live"
    query_serializer = AppQuery
    output_serializer = LiveOutput
    cache_seconds = LIVE_CACHE_SECONDS

    def report(self, app, query):
        return live.live(app_id=app.id, now=timezone.now())
