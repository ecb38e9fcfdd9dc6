"""Query-string parsing and response shapes of the reports (SPEC §5). JSON keys are camelCase.

Query serializers reject bad values with the parameter named, and ignore parameters they do not know:
query strings commonly carry extras (tracking tags, cache busters).
"""

import re
from datetime import date, datetime
from zoneinfo import ZoneInfo

from django.core.exceptions import ValidationError as DjangoValidationError
from django.utils import timezone
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import extend_schema_field
from rest_framework import serializers

from analytics_project.serializers import StrictSerializer
from apikeys.validators import validate_timezone
from reports.calendar import PERIODS
from reports.params import MAX_HOURLY_SPAN, WindowError, report_window
from reports.properties import METADATA_KEY_RULE, PROPERTIES, UnknownProperty, canonical
from reports.queries.funnels import MAX_IN_VALUES, OPERATORS, FunnelFilter, FunnelStep
from reports.queries.journeys import MAX_JOURNEY_LIMIT, decode_cursor
from reports.queries.retention import MAX_PERIODS
from reports.queries.series import INTERVALS

MAX_LIMIT = 100
DEFAULT_LIMIT = 10
_OFFSET_AFTER_SPACE = re.compile(r" (\d{2}:?\d{2})$")


@extend_schema_field(OpenApiTypes.STR)
class DateOrDateTimeField(serializers.Field):
    default_error_messages = {
        "invalid": "Enter a date (2024-05-31) or an ISO 8601 date-time (2024-05-31T13:00:00Z).",
    }

    def to_internal_value(self, data) -> date | datetime:
        if not isinstance(data, str):
            self.fail("invalid")
        text = data.strip()
        if "T" in text:
            # An unencoded "+02:00" arrives as " 02:00": a query string's "+" means a space.
            text = _OFFSET_AFTER_SPACE.sub(r"+\1", text)
        try:
            return date.fromisoformat(text) if len(text) == 10 else datetime.fromisoformat(text)
        except ValueError:
            self.fail("invalid")

    def to_representation(self, value) -> str:
        return value.isoformat()


class AppQuery(serializers.Serializer):
    appId = serializers.UUIDField(
        required=False,
        help_text="The app to report on. Required with a personal (`uk_`) key, which reads the apps of its "
        "person's organisations (another app is a 404), and for staff sessions (the dashboard); with an app's "
        "key, only the key's own app may be named.",
    )


USER_ID_HELP = (
    "The user's `distinctId` (the export's column of that name): the `userId` their events were sent with, or "
    "the `anonymousId` of a visitor who never sent one. User statistics and journeys take the same id."
)


class UserStatsQuery(AppQuery):
    userId = serializers.CharField(max_length=200, help_text=USER_ID_HELP)


class ReportQuery(AppQuery):
    """The common parameters. ``context["timezone"]`` is the app's zone, the default for ``tz``."""

    startDate = DateOrDateTimeField(
        required=False,
        help_text="First day (`2024-05-01`, from local midnight) or instant (ISO 8601; no offset means the "
        "report zone). Default: 29 days before endDate's day, for 30 days in all.",
    )
    endDate = DateOrDateTimeField(
        required=False,
        help_text="Last day, included whole (`2024-05-31`), or an exclusive end instant (ISO 8601). "
        "Default: today in the report zone. The range may cover at most 2 years.",
    )
    event = serializers.CharField(required=False, max_length=200, help_text="Count only events with this name.")
    tz = serializers.CharField(
        required=False,
        max_length=64,
        help_text="IANA time zone days are counted in, e.g. `Europe/Berlin`. Default: the app's time zone.",
    )

    def validate_tz(self, value: str) -> str:
        try:
            validate_timezone(value)
        except DjangoValidationError as exc:
            raise serializers.ValidationError(exc.messages) from None
        return value

    def validate(self, attrs: dict) -> dict:
        tz = ZoneInfo(attrs.get("tz") or self.context["timezone"])
        try:
            attrs["window"] = report_window(
                start=attrs.get("startDate"), end=attrs.get("endDate"), tz=tz, now=timezone.now()
            )
        except WindowError as exc:
            raise serializers.ValidationError({exc.field: [exc.message]}) from None
        return attrs


class LimitedQuery(ReportQuery):
    limit = serializers.IntegerField(
        required=False,
        default=DEFAULT_LIMIT,
        min_value=1,
        max_value=MAX_LIMIT,
        help_text=f"How many values, 1 to {MAX_LIMIT}.",
    )


class WebStatsQuery(LimitedQuery):
    event = None  # every event makes the visits; page views are `pageview` events
    limit = serializers.IntegerField(
        required=False,
        default=DEFAULT_LIMIT,
        min_value=1,
        max_value=MAX_LIMIT,
        help_text=f"How many entry and exit pages, 1 to {MAX_LIMIT} each.",
    )


