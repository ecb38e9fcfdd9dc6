"""The project's URLs plus `POST /bench/bare-insert`: the ceiling for single-event ingestion.

It parses the same JSON and inserts the row collect stores for it (bench/rows.py) with one INSERT, and
does nothing else: no key, no validation, no enrichment, no rate limit, no cache invalidation.
"""

from django.db import connection
from django.urls import path
from django.utils import timezone
from rest_framework.permissions import AllowAny
from rest_framework.response import Response
from rest_framework.views import APIView

from analytics_project.urls import urlpatterns as project_urlpatterns
from apikeys.models import App
from bench.rows import COLUMNS, stored_row

INSERT = f"INSERT INTO events_event ({', '.join(COLUMNS)}) VALUES ({', '.join(['%s'] * len(COLUMNS))})"


class BareInsertView(APIView):
    authentication_classes = []
    permission_classes = [AllowAny]
    app_id = None

    def post(self, request):
        if BareInsertView.app_id is None:
            BareInsertView.app_id = App.objects.get(name="bench ingest").id
        with connection.cursor() as cursor:
            cursor.execute(INSERT, stored_row(BareInsertView.app_id, timezone.now(), request.data))
        return Response({"accepted": 1}, status=201)


urlpatterns = [path("bench/bare-insert", BareInsertView.as_view()), *project_urlpatterns]
