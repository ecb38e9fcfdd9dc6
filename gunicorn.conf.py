"""gunicorn settings for the Docker image and the benchmarks; every value can be overridden by env."""

import multiprocessing
import os

bind = os.environ.get("BIND", "0.0.0.0:8000")
# Sync workers gave steady throughput here; gthread with keep-alive spread load unevenly (README).
worker_class = "sync"
workers = int(os.environ.get("WEB_CONCURRENCY", multiprocessing.cpu_count() * 2 + 1))
timeout = int(os.environ.get("GUNICORN_TIMEOUT", "30"))
graceful_timeout = 20
max_requests = 10_000  # recycle workers now and then so slow leaks cannot grow without bound
max_requests_jitter = 1_000
accesslog = None  # the app writes its own JSON request log line
forwarded_allow_ips = os.environ.get("FORWARDED_ALLOW_IPS", "127.0.0.1")
