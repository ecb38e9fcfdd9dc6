"""The project's URLs plus `POST /bench/bare-insert`: the ceiling for single-event ingestion.

It parses the same JSON and inserts one row with one INSERT, and does nothing else: no key, no
validation, no enrichment, no rate limit, no cache invalidation.
"""

import uuid

from django.db import connection
from django.urls import path
from django.utils import timezone
from rest_framework.permissions import AllowAny
from rest_framework.response import Response
from rest_framework.views import APIView

from analytics_project.urls import urlpatterns as project_urlpatterns
from apikeys.models import App


class BareInsertView(APIView):
    authentication_classes = []
    permission_classes = [AllowAny]
    app_id = None

    def post(self, request):
        if BareInsertView.app_id is None:
            BareInsertView.app_id = App.objects.get(name="bench ingest").id
        now = timezone.now()
        with connection.cursor() as cursor:
            cursor.execute(
                "INSERT INTO events_event (app_id, event_id, name, distinct_id, user_id, anonymous_id, session_id, "
                "timestamp, received_at, url, host, path, referrer, referrer_host, utm_source, utm_medium, "
                "utm_campaign, utm_term, utm_content, device_type, browser, os, country, screen, locale, ip, "
                "user_agent, metadata, source) VALUES (%s, %s, %s, %s, %s, '', '', %s, %s, %s, '', '', '', '', '', '',"
                " '', '', '', '', '', '', '', '', '', NULL, '', %s, 'api')",
                [
                    BareInsertView.app_id,
                    uuid.uuid4(),
                    request.data["event"],
                    request.data.get("userId", ""),
                    request.data.get("userId", ""),
                    now,
                    now,
                    request.data.get("url", ""),
                    "{}",
                ],
            )
        return Response({"accepted": 1}, status=201)


urlpatterns = [path("bench/bare-insert", BareInsertView.as_view()), *project_urlpatterns]
