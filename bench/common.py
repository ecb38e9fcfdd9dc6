"""Shared set-up for the benchmark scripts: a dedicated database, migrated, and small statistics helpers.

Benchmarks use the database named by BENCH_DATABASE_URL (default: a local PostgreSQL database
`analytics_bench`, created if missing) so they never touch development or test data.
"""

import json
import os
import platform
import re
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
DEFAULT_BENCH_DATABASE_URL = "postgresql://postgres@127.0.0.1:5432/analytics_bench"
DEFAULT_BENCH_REDIS_URL = "redis://127.0.0.1:6379/2"


def bench_environment() -> dict[str, str]:
    return {
        "DATABASE_URL": os.environ.get("BENCH_DATABASE_URL", DEFAULT_BENCH_DATABASE_URL),
        "REDIS_URL": os.environ.get("BENCH_REDIS_URL", DEFAULT_BENCH_REDIS_URL),
        "DEBUG": "false",
        "SECRET_KEY": "benchmark-only-secret-key-benchmark-only-secret-key-0123456789",
        "SECURE_SSL_REDIRECT": "false",
        "ALLOWED_HOSTS": "127.0.0.1,localhost,testserver",
        "LOG_LEVEL": "INFO",
    }


def setup_django() -> None:
    """Configure this process for the bench database and migrate it."""
    os.environ.update(bench_environment())
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "analytics_project.settings")
    sys.path.insert(0, str(ROOT))
    _create_database(os.environ["DATABASE_URL"])
    import django
    from django.core.management import call_command

    django.setup()
    call_command("migrate", verbosity=0)


def _create_database(url: str) -> None:
    import psycopg

    base, _, name = url.rpartition("/")
    with psycopg.connect(f"{base}/postgres", autocommit=True) as connection:
        exists = connection.execute("SELECT 1 FROM pg_database WHERE datname = %s", [name]).fetchone()
        if not exists:
            connection.execute(f'CREATE DATABASE "{name}"')


def machine() -> str:
    cpu = subprocess.run(["nproc"], capture_output=True, text=True).stdout.strip()
    return f"{platform.node()} · {cpu} cores · Python {platform.python_version()} · {platform.platform()}"


def median_ms(samples: list[float]) -> float:
    return statistics.median(samples) * 1000


def percentile_ms(samples: list[float], percentile: float) -> float:
    ordered = sorted(samples)
    index = min(len(ordered) - 1, round(percentile / 100 * (len(ordered) - 1)))
    return ordered[index] * 1000


def start_gunicorn(
    *, port: int, workers: int, settings_module: str = "analytics_project.settings", **env
) -> subprocess.Popen:
    """gunicorn with the project's config on the bench database, once /health answers; extra env as keywords."""
    environment = {
        **os.environ,
        **bench_environment(),
        "DJANGO_SETTINGS_MODULE": settings_module,
        "BIND": f"127.0.0.1:{port}",
        "WEB_CONCURRENCY": str(workers),
        **env,
    }
    server = subprocess.Popen(
        [str(Path(sys.executable).parent / "gunicorn"), "-c", "gunicorn.conf.py", "analytics_project.wsgi"],
        cwd=ROOT,
        env=environment,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    return answering(server, port)


def answering(server: subprocess.Popen, port: int) -> subprocess.Popen:
    """``server`` once its /health answers on ``port``; killed, and the benchmark stopped, if it never does."""
    for _ in range(100):
        try:
            urllib.request.urlopen(f"http://127.0.0.1:{port}/health", timeout=1)
            return server
        except OSError:
            time.sleep(0.2)
    server.kill()
    raise SystemExit(f"{server.args[0]} did not start")


def busy_seconds() -> float:
    """CPU time every process on the machine has used so far (user, system, interrupts; not idle or steal)."""
    user, nice, system, _idle, _iowait, irq, softirq = map(int, Path("/proc/stat").read_text().split()[1:8])
    return (user + nice + system + irq + softirq) / os.sysconf("SC_CLK_TCK")


def wrk(url: str, body: dict | None, seconds: int, connections: int, headers: dict, *, method: str = "POST") -> dict:
    """``method`` ``body`` to ``url`` for ``seconds`` with wrk -t2; fails on any non-2xx response. CPU per
    request counts every process on the machine (server, databases, wrk) over the run."""
    header_lines = "".join(f'wrk.headers["{k}"] = "{v}"\n' for k, v in headers.items())
    body_line = f"wrk.body = {json.dumps(json.dumps(body))}\n" if body is not None else ""
    with tempfile.NamedTemporaryFile("w", suffix=".lua", delete=False) as script:
        script.write(f'wrk.method = "{method}"\n{body_line}{header_lines}')
    command = ["wrk", "-t2", f"-c{connections}", f"-d{seconds}s", "--latency", "-s", script.name, url]
    busy = busy_seconds()
    output = subprocess.run(command, capture_output=True, text=True, check=True)
    busy = busy_seconds() - busy
    output = output.stdout
    os.unlink(script.name)
    non_2xx = re.search(r"Non-2xx or 3xx responses: (\d+)", output)
    if non_2xx:
        raise SystemExit(f"{url}: {non_2xx.group(1)} failed responses\n{output}")
    requests = int(re.search(r"(\d+) requests in", output).group(1))
    return {
        "rps": float(re.search(r"Requests/sec:\s+([\d.]+)", output).group(1)),
        "p50": _latency_ms(output, "50%"),
        "p99": _latency_ms(output, "99%"),
        "requests": requests,
        "busy": busy,
        "cpu_us": busy / requests * 1e6,  # server, databases and wrk together
    }


def _latency_ms(output: str, label: str) -> float:
    value, unit = re.search(rf"{label}\s+([\d.]+)(us|ms|s)", output).groups()
    return float(value) * {"us": 0.001, "ms": 1, "s": 1000}[unit]