class TimeseriesQuery(ReportQuery):
    interval = serializers.ChoiceField(
        choices=INTERVALS,
        required=False,
        default="day",
        help_text="Bucket size. Weeks start on Monday. Hourly series cover at most 31 days.",
    )

    def validate(self, attrs: dict) -> dict:
        attrs = super().validate(attrs)
        if attrs["interval"] == "hour" and attrs["window"].wall_clock_span() > MAX_HOURLY_SPAN:
            raise serializers.ValidationError({"interval": ["An hourly series may cover at most 31 days."]})
        return attrs


_PROPERTY_HELP = (
    f"{', '.join(f'`{name}`' for name in PROPERTIES)}, `metadata.<key>` for a top-level metadata key, or "
    f"`person.<key>` for a property of the event's person ({METADATA_KEY_RULE})."
)


class PropertyField(serializers.CharField):
    """A property reports group or filter by (reports.properties), read as its canonical name."""

    def __init__(self, **kwargs):
        super().__init__(max_length=120, **kwargs)

    def to_internal_value(self, data) -> str:
        try:
            return canonical(super().to_internal_value(data))
        except UnknownProperty as exc:
            raise serializers.ValidationError(str(exc)) from None


class BreakdownQuery(LimitedQuery):
    by = PropertyField(help_text=f"What to group by: {_PROPERTY_HELP}")


EXPORT_FORMATS = {"csv": "text/csv; charset=utf-8", "ndjson": "application/x-ndjson"}


class ExportQuery(ReportQuery):
    format = serializers.ChoiceField(
        choices=list(EXPORT_FORMATS),
        required=False,
        default="csv",
        help_text="`csv` (a header row, metadata as JSON text) or `ndjson` (one JSON object per line).",
    )


# Responses ---------------------------------------------------------------------------------------


class LocalDateTimeField(serializers.DateTimeField):
    """An aware datetime written with its own offset (the report zone's), not converted to UTC."""

    def to_representation(self, value: datetime) -> str:
        return value.isoformat()


class ValueCountOutput(serializers.Serializer):
    value = serializers.CharField(allow_null=True, help_text="null: not known (empty).")
    count = serializers.IntegerField(help_text="Events.")


class ValueUsersOutput(ValueCountOutput):
    uniqueUsers = serializers.IntegerField(source="unique_users", help_text="Distinct `distinctId`s.")


class EventCountOutput(serializers.Serializer):
    event = serializers.CharField(source="value")
    count = serializers.IntegerField()


class EventSummaryOutput(serializers.Serializer):
    event = serializers.CharField(allow_null=True, help_text="The `event` filter, or null.")
    count = serializers.IntegerField()
    uniqueUsers = serializers.IntegerField(source="unique_users")
    deviceData = serializers.DictField(
        source="device_data",
        child=serializers.IntegerField(),
        help_text="Events per device type (desktop, mobile, tablet, bot, other, unknown).",
    )
    eventBreakdown = EventCountOutput(
        source="event_breakdown",
        many=True,
        allow_null=True,
        help_text="Events per name, the 100 most frequent; null when `event` is given.",
    )
    topReferrers = ValueCountOutput(source="top_referrers", many=True, help_text="Top 10 referrer hosts.")
    browsers = ValueCountOutput(many=True, help_text="Top 10 browsers.")
    os = ValueCountOutput(many=True, help_text="Top 10 operating systems.")


class RecentEventOutput(serializers.Serializer):
    eventId = serializers.CharField(source="event_id")
    event = serializers.CharField()
    timestamp = serializers.DateTimeField()
    url = serializers.CharField()
    metadata = serializers.DictField()


class DeviceDetailsOutput(serializers.Serializer):
    browser = serializers.CharField()
    os = serializers.CharField()


class UserStatsOutput(serializers.Serializer):
    userId = serializers.CharField(source="distinct_id")
    totalEvents = serializers.IntegerField(source="total_events")
    firstSeen = serializers.DateTimeField(source="first_seen")
    lastSeen = serializers.DateTimeField(source="last_seen")
    deviceDetails = DeviceDetailsOutput(source="*", help_text="Browser and OS of the latest event.")
    devices = serializers.DictField(child=serializers.IntegerField(), help_text="Events per device type.")
    ipAddress = serializers.IPAddressField(source="ip_address", allow_null=True, help_text="Of the latest event.")
    recentEvents = RecentEventOutput(source="recent_events", many=True, help_text="The latest 10, newest first.")
    distinctIds = serializers.ListField(
        source="distinct_ids",
        child=serializers.CharField(),
        help_text="Every id of the person this userId belongs to (linked by identify and alias), its key first.",
    )
    properties = serializers.DictField(help_text="The person's traits, from identify and $set.")


