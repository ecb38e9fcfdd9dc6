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

from apikeys.validators import validate_timezone
from reports.params import MAX_HOURLY_SPAN, WindowError, report_window
from reports.selectors import DIMENSIONS, INTERVALS, METADATA_PREFIX

MAX_LIMIT = 100
DEFAULT_LIMIT = 10
_METADATA_KEY = re.compile(r"^[\w-]{1,100}$")
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
        help_text="The app to report on. Required for staff sessions (the dashboard); with a key, only the "
        "key's own app may be named.",
    )


class UserStatsQuery(AppQuery):
    userId = serializers.CharField(max_length=200, help_text="The `userId` the events were sent with.")


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


class BreakdownQuery(LimitedQuery):
    by = serializers.CharField(
        max_length=120,
        help_text=f"What to group by: {', '.join(DIMENSIONS)}, or `metadata.<key>` for a top-level metadata key.",
    )

    def validate_by(self, value: str) -> str:
        if value in DIMENSIONS:
            return value
        if value.startswith(METADATA_PREFIX) and _METADATA_KEY.match(value.removeprefix(METADATA_PREFIX)):
            return value
        raise serializers.ValidationError(
            f"Must be one of {', '.join(DIMENSIONS)}, or metadata.<key> (letters, digits, _ and -)."
        )


EXPORT_FORMATS = {"csv": "text/csv; charset=utf-8", "ndjson": "application/x-ndjson"}


class ExportQuery(ReportQuery):
    format = serializers.ChoiceField(
        choices=list(EXPORT_FORMATS),
        required=False,
        default="csv",
        help_text="`csv` (a header row, metadata as JSON text) or `ndjson` (one JSON object per line).",
    )


def cache_params(validated: dict) -> dict:
    """The parameters that decide a report's content, normalised: two requests that mean the same
    (a default range and the same range spelled out, `tz` equal to the app's zone) share a cache entry."""
    params = {key: value for key, value in validated.items() if key not in ("appId", "startDate", "endDate", "tz")}
    if "window" in params:
        params["window"] = params["window"].key()
    return params


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
    userId = serializers.CharField(source="user_id")
    totalEvents = serializers.IntegerField(source="total_events")
    firstSeen = serializers.DateTimeField(source="first_seen")
    lastSeen = serializers.DateTimeField(source="last_seen")
    deviceDetails = DeviceDetailsOutput(source="*", help_text="Browser and OS of the latest event.")
    devices = serializers.DictField(child=serializers.IntegerField(), help_text="Events per device type.")
    ipAddress = serializers.IPAddressField(source="ip_address", allow_null=True, help_text="Of the latest event.")
    recentEvents = RecentEventOutput(source="recent_events", many=True, help_text="The latest 10, newest first.")


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


class DailyActiveOutput(serializers.Serializer):
    date = serializers.DateField()
    activeUsers = serializers.IntegerField(source="active_users")


class ActiveUsersOutput(serializers.Serializer):
    dau = serializers.IntegerField(help_text="Users active on the last day of the range.")
    wau = serializers.IntegerField(help_text="Users active in the 7 days ending with the range.")
    mau = serializers.IntegerField(help_text="Users active in the 30 days ending with the range.")
    asOf = serializers.DateField(source="as_of", help_text="The last day of the range.")
    series = DailyActiveOutput(many=True, help_text="Users active on each day of the range.")
