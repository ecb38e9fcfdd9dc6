"""`manage.py seed_demo` at scale on PostgreSQL: how long it takes, its peak memory, and what its data shows.

    .venv/bin/python bench/seed_demo.py [--events 1000000] [--days 90]

Runs the command in a fresh database of its own (analytics_bench_seed, dropped and created again; or
BENCH_DATABASE_URL), then reads the demo app's sign-up funnel and weekly retention through the same
reports as the API, so the figures are the ones the dashboard would show.
"""

import argparse
import io
import os
import resource
import sys
import time
from datetime import timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench.common import DEFAULT_BENCH_DATABASE_URL, machine

os.environ.setdefault("BENCH_DATABASE_URL", DEFAULT_BENCH_DATABASE_URL + "_seed")


def _recreate_database(url: str) -> None:
    import psycopg

    base, _, name = url.rpartition("/")
    with psycopg.connect(f"{base}/postgres", autocommit=True) as connection:
        connection.execute(f'DROP DATABASE IF EXISTS "{name}"')


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--events", type=int, default=1_000_000)
    parser.add_argument("--days", type=int, default=90)
    args = parser.parse_args()

    _recreate_database(os.environ["BENCH_DATABASE_URL"])
    from bench.common import setup_django

    setup_django()
    from django.core.management import call_command
    from django.utils import timezone

    from apikeys.models import App
    from reports.params import Window
    from reports.queries import funnels, retention

    started = time.perf_counter()
    output = io.StringIO()
    call_command("seed_demo", events=args.events, days=args.days, seed=1, stdout=output)
    seconds = time.perf_counter() - started
    peak_mb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024

    app = App.objects.get(name="Demo shop")
    now = timezone.now()
    steps = ["view_pricing", "signup_started", "signup_completed", "purchase"]
    utc = ZoneInfo("UTC")
    funnel = funnels.funnel(
        app_id=app.pk,
        window=Window(now - timedelta(days=args.days + 1), now + timedelta(minutes=1), utc),
        steps=[funnels.FunnelStep(name) for name in steps],
        window_seconds=(args.days + 1) * 86400,
    )
    cohorts = retention.retention(
        app_id=app.pk,
        window=Window(now - timedelta(weeks=8), now - timedelta(weeks=4), utc),
        cohort_event=None,
        return_event=None,
        period="week",
        periods=3,  # every cohort below is old enough to have all of them
    )
    cohorts = [cohort for cohort in cohorts.cohorts if cohort.size]
    size = sum(cohort.size for cohort in cohorts)

    print(f"machine: {machine()}")
    print(f"database: PostgreSQL ({os.environ['DATABASE_URL'].rpartition('/')[2]})")
    print(f"seed_demo --events {args.events:,} --days {args.days}: {seconds:.0f} s, peak RSS {peak_mb:.0f} MB")
    print(f"  {output.getvalue().strip().splitlines()[-1]}")
    print(f"  rows in the table: {app.events.count():,} ({app.events.count() / seconds:,.0f} events/s)")
    print("sign-up funnel over the whole range (users per step, conversion from start):")
    for step in funnel.steps:
        print(f"  {step.event:<18}{step.count:>9,}{step.conversion_from_start:>8.1%}")
    print(f"weekly retention of the {len(cohorts)} cohorts that started 8 to 4 weeks ago ({size:,} users):")
    for period in range(4):
        retained = sum(cohort.periods[period].users for cohort in cohorts)
        print(f"  week {period}: {retained:>8,} users, {retained / size:.1%}")


if __name__ == "__main__":
    main()