class DayStatOutput(serializers.Serializer):
    date = serializers.DateField()
    count = serializers.IntegerField()
    uniqueUsers = serializers.IntegerField(source="unique_users")


class PointOutput(serializers.Serializer):
    t = LocalDateTimeField(help_text="Bucket start, in the report zone.")
    count = serializers.IntegerField()
    uniqueUsers = serializers.IntegerField(source="unique_users")


class TimeseriesOutput(serializers.Serializer):
    interval = serializers.ChoiceField(choices=INTERVALS)
    points = PointOutput(many=True)


class BreakdownOutput(serializers.Serializer):
    by = serializers.CharField()
    values = ValueUsersOutput(many=True)


class EntryPageOutput(serializers.Serializer):
    value = serializers.CharField(allow_null=True, help_text="The URL path; null: page views without one.")
    visits = serializers.IntegerField(help_text="Visits whose first page view was of this page.")
    visitors = serializers.IntegerField(help_text="Distinct persons among those visits.")


class ExitPageOutput(EntryPageOutput):
    visits = serializers.IntegerField(help_text="Visits whose last page view was of this page.")
    exitRate = serializers.FloatField(source="exit_rate", help_text="Those visits over the page's views, 0 to 1.")


class WebStatsOutput(serializers.Serializer):
    visits = serializers.IntegerField(help_text="Sessions: by session id, else cut after 30 minutes idle.")
    visitors = serializers.IntegerField(help_text="Distinct persons.")
    pageViews = serializers.IntegerField(source="page_views", help_text="`pageview` events.")
    viewsPerVisit = serializers.FloatField(source="views_per_visit")
    bounces = serializers.IntegerField(help_text="Visits of one page view and no other event.")
    bounceRate = serializers.FloatField(source="bounce_rate", help_text="Bounces over visits, 0 to 1.")
    visitDurationSeconds = serializers.FloatField(
        source="visit_duration_seconds", help_text="Mean, from a visit's first event to its last (0 for one event)."
    )
    entryPages = EntryPageOutput(source="entry_pages", many=True)
    exitPages = ExitPageOutput(source="exit_pages", many=True)


class DailyActiveOutput(serializers.Serializer):
    date = serializers.DateField()
    activeUsers = serializers.IntegerField(source="active_users")


class ActiveUsersOutput(serializers.Serializer):
    dau = serializers.IntegerField(help_text="Users active on the last day of the range.")
    wau = serializers.IntegerField(help_text="Users active in the 7 days ending with the range.")
    mau = serializers.IntegerField(help_text="Users active in the 30 days ending with the range.")
    asOf = serializers.DateField(source="as_of", help_text="The last day of the range.")
    series = DailyActiveOutput(many=True, help_text="Users active on each day of the range.")


# Behavioural analytics (issue #5) -----------------------------------------------------------------

DEFAULT_FUNNEL_WINDOW = 14 * 24 * 3600
MAX_FUNNEL_WINDOW = 365 * 24 * 3600


class FunnelFilterInput(StrictSerializer):
    property = PropertyField(help_text=f"The property compared: {_PROPERTY_HELP}")
    operator = serializers.ChoiceField(choices=OPERATORS, default="eq")
    value = serializers.JSONField(help_text="A string (or number); a list of them for `in`.")

    def validate(self, attrs: dict) -> dict:
        value = attrs["value"]
        if attrs["operator"] == "in":
            if not isinstance(value, list) or not value or len(value) > MAX_IN_VALUES:
                raise serializers.ValidationError({"value": [f"`in` takes a list of 1 to {MAX_IN_VALUES} values."]})
            scalars = value
        else:
            scalars = [value]
        if not all(isinstance(item, (str, int, float, bool)) for item in scalars):
            raise serializers.ValidationError({"value": ["Values must be strings, numbers or booleans."]})
        return attrs


class FunnelStepInput(StrictSerializer):
    event = serializers.CharField(max_length=200, help_text="The event name of this step.")
    filters = FunnelFilterInput(many=True, required=False, default=list, max_length=10)

    def validate(self, attrs: dict) -> FunnelStep:
        filters = [FunnelFilter(f["property"], f["operator"], f["value"]) for f in attrs["filters"]]
        return FunnelStep(event=attrs["event"], filters=filters)


