import os
import subprocess
import sys
from pathlib import Path

import pytest

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
