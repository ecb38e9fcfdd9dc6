"""Which Chromium the browser tests drive, and what a run without one does (analytics_project/testing.py)."""

import os
import subprocess
import sys
from pathlib import Path

import pytest

from analytics_project.testing import CHROMIUM_NAMES, browser_skip_reason, find_chromium

ROOT = Path(__file__).resolve().parents[2]


def fake_executable(directory: Path, name: str, *, executable: bool = True) -> Path:
    directory.mkdir(parents=True, exist_ok=True)
    path = directory / name
    path.write_text("#!/bin/sh\n")
    path.chmod(0o755 if executable else 0o644)
    return path


@pytest.fixture
def bare_environment(monkeypatch, tmp_path):
    """A PATH with no browser on it and none of the variables that change the outcome."""
    monkeypatch.setenv("PATH", str(tmp_path / "empty"))
    for name in ("CHROMIUM_PATH", "CI", "SKIP_BROWSER_TESTS"):
        monkeypatch.delenv(name, raising=False)
    return monkeypatch


@pytest.mark.parametrize("name", CHROMIUM_NAMES)
def test_each_known_name_is_found_on_path(bare_environment, tmp_path, name):
    found = fake_executable(tmp_path / "bin", name)
    bare_environment.setenv("PATH", f"{tmp_path / 'empty'}{os.pathsep}{tmp_path / 'bin'}")
    assert find_chromium() == str(found)


def test_chromium_path_wins_over_path(bare_environment, tmp_path):
    fake_executable(tmp_path / "bin", "chromium")
    chosen = fake_executable(tmp_path / "opt", "my-chrome")
    bare_environment.setenv("PATH", str(tmp_path / "bin"))
    bare_environment.setenv("CHROMIUM_PATH", str(chosen))
    assert find_chromium() == str(chosen)


def test_a_file_that_is_not_executable_is_not_a_browser(bare_environment, tmp_path):
    fake_executable(tmp_path / "bin", "chromium", executable=False)
    bare_environment.setenv("PATH", str(tmp_path / "bin"))
    assert find_chromium() is None


def test_without_chromium_a_developers_run_skips_and_names_the_fix(bare_environment):
    reason = browser_skip_reason()
    assert "no Chromium" in reason and "chromium package" in reason


@pytest.mark.parametrize("variable", ["CI", "CHROMIUM_PATH"])
def test_ci_or_an_explicit_chromium_path_never_skips(bare_environment, tmp_path, variable):
    bare_environment.setenv(variable, "true" if variable == "CI" else str(tmp_path / "missing"))
    assert browser_skip_reason() is None


def test_under_ci_even_skip_browser_tests_does_not_skip(bare_environment):
    bare_environment.setenv("SKIP_BROWSER_TESTS", "1")
    assert browser_skip_reason() == "SKIP_BROWSER_TESTS=1"
    bare_environment.setenv("CI", "true")
    assert browser_skip_reason() is None


def run_browser_tests(tmp_path, **env) -> subprocess.CompletedProcess:
    """The dashboard's browser tests in a fresh pytest, on SQLite in memory so no test database is shared."""
    environment = {k: v for k, v in os.environ.items() if k not in ("DATABASE_URL", "REDIS_URL", "CI")}
    environment.update(PATH=str(tmp_path / "empty"), **env)
    return subprocess.run(
        [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", "reports/tests/test_dashboard_browser.py"],
        cwd=ROOT,
        env=environment,
        capture_output=True,
        text=True,
        timeout=300,
    )


def test_a_run_without_chromium_passes_with_one_line_saying_why(tmp_path):
    result = run_browser_tests(tmp_path)
    assert result.returncode == 0, result.stdout + result.stderr
    lines = [line for line in result.stdout.splitlines() if "browser tests skipped" in line]
    assert len(lines) == 1 and "no Chromium" in lines[0], result.stdout


def test_a_ci_run_without_chromium_fails_loudly(tmp_path):
    result = run_browser_tests(tmp_path, CI="true")
    assert result.returncode != 0
    assert "No Chromium" in result.stdout
    assert "browser tests skipped" not in result.stdout
