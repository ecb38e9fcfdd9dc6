"""Benchmark-only settings: the production settings plus a bare insert view to compare against."""

from analytics_project.settings import *  # noqa: F403

ROOT_URLCONF = "bench.urls"
