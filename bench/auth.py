"""How much API-key authentication adds to a request.

Two DRF views, identical but for authentication: one open, one behind ApiKeyAuthentication (format and
checksum check, SHA-256, one indexed lookup with the app joined, the once-a-minute last-used write;
a working key makes no cache round trip).
Requests go through Django's full middleware stack in-process, on PostgreSQL + Redis, interleaved in
rounds so machine drift hits both alike; the figure is the difference of the medians.

    .venv/bin/python bench/auth.py [--rounds 7] [--requests 2000]
"""

import argparse
import statistics
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench.common import machine, median_ms, setup_django

setup_django()

from django.test import Client, override_settings  # noqa: E402
from django.urls import path  # noqa: E402
from rest_framework.permissions import AllowAny  # noqa: E402
from rest_framework.response import Response  # noqa: E402
from rest_framework.views import APIView  # noqa: E402

from apikeys import services  # noqa: E402
from apikeys.authentication import ApiKeyAuthentication  # noqa: E402
from apikeys.permissions import HasApiKey  # noqa: E402


class OpenView(APIView):
    authentication_classes = []
    permission_classes = [AllowAny]

    def get(self, request):
        return Response({"ok": True})


class KeyedView(OpenView):
    authentication_classes = [ApiKeyAuthentication]
    permission_classes = [HasApiKey]


urlpatterns = [path("open", OpenView.as_view()), path("keyed", KeyedView.as_view())]


def time_requests(client: Client, url: str, count: int, **headers) -> list[float]:
    samples = []
    for _ in range(count):
        started = time.perf_counter()
        response = client.get(url, **headers)
        samples.append(time.perf_counter() - started)
        assert response.status_code == 200, response.content
    return samples


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--rounds", type=int, default=7)
    parser.add_argument("--requests", type=int, default=2000)
    args = parser.parse_args()

    registered = services.app_register(name="bench auth", owner_email="bench@example.com")
    headers = {"HTTP_X_API_KEY": registered.secret_key.raw}
    client = Client()
    with override_settings(ROOT_URLCONF=__name__, AUTH_FAILURE_RATE="1000000/m"):
        time_requests(client, "/open", 200)
        time_requests(client, "/keyed", 200, **headers)  # warm up connections and caches
        open_medians, keyed_medians = [], []
        for _ in range(args.rounds):
            open_medians.append(median_ms(time_requests(client, "/open", args.requests)))
            keyed_medians.append(median_ms(time_requests(client, "/keyed", args.requests, **headers)))
    registered.app.delete()

    open_ms, keyed_ms = statistics.median(open_medians), statistics.median(keyed_medians)
    print(f"machine: {machine()}")
    print(f"rounds: {args.rounds} x {args.requests} requests per view, interleaved; medians of round medians")
    print(f"unauthenticated view: {open_ms:.3f} ms/request")
    print(f"key-authenticated view: {keyed_ms:.3f} ms/request")
    print(f"authentication adds: {keyed_ms - open_ms:.3f} ms/request (target < 1 ms)")


if __name__ == "__main__":
    main()