class FunnelInput(StrictSerializer, ReportQuery):
    steps = FunnelStepInput(many=True, min_length=2, max_length=10, help_text="2 to 10 steps, in order.")
    windowSeconds = serializers.IntegerField(
        required=False,
        default=DEFAULT_FUNNEL_WINDOW,
        min_value=1,
        max_value=MAX_FUNNEL_WINDOW,
        help_text="How long after entering a user may take to finish; default 14 days.",
    )
    breakdown = PropertyField(
        required=False, help_text=f"Split every figure by the entry event's value of this property: {_PROPERTY_HELP}"
    )


class FunnelStepOutput(serializers.Serializer):
    event = serializers.CharField()
    count = serializers.IntegerField(help_text="Users who reached this step.")
    conversionFromStart = serializers.FloatField(source="conversion_from_start")
    conversionFromPrevious = serializers.FloatField(source="conversion_from_previous")
    dropOff = serializers.IntegerField(source="drop_off", help_text="Users lost since the previous step.")
    medianSecondsToConvert = serializers.FloatField(
        source="median_seconds_to_convert", allow_null=True, help_text="From the previous step; null for step 1."
    )


class FunnelBreakdownOutput(serializers.Serializer):
    value = serializers.CharField()
    steps = FunnelStepOutput(many=True)


class FunnelOutput(serializers.Serializer):
    steps = FunnelStepOutput(many=True)
    breakdown = serializers.CharField(allow_null=True)
    breakdownValues = FunnelBreakdownOutput(source="breakdown_values", many=True)


class RetentionQuery(ReportQuery):
    cohortEvent = serializers.CharField(
        required=False, max_length=200, help_text="Users join the cohort of their first such event; default: any."
    )
    returnEvent = serializers.CharField(
        required=False, max_length=200, help_text="What counts as coming back; default: any event."
    )
    period = serializers.ChoiceField(choices=PERIODS, required=False, default="week")
    periods = serializers.IntegerField(
        required=False, default=8, min_value=1, max_value=MAX_PERIODS, help_text="Periods after the first."
    )


class RetentionPeriodOutput(serializers.Serializer):
    period = serializers.IntegerField()
    users = serializers.IntegerField()
    rate = serializers.FloatField()


class RetentionCohortOutput(serializers.Serializer):
    start = serializers.DateField(help_text="First day of the cohort's period, in the report time zone.")
    size = serializers.IntegerField()
    periods = RetentionPeriodOutput(many=True, help_text="0..N; periods that have not begun are absent.")


class RetentionOutput(serializers.Serializer):
    period = serializers.CharField()
    periods = serializers.IntegerField()
    tz = serializers.CharField()
    cohorts = RetentionCohortOutput(many=True)


class JourneyQuery(AppQuery):
    cursor = serializers.CharField(required=False, max_length=200, help_text="`nextCursor` of the previous page.")
    limit = serializers.IntegerField(
        required=False, default=100, min_value=1, max_value=MAX_JOURNEY_LIMIT, help_text="Events per page."
    )

    def validate_cursor(self, value: str) -> str:
        try:
            decode_cursor(value)
        except ValueError:
            raise serializers.ValidationError("Not a cursor this endpoint returned.") from None
        return value


class JourneyEventOutput(serializers.Serializer):
    eventId = serializers.CharField(source="event_id")
    event = serializers.CharField(source="name")
    timestamp = serializers.DateTimeField()
    url = serializers.CharField()
    path = serializers.CharField()
    metadata = serializers.DictField()


class JourneySessionOutput(serializers.Serializer):
    index = serializers.IntegerField(help_text="1 for the user's first session ever.")
    start = serializers.DateTimeField()
    end = serializers.DateTimeField()
    durationSeconds = serializers.FloatField(source="duration_seconds")
    entryPage = serializers.CharField(source="entry_page")
    exitPage = serializers.CharField(source="exit_page")
    eventCount = serializers.IntegerField(source="event_count", help_text="Events in the whole session.")
    events = JourneyEventOutput(many=True, help_text="This page's events of the session.")


class JourneyOutput(serializers.Serializer):
    userId = serializers.CharField(source="distinct_id")
    sessions = JourneySessionOutput(many=True)
    nextCursor = serializers.CharField(source="next_cursor", allow_null=True)


class LiveMinuteOutput(serializers.Serializer):
    minute = serializers.DateTimeField()
    events = serializers.IntegerField()
    activeUsers = serializers.IntegerField(source="active_users")


class LiveOutput(serializers.Serializer):
    now = serializers.DateTimeField()
    minutes = LiveMinuteOutput(many=True, help_text="The last 30 minutes, oldest first; the last is partial.")
    activeUsers5m = serializers.IntegerField(source="active_users_5m")
    totalEvents = serializers.IntegerField(source="total_events")
    totalActiveUsers = serializers.IntegerField(source="total_active_users")
