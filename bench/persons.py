"""What counting persons costs the reports: each report with the person join, against the same report
counting distinct ids as before persons existed, same data, same run, interleaved.

    .venv/bin/python bench/persons.py [--store postgresql|clickhouse|both] [--linked 0.3] [--runs 7]

Data: whatever bench/reports.py last loaded into each store (run it first). A share (--linked) of the
queried app's distinct ids is linked in pairs, as anonymous ids joining a user's person would be: in the
Django database (persons) and in ClickHouse's person_ids, and removed again at the end, so
bench/reports.py's independent figures (distinct ids) still hold. Each report
(the four everyday ones for their default 30 days, a 3-step funnel, weekly retention, active users)
runs through the reports' own code, first with persons and then as ids, the order alternating each
round; two warm-up rounds are dropped; medians.

The linked persons get a `plan` property (free, pro, team in turn), and `breakdown?by=person.plan` is
timed as well: each event's person's current value, a lookup per event. Without persons there is no
such breakdown, so its "ids" figure is `breakdown?by=browser` counted by distinct id: what a breakdown
by a column costs.
"""

import argparse
import sys
import time
from pathlib import Path
from unittest import mock
from zoneinfo import ZoneInfo

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from django.db import connection
from django.test import override_settings
from django.utils import timezone

import bench.reports  # noqa: F401  (sets up Django on the benchmark's database)
from apikeys.models import App
from bench.common import machine, median_ms
from bench.report_data import APP_NAME, clickhouse_client
from bench.reports import report_calls
from persons import mirror
from persons.models import Person, PersonDistinctId
from reports.dialect.clickhouse import ClickHouse
from reports.dialect.django import DjangoDatabase
from reports.params import report_window
from reports.queries import active_users, rankings, retention

WARM_UP = 2
PLANS = ("free", "pro", "team")


def unlink(app: App, store) -> None:
    Person.objects.filter(app=app).delete()  # and its mappings
    if store is not None:
        store.execute(f"TRUNCATE TABLE {store.database}.person_ids")  # the benchmark's own database


def link(app: App, share: float, store) -> int:
    """Pair up ``share`` of the app's distinct ids: the second of each pair joins the first's person."""
    with connection.cursor() as cursor:
        cursor.execute("SELECT DISTINCT distinct_id FROM events_event WHERE app_id = %s ORDER BY 1", [app.id])
        ids = [distinct for (distinct,) in cursor.fetchall()]
    chosen = ids[: int(len(ids) * share) // 2 * 2]
    unlink(app, store)
    people = Person.objects.bulk_create(
        Person(app=app, key=key, is_identified=True, properties={"plan": PLANS[number % len(PLANS)]})
        for number, key in enumerate(chosen[0::2])
    )
    mappings = []
    for person, other in zip(people, chosen[1::2], strict=True):
        mappings += [
            PersonDistinctId(app=app, distinct_id=person.key, person=person, person_key=person.key),
            PersonDistinctId(app=app, distinct_id=other, person=person, person_key=person.key),
        ]
    PersonDistinctId.objects.bulk_create(mappings, batch_size=10_000)
    if store is not None:
        mirror.write(mappings, client=store)
    with connection.cursor() as cursor:
        cursor.execute("ANALYZE persons_persondistinctid")  # as autovacuum would soon after such a change
    return len(ids)


def as_ids():
    """The dialects as before persons: every distinct id a user of its own."""
    plain = {
        "join_persons": lambda self, source, alias: f"{source} {alias}",
        "person": lambda self, alias="e": f"{alias}.distinct_id",
    }
    patches = [
        mock.patch.object(dialect, name, plan)
        for dialect in (DjangoDatabase, ClickHouse)
        for name, plan in plain.items()
    ]
    # Each id its own person, keeping the app parameter the statement passes.
    patches.append(
        mock.patch.object(
            DjangoDatabase,
            "ids_of_persons",
            lambda self,
            persons: f"SELECT k.person, k.person AS distinct_id FROM {persons} k WHERE CAST(%s AS TEXT) <> ''",
        )
    )
    return patches


def measure(calls: dict, stores: list[str], variants: tuple[str, str], runs: int, clickhouse) -> dict:
    """Seconds per (store, report, variant), the warm-up rounds dropped."""
    samples = {(store, report, variant): [] for store in stores for report in calls for variant in variants}
    for round_number in range(WARM_UP + runs):
        order = variants if round_number % 2 == 0 else tuple(reversed(variants))
        for store in stores:
            with (
                override_settings(ANALYTICS_STORE=store),
                mock.patch.object(ClickHouse, "for_settings", lambda: ClickHouse(clickhouse)),
            ):
                for report, variant_calls in calls.items():
                    for variant in order:
                        call = variant_calls[variant]
                        patches = as_ids() if variant == "ids" else []
                        for patch in patches:
                            patch.start()
                        try:
                            started = time.perf_counter()
                            call()
                            elapsed = time.perf_counter() - started
                        finally:
                            for patch in patches:
                                patch.stop()
                        if round_number >= WARM_UP:
                            samples[store, report, variant].append(elapsed)
    return samples


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--store", choices=["postgresql", "clickhouse", "both"], default="both")
    parser.add_argument("--linked", type=float, default=0.3)
    parser.add_argument("--runs", type=int, default=7)
    args = parser.parse_args()
    stores = ["postgresql", "clickhouse"] if args.store == "both" else [args.store]

    app = App.objects.get(name=APP_NAME)
    clickhouse = clickhouse_client() if "clickhouse" in stores else None
    ids = link(app, args.linked, clickhouse)
    window = report_window(start=None, end=None, tz=ZoneInfo(app.timezone), now=timezone.now())
    calls = report_calls(app.id, window)
    calls["retention (weekly)"] = lambda: retention.retention(
        app_id=app.id, window=window, cohort_event=None, return_event=None, period="week", periods=4
    )
    calls["active-users"] = lambda: active_users.active_users(app_id=app.id, window=window, event=None)
    variants = ("persons", "ids")
    calls = {report: dict.fromkeys(variants, call) for report, call in calls.items()}
    calls["breakdown?by=person.plan"] = {
        variant: lambda by=by: rankings.breakdown(app_id=app.id, window=window, event=None, by=by, limit=10)
        for variant, by in zip(variants, ("person.plan", "browser"), strict=True)
    }
    try:
        samples = measure(calls, stores, variants, args.runs, clickhouse)
    finally:
        unlink(app, clickhouse)

    print(f"machine: {machine()}")
    print(f"{ids:,} distinct ids in the app, {int(ids * args.linked) // 2 * 2:,} of them linked in pairs")
    print(f"{args.runs} rounds (after {WARM_UP} warm-up), variants alternating; the reports' own code\n")
    header = f"{'store':<12}{'report':<22}{'persons p50':>12}{'ids p50':>10}{'cost':>8}"
    print(header)
    print("-" * len(header))
    for store in stores:
        for report in calls:
            with_persons, as_before = (median_ms(samples[store, report, variant]) for variant in variants)
            print(f"{store:<12}{report:<22}{with_persons:>12.1f}{as_before:>10.1f}{with_persons / as_before:>7.2f}x")


if __name__ == "__main__":
    main()
