from rest_framework import serializers

from analytics_project.serializers import ErrorSerializer


class RejectionOutput(serializers.Serializer):
    index = serializers.IntegerField(help_text="Position of the event in the batch (0 for a single event).")
    code = serializers.CharField(help_text="e.g. `missing_event`, `invalid_timestamp`, `timestamp_in_future`.")
    detail = serializers.CharField()


class IngestOutput(serializers.Serializer):
    accepted = serializers.IntegerField(help_text="Events stored by this request.")
    duplicates = serializers.IntegerField(help_text="Events whose eventId the app already had; not stored again.")
    rejected = RejectionOutput(many=True)
    warnings = RejectionOutput(many=True, help_text="Accepted events with something ignored, e.g. unknown fields.")


class QueuedOutput(serializers.Serializer):
    queued = serializers.IntegerField(
        help_text="Events queued for storage (INGEST_MODE=buffered). Duplicates of stored eventIds are only "
        "known when a worker stores them: they are skipped then, and never counted twice."
    )
    rejected = RejectionOutput(many=True)
    warnings = RejectionOutput(many=True, help_text="Queued events with something ignored, e.g. unknown fields.")


class CollectErrorOutput(ErrorSerializer):
    """One object rather than a oneOf of two: a `no_valid_events` body is also a valid error body, so it
    would match both alternatives, which oneOf forbids."""

    rejected = RejectionOutput(
        many=True, required=False, help_text="With `no_valid_events` only: why each event was refused."
    )


class EventInput(serializers.Serializer):
    """Documentation of one event; validation itself is events.validation (it runs per event, fast)."""

    event = serializers.CharField(max_length=200, help_text="Event name (alias: eventName).")
    userId = serializers.CharField(required=False, max_length=200)
    anonymousId = serializers.CharField(required=False, max_length=200)
    sessionId = serializers.CharField(required=False, max_length=200)
    url = serializers.CharField(required=False, max_length=2048)
    referrer = serializers.CharField(required=False, max_length=2048)
    device = serializers.CharField(required=False, help_text="desktop, mobile, tablet, bot or other; else from UA.")
    userAgent = serializers.CharField(required=False, max_length=1024)
    ipAddress = serializers.IPAddressField(required=False, help_text="Honoured only with a secret key.")
    timestamp = serializers.CharField(required=False, help_text="ISO 8601 or epoch milliseconds; default now.")
    sentAt = serializers.CharField(required=False, help_text="Client send time; corrects clock skew.")
    eventId = serializers.UUIDField(required=False, help_text="Idempotency key.")
    metadata = serializers.DictField(required=False, help_text="Any JSON object up to 32 KiB.")
    screen = serializers.CharField(required=False, max_length=32, help_text="e.g. 1920x1080")
    locale = serializers.CharField(required=False, max_length=35)
    hashRouting = serializers.BooleanField(
        required=False, help_text="A hash-routed page: the URL's fragment (`#/settings`) is part of its path."
    )


class BatchInput(serializers.Serializer):
    events = EventInput(many=True, help_text="1 to 1000 events.")
    apiKey = serializers.CharField(required=False, help_text="For sendBeacon, which cannot set headers.")


class SegmentSuccess(serializers.Serializer):
    success = serializers.BooleanField(default=True)


class SegmentError(serializers.Serializer):
    code = serializers.CharField()
    message = serializers.CharField()
