import os
import re
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from analytics_project.env import is_rate

ROOT = Path(__file__).resolve().parents[2]
PRODUCTION = {
    "DEBUG": "false",
    "SECRET_KEY": "x7#kP2$vQ9!mZ4@wR8^tY1&uI6*oL3(eN5)aS0_dF+gH-jK=bC;xV:qW<eR>tY?",
    "ALLOWED_HOSTS": "analytics.example.com",
    "DATABASE_URL": "postgresql://postgres@127.0.0.1:5432/analytics",
    "REDIS_URL": "redis://127.0.0.1:6379/0",
}


def manage(*args, **env) -> subprocess.CompletedProcess:
    environment = {k: v for k, v in os.environ.items() if k not in ("DATABASE_URL", "REDIS_URL", "DEBUG", "SECRET_KEY")}
    environment.update(env)
    return subprocess.run(
        [sys.executable, "manage.py", *args], cwd=ROOT, env=environment, capture_output=True, text=True, timeout=60
    )


def test_check_deploy_is_clean_with_production_variables():
    result = manage("check", "--deploy", "--fail-level", "WARNING", **PRODUCTION)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "no issues" in result.stdout


def compose_web_environment(**provided) -> dict[str, str]:
    """The web service's environment in docker-compose.yml, interpolated as Compose does with ``provided``."""

    def interpolate(match: re.Match) -> str:
        name, operator, fallback = match.group(1), match.group(2), match.group(3)
        value = provided.get(name)
        if operator == ":?" and not value:
            raise AssertionError(f"docker-compose.yml requires {name}")
        return value if value else (fallback if operator == ":-" else "")

    services = yaml.safe_load((ROOT / "docker-compose.yml").read_text())["services"]
    return {
        name: re.sub(r"\$\{(\w+)(?:(:-|:\?)([^}]*))?\}", interpolate, str(value))
        for name, value in services["web"]["environment"].items()
    }


def test_check_deploy_is_clean_with_the_docker_compose_defaults():
    """The README's `docker compose up` with only SECRET_KEY set: nothing for `check --deploy` to flag."""
    env = compose_web_environment(SECRET_KEY=PRODUCTION["SECRET_KEY"])
    assert env["DEBUG"] == "false" and env["REDIS_URL"]
    result = manage("check", "--deploy", "--fail-level", "WARNING", **env)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "no issues" in result.stdout


@pytest.mark.parametrize(
    ("env", "expected"),
    [
        ({}, "True"),
        ({"DEBUG": "false", "SECRET_KEY": PRODUCTION["SECRET_KEY"]}, "False"),
        ({"DEBUG": "false", "SECRET_KEY": PRODUCTION["SECRET_KEY"], "REGISTRATION_OPEN": "true"}, "True"),
    ],
)
def test_registration_is_open_by_default_only_on_a_development_server(env, expected):
    result = manage("shell", "-c", "from django.conf import settings; print(settings.REGISTRATION_OPEN)", **env)
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip().splitlines()[-1] == expected


def test_check_deploy_warns_that_limits_are_per_process_without_redis():
    env = {k: v for k, v in PRODUCTION.items() if k != "REDIS_URL"}
    result = manage("check", "--deploy", "--fail-level", "WARNING", **env)
    assert result.returncode != 0
    assert "apikeys.W001" in result.stderr + result.stdout


@pytest.mark.parametrize(
    ("variable", "value"),
    [
        ("INGEST_RATE", "lots"),
        ("REPORT_RATE", "10 per minute"),
        ("INGEST_RATE", "1/0m"),
        ("AUTH_FAILURE_RATE", "0/m"),
        ("DEBUG", "maybe"),
        ("API_KEY_TTL_DAYS", "-3"),
        ("TRUSTED_PROXY_COUNT", "two"),
        ("DATABASE_URL", "mysql://root@localhost/db"),
        ("REDIS_URL", "localhost:6379"),
        ("LOG_LEVEL", "LOUD"),
        ("GEOIP_DATABASE", "/nonexistent/GeoLite2-Country.mmdb"),
        ("METRICS_ALLOWED_NETWORKS", "10.0.0.0/8,office"),
    ],
)
def test_a_bad_value_fails_at_start_naming_the_variable(variable, value):
    result = manage("check", **{variable: value})
    assert result.returncode != 0
    assert variable in result.stderr


@pytest.mark.parametrize(
    ("value", "valid"),
    [
        ("600/m", True),
        ("20/h", True),
        ("10/5m", True),
        ("1/d", True),
        ("0/m", False),
        ("1/0m", False),
        ("1/00s", False),
        ("05/m", False),
        ("10/m ", False),
        ("/m", False),
        ("10/w", False),
    ],
)
def test_a_rate_needs_a_positive_count_and_period(value, valid):
    """The same check guards the *_RATE variables and each API key's own rates."""
    assert is_rate(value) is valid


def test_secret_key_is_required_when_debug_is_off():
    result = manage("check", DEBUG="false")
    assert result.returncode != 0
    assert "SECRET_KEY" in result.stderr


def test_the_embedded_default_needs_no_variables():
    result = manage("check")
    assert result.returncode == 0, result.stderr


def test_docker_compose_runs_the_worker_beside_web_and_redis_with_an_append_only_file():
    services = yaml.safe_load((ROOT / "docker-compose.yml").read_text())["services"]
    web, worker, redis_command = services["web"], services["worker"], services["redis"]["command"]
    assert worker["command"] == "python manage.py ingest_worker"
    assert worker["image"] == web["image"] and worker["environment"] == web["environment"]
    assert web["environment"]["INGEST_MODE"] == "buffered"
    options = dict(zip(redis_command[1::2], redis_command[2::2], strict=True))
    assert options["--appendonly"] == "yes" and options["--appendfsync"] == "everysec"
    # Only keys with an expiry (caches, counters) may go: an evicted stream entry is a lost event.
    assert options["--maxmemory-policy"] == "volatile-lru"
