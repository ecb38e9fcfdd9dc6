"""The reports benchmark's HTTP side: one request, a streamed export with the workers' memory sampled,
and the under-ingestion phase (events arriving at a steady rate while a dashboard user reads)."""

import json
import statistics
import subprocess
import threading
import time
from http.client import HTTPConnection
from pathlib import Path

COLLECT = "/api/analytics/collect"
EVERYDAY = (
    "/api/analytics/event-summary",
    "/api/analytics/daily-stats",
    "/api/analytics/top-pages",
    "/api/analytics/breakdown?by=browser",
)


def request(port: int, method: str, path: str, key: str, body: dict | None = None) -> tuple[float, str, bytes]:
    """One request over a fresh connection (gunicorn's sync workers close after each response)."""
    headers = {"X-API-Key": key}
    payload = None
    if body is not None:
        headers["Content-Type"] = "application/json"
        payload = json.dumps(body)
    started = time.perf_counter()
    http = HTTPConnection("127.0.0.1", port, timeout=120)
    http.request(method, path, body=payload, headers=headers)
    response = http.getresponse()
    content = response.read()
    elapsed = time.perf_counter() - started
    http.close()
    if not 200 <= response.status < 300:
        raise SystemExit(f"{method} {path} on :{port}: {response.status} {content[:300]!r}")
    return elapsed, response.getheader("X-Cache", ""), content


def _worker_pids(server: subprocess.Popen) -> list[int]:
    children = Path(f"/proc/{server.pid}/task/{server.pid}/children").read_text().split()
    return [int(pid) for pid in children]


def _rss_mb(pid: int) -> float:
    try:
        status = Path(f"/proc/{pid}/status").read_text()
    except FileNotFoundError:  # a worker gunicorn replaced
        return 0.0
    for line in status.splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return 0.0


def measure_export(server: subprocess.Popen, port: int, key: str) -> dict:
    """Stream a 30-day CSV export, sampling the workers' resident memory every 20 ms meanwhile."""
    pids = _worker_pids(server)
    before = max(_rss_mb(pid) for pid in pids)
    peak, done = [before], threading.Event()

    def sample():
        while not done.is_set():
            peak.append(max(_rss_mb(pid) for pid in pids))
            time.sleep(0.02)

    sampler = threading.Thread(target=sample)
    sampler.start()
    started = time.perf_counter()
    http = HTTPConnection("127.0.0.1", port, timeout=600)
    http.request("GET", "/api/analytics/export?format=csv", headers={"X-API-Key": key})
    response = http.getresponse()
    size = lines = 0
    while chunk := response.read(1 << 16):
        size += len(chunk)
        lines += chunk.count(b"\n")
    elapsed = time.perf_counter() - started
    done.set()
    sampler.join()
    http.close()
    return {"rows": lines - 1, "mb": size / 1e6, "seconds": elapsed, "rss_before": before, "rss_peak": max(peak)}


class Ingest(threading.Thread):
    """``rate`` events a second sent to collect, each on its own connection, on a fixed schedule."""

    def __init__(self, port: int, key: str, rate: float):
        super().__init__(daemon=True)
        self.port, self.key, self.rate = port, key, rate
        self.sent = self.failed = 0
        self.stopping = threading.Event()

    def run(self) -> None:
        started = time.perf_counter()
        while not self.stopping.is_set():
            event = {"event": "page_view", "userId": f"live_{self.sent % 500}", "url": "https://shop.example/live"}
            try:
                request(self.port, "POST", COLLECT, self.key, event)
                self.sent += 1
            except (SystemExit, OSError):
                self.failed += 1
            delay = started + (self.sent + self.failed) / self.rate - time.perf_counter()
            if delay > 0:
                self.stopping.wait(delay)

    def stop(self) -> None:
        self.stopping.set()
        self.join()


def dashboard_user(port: int, key: str, seconds: float) -> dict:
    """The four everyday reports, one after the other, again and again for ``seconds``."""
    latencies, hits = [], 0
    until = time.perf_counter() + seconds
    while time.perf_counter() < until:
        for path in EVERYDAY:
            elapsed, x_cache, _ = request(port, "GET", path, key)
            latencies.append(elapsed)
            hits += x_cache == "hit"
    return {
        "requests": len(latencies),
        "hit_ratio": hits / len(latencies),
        "p50": statistics.median(latencies) * 1000,
        "p95": sorted(latencies)[round(0.95 * (len(latencies) - 1))] * 1000,
    }
